#!/usr/bin/python3
"""The suite's S3 server: s3rver (storage) behind this proxy, which holds
every request to the S3 API reference where s3rver is lax, so that a client
bug fails a test instead of passing against a lenient server.

    s3proxy.py LISTEN_PORT UPSTREAM_PORT ACCESS_KEY SECRET_KEY LOG [CONTROL]

Authentication, on every request (403 and not passed on, as S3 answers):
  - AWS SigV4 recomputed with botocore, independently of the client; a
    malformed Authorization header is AuthorizationHeaderMalformed, not a
    dropped connection;
  - x-amz-date within 15 minutes of now (RequestTimeTooSkewed), and the
    credential scope's date is x-amz-date's;
  - x-amz-content-sha256 present and, unless UNSIGNED-PAYLOAD, the body's
    hash; UNSIGNED-PAYLOAD only on a PUT (the client sends it only for a
    file it streams; any other body is in memory and is signed).
Once verified, the request goes to s3rver unsigned (s3rver knows only its
own S3RVER key pair, so the suite's key and secret can differ).

Multipart uploads, which s3rver 3.7 only half implements, are tracked
here (AbortMultipartUpload, ListParts and ListMultipartUploads are answered
here from that state):
  - UploadPart to an unknown upload: 404 NoSuchUpload;
  - CompleteMultipartUpload without Content-Type application/xml, with a
    body that is not well-formed XML or not a CompleteMultipartUpload:
    400 MalformedXML; parts not in strictly ascending order:
    InvalidPartOrder; a part not uploaded or with another ETag:
    InvalidPart; a part but the last under 5 MiB: EntityTooSmall;
  - a completed object's ETag is S3's multipart ETag (MD5 of the parts'
    MD5s, "-N"), not s3rver's MD5 of the whole.

CONTROL, a JSON file the test may write at any time, forces failures:
  {"fail": REGEX, "status": 503}  requests whose "METHOD PATH?QUERY"
                                  matches get that status, an S3 error;
  {"hold": REGEX}                 matching requests wait, logged as held,
                                  while the file still says so, then get
                                  503 and are not passed on.
  {"damage": REGEX}               matching requests are passed on with
                                  their body's first byte flipped (a
                                  corruption on the way that the signature
                                  checked here cannot see upstream): the
                                  client must notice by the ETag.

One JSON line per request goes to LOG: method, path, query, size,
verdict ("ok" or why refused), forced ("fail", "hold", "damage" or absent),
status.
Test tool only: listens on 127.0.0.1.
"""

import calendar
import hashlib
import http.client
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

LISTEN, UPSTREAM, ACCESS, SECRET, LOG = (int(sys.argv[1]), int(sys.argv[2]),
                                         sys.argv[3], sys.argv[4],
                                         sys.argv[5])
CONTROL = sys.argv[6] if len(sys.argv) > 6 else None

MIN_PART = 5 * 1024 * 1024
NS = 'http://s3.amazonaws.com/doc/2006-03-01/'

lock = threading.Lock()
uploads = {}        # upload id: {bucket, key, initiated, parts: {n: ...}}


class Refused(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def verify(method, path, headers, body):
    auth = headers.get('Authorization', '')
    if not auth.startswith('AWS4-HMAC-SHA256 '):
        raise Refused(403, 'AccessDenied', 'no sigv4 authorization')
    try:
        fields = dict(kv.strip().split('=', 1)
                      for kv in auth[len('AWS4-HMAC-SHA256 '):].split(','))
        key, date, region, service, term = fields['Credential'].split('/')
        signed = fields['SignedHeaders'].split(';')
        signature = fields['Signature']
    except (ValueError, KeyError):
        raise Refused(403, 'AuthorizationHeaderMalformed',
                      'malformed Authorization header: %r' % auth[:200])
    if service != 's3' or term != 'aws4_request':
        raise Refused(403, 'AuthorizationHeaderMalformed',
                      'credential scope %s/%s' % (service, term))
    if key != ACCESS:
        raise Refused(403, 'InvalidAccessKeyId', 'unknown access key')
    for required in ('host', 'x-amz-date', 'x-amz-content-sha256'):
        if required not in signed:
            raise Refused(403, 'AccessDenied', 'header %s not signed'
                          % required)

    amz_date = headers.get('x-amz-date', '')
    try:
        t = calendar.timegm(time.strptime(amz_date, '%Y%m%dT%H%M%SZ'))
    except ValueError:
        raise Refused(403, 'AccessDenied', 'bad x-amz-date %r' % amz_date)
    if abs(time.time() - t) > 15 * 60:
        raise Refused(403, 'RequestTimeTooSkewed',
                      'x-amz-date %s is more than 15 minutes away'
                      % amz_date)
    if date != amz_date[:8]:
        raise Refused(403, 'AuthorizationHeaderMalformed',
                      'credential date %s is not x-amz-date\'s' % date)

    payload = headers.get('x-amz-content-sha256')
    if payload is None:
        raise Refused(400, 'InvalidRequest', 'no x-amz-content-sha256')
    if payload == 'UNSIGNED-PAYLOAD':
        if method != 'PUT':
            raise Refused(400, 'InvalidRequest',
                          'UNSIGNED-PAYLOAD on a %s: its body is in memory '
                          'and must be signed' % method)
    elif payload != hashlib.sha256(body).hexdigest():
        raise Refused(400, 'XAmzContentSHA256Mismatch',
                      'x-amz-content-sha256 does not match the body')

    url = 'http://%s%s' % (headers['Host'], path)
    req = AWSRequest(method=method, url=url, data=body,
                     headers={h: headers[h] for h in signed if h in headers})
    req.context['timestamp'] = amz_date
    signer = S3SigV4Auth(Credentials(ACCESS, SECRET), service, region)
    canonical = signer.canonical_request(req)
    expected = signer.signature(signer.string_to_sign(req, canonical), req)
    if expected != signature:
        raise Refused(403, 'SignatureDoesNotMatch',
                      'signature mismatch; canonical request:\n' + canonical)


def control():
    if not CONTROL:
        return {}
    try:
        with open(CONTROL) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def local(tag):
    return tag.rsplit('}', 1)[-1]


def xml_reply(root, children):
    def build(items):
        out = []
        for k, v in items:
            if isinstance(v, list):
                out.append('<%s>%s</%s>' % (k, build(v), k))
            else:
                out.append('<%s>%s</%s>' % (k, escape(str(v)), k))
        return ''.join(out)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<%s xmlns="%s">%s</%s>'
            % (root, NS, build(children), root)).encode()


def complete_parts(headers, body, upload):
    ctype = headers.get('Content-Type', '').split(';')[0].strip().lower()
    if ctype != 'application/xml':
        raise Refused(400, 'MalformedXML',
                      'CompleteMultipartUpload with Content-Type %r, not '
                      'application/xml' % ctype)
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise Refused(400, 'MalformedXML', 'body is not XML: %s' % e)
    if local(root.tag) != 'CompleteMultipartUpload':
        raise Refused(400, 'MalformedXML', 'root is <%s>' % local(root.tag))
    parts = []
    for p in root:
        if local(p.tag) != 'Part':
            raise Refused(400, 'MalformedXML', 'unexpected <%s>'
                          % local(p.tag))
        f = {local(c.tag): (c.text or '') for c in p}
        try:
            parts.append((int(f['PartNumber']), f['ETag']))
        except (KeyError, ValueError):
            raise Refused(400, 'MalformedXML', 'a Part without a valid '
                          'PartNumber and ETag')
    if not parts:
        raise Refused(400, 'MalformedXML', 'no Part')
    numbers = [n for n, _ in parts]
    if any(a >= b for a, b in zip(numbers, numbers[1:])):
        raise Refused(400, 'InvalidPartOrder',
                      'parts not in ascending order: %s' % numbers)
    for i, (n, etag) in enumerate(parts):
        have = upload['parts'].get(n)
        if have is None or have['etag'].strip('"') != etag.strip('"'):
            raise Refused(400, 'InvalidPart',
                          'part %d: ETag %s, uploaded %s'
                          % (n, etag, have and have['etag']))
        if i < len(parts) - 1 and have['size'] < MIN_PART:
            raise Refused(400, 'EntityTooSmall',
                          'part %d is %d bytes' % (n, have['size']))
    return parts


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, status, data=b'', headers=()):
        self.status = status
        try:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            if self.command != 'HEAD':
                self.wfile.write(data)
        except OSError:
            # the client is gone (a test killed it): still logged
            self.close_connection = True

    def error(self, status, code, message):
        self.reply(status, xml_reply('Error', [('Code', code),
                                               ('Message', message)]),
                   [('Content-Type', 'application/xml')])

    def upstream(self, body, headers=None):
        conn = http.client.HTTPConnection('127.0.0.1', UPSTREAM, timeout=60)
        skip = ('content-length', 'connection', 'authorization',
                'x-amz-content-sha256', 'x-amz-date', 'expect')
        h = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        h['Content-Length'] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.getheaders(), data

    def forward(self, body):
        status, headers, data = self.upstream(body)
        self.reply(status, data,
                   [(k, v) for k, v in headers
                    if k.lower() not in ('content-length', 'connection',
                                         'transfer-encoding')])
        return status, dict((k.lower(), v) for k, v in headers), data

    def handle_any(self):
        self.status = None
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        parsed = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        entry = {'method': self.command, 'path': parsed.path,
                 'query': parsed.query, 'size': len(body), 'verdict': 'ok'}
        try:
            verify(self.command, self.path, self.headers, body)
            self.forced(entry, parsed)
            if entry.get('forced') == 'damage' and body:
                body = bytes([body[0] ^ 0xff]) + body[1:]
            if entry.get('forced') in (None, 'damage'):
                self.route(parsed, query, body)
        except Refused as e:
            if entry.get('forced') in (None, 'damage'):
                entry['verdict'] = e.message
            self.error(e.status, e.code, e.message)
        entry['status'] = self.status
        with lock, open(LOG, 'a') as f:
            f.write(json.dumps(entry) + '\n')

    def forced(self, entry, parsed):
        ctl = control()
        what = '%s %s?%s' % (self.command, parsed.path, parsed.query)
        if ctl.get('hold') and re.search(ctl['hold'], what):
            entry['forced'] = 'hold'
            with lock, open(LOG, 'a') as f:
                f.write(json.dumps(dict(entry, verdict='held')) + '\n')
            while re.search(control().get('hold') or '^$', what):
                time.sleep(0.05)
            raise Refused(503, 'ServiceUnavailable', 'held by the test')
        if ctl.get('damage') and re.search(ctl['damage'], what):
            entry['forced'] = 'damage'
            return
        if ctl.get('fail') and re.search(ctl['fail'], what):
            entry['forced'] = 'fail'
            raise Refused(int(ctl.get('status', 503)), 'SlowDown',
                          'failed by the test')

    def route(self, parsed, query, body):
        parts = parsed.path.lstrip('/').split('/', 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ''
        upload_id = query.get('uploadId', [None])[0]
        m = self.command

        if not key:
            if m == 'GET' and 'uploads' in query:
                return self.list_uploads(bucket, query)
            return self.forward(body)

        if m == 'POST' and 'uploads' in query:
            status, _, data = self.forward(body)
            if status == 200:
                uid = ET.fromstring(data).find('.//{*}UploadId').text
                with lock:
                    uploads[uid] = {'bucket': bucket, 'key': key,
                                    'initiated': time.time(), 'parts': {}}
            return None

        if upload_id is None:
            return self.forward(body)

        with lock:
            upload = uploads.get(upload_id)
        if upload is None or (upload['bucket'], upload['key']) != (bucket,
                                                                   key):
            raise Refused(404, 'NoSuchUpload', 'no upload %s of %s'
                          % (upload_id, key))

        if m == 'PUT':
            n = int(query.get('partNumber', ['0'])[0])
            if not 1 <= n <= 10000:
                raise Refused(400, 'InvalidArgument', 'partNumber %d' % n)
            status, headers, _ = self.forward(body)
            if status == 200:
                with lock:
                    upload['parts'][n] = {'etag': headers.get('etag'),
                                          'size': len(body),
                                          'md5': hashlib.md5(body).digest(),
                                          'time': time.time()}
            return None

        if m == 'DELETE':
            with lock:
                uploads.pop(upload_id, None)
            return self.reply(204)

        if m == 'GET':
            return self.list_parts(bucket, key, upload_id, upload, query)

        if m == 'POST':
            parts = complete_parts(self.headers, body, upload)
            status, headers, data = self.upstream(body)
            if status == 200 and b'<Error>' not in data:
                with lock:
                    uploads.pop(upload_id, None)
                md5s = b''.join(upload['parts'][n]['md5'] for n, _ in parts)
                etag = '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), len(parts))
                data = re.sub(rb'<ETag>[^<]*</ETag>',
                              ('<ETag>%s</ETag>' % escape(etag)).encode(),
                              data)
            return self.reply(status, data, [('Content-Type',
                                              'application/xml')])

        raise Refused(405, 'MethodNotAllowed', 'method not allowed')

    def list_parts(self, bucket, key, upload_id, upload, query):
        marker = int(query.get('part-number-marker', ['0'])[0] or 0)
        most = int(query.get('max-parts', ['1000'])[0] or 1000)
        with lock:
            numbers = sorted(n for n in upload['parts'] if n > marker)
            page = [(n, dict(upload['parts'][n])) for n in numbers[:most]]
        truncated = len(numbers) > most
        items = [('Bucket', bucket), ('Key', key), ('UploadId', upload_id),
                 ('PartNumberMarker', marker),
                 ('NextPartNumberMarker', page[-1][0] if page else 0),
                 ('MaxParts', most),
                 ('IsTruncated', 'true' if truncated else 'false')]
        for n, p in page:
            items.append(('Part', [
                ('PartNumber', n),
                ('LastModified', time.strftime('%Y-%m-%dT%H:%M:%S.000Z',
                                               time.gmtime(p['time']))),
                ('ETag', p['etag']), ('Size', p['size'])]))
        self.reply(200, xml_reply('ListPartsResult', items),
                   [('Content-Type', 'application/xml')])

    def list_uploads(self, bucket, query):
        prefix = query.get('prefix', [''])[0]
        key_marker = query.get('key-marker', [''])[0]
        id_marker = query.get('upload-id-marker', [''])[0]
        most = int(query.get('max-uploads', ['1000'])[0] or 1000)
        with lock:
            found = sorted((u['key'], u['initiated'], uid)
                           for uid, u in uploads.items()
                           if u['bucket'] == bucket
                           and u['key'].startswith(prefix))
        if key_marker:
            found = [f for f in found
                     if f[0] > key_marker
                     or (f[0] == key_marker and id_marker
                         and f[2] > id_marker)]
        page, truncated = found[:most], len(found) > most
        items = [('Bucket', bucket), ('KeyMarker', key_marker),
                 ('UploadIdMarker', id_marker), ('Prefix', prefix),
                 ('MaxUploads', most),
                 ('IsTruncated', 'true' if truncated else 'false')]
        if truncated:
            items += [('NextKeyMarker', page[-1][0]),
                      ('NextUploadIdMarker', page[-1][2])]
        for key, initiated, uid in page:
            items.append(('Upload', [
                ('Key', key), ('UploadId', uid),
                ('Initiated', time.strftime('%Y-%m-%dT%H:%M:%S.000Z',
                                            time.gmtime(initiated)))]))
        self.reply(200, xml_reply('ListMultipartUploadsResult', items),
                   [('Content-Type', 'application/xml')])

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


if __name__ == '__main__':
    os.umask(0o022)
    Server(('127.0.0.1', LISTEN), Proxy).serve_forever()
