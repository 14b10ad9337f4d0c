#!/usr/bin/python3
"""A pass-through proxy in front of s3rver that checks every request's AWS
Signature Version 4 with botocore, independently of the client that made
it.  A request whose signature does not verify gets 403 and is not passed
on; one whose x-amz-content-sha256 names a hash must carry that body.

    s3proxy.py LISTEN_PORT UPSTREAM_PORT ACCESS_KEY SECRET_KEY LOG

One JSON line per request goes to LOG: method, path, query, verdict.
Test tool only: listens on 127.0.0.1.
"""

import hashlib
import http.client
import http.server
import json
import sys
import urllib.parse

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

LISTEN, UPSTREAM, ACCESS, SECRET, LOG = (int(sys.argv[1]), int(sys.argv[2]),
                                         sys.argv[3], sys.argv[4],
                                         sys.argv[5])


def verify(method, path, headers, body):
    auth = headers.get('Authorization', '')
    if not auth.startswith('AWS4-HMAC-SHA256 '):
        return 'no sigv4 authorization'
    fields = dict(kv.strip().split('=', 1)
                  for kv in auth[len('AWS4-HMAC-SHA256 '):].split(','))
    key, date, region, service, _ = fields['Credential'].split('/')
    if key != ACCESS:
        return 'unknown access key'
    signed = fields['SignedHeaders'].split(';')
    for required in ('host', 'x-amz-date'):
        if required not in signed:
            return 'header %s not signed' % required

    payload = headers.get('x-amz-content-sha256')
    if payload is None:
        return 'no x-amz-content-sha256'
    if payload != 'UNSIGNED-PAYLOAD' and \
            payload != hashlib.sha256(body).hexdigest():
        return 'x-amz-content-sha256 does not match the body'

    url = 'http://%s%s' % (headers['Host'], path)
    req = AWSRequest(method=method, url=url, data=body,
                     headers={h: headers[h] for h in signed if h in headers})
    req.context['timestamp'] = headers['x-amz-date']
    signer = S3SigV4Auth(Credentials(ACCESS, SECRET), service, region)
    canonical = signer.canonical_request(req)
    expected = signer.signature(signer.string_to_sign(req, canonical), req)
    if expected != fields['Signature']:
        return 'signature mismatch; canonical request:\n' + canonical
    return 'ok'


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        verdict = verify(self.command, self.path, self.headers, body)
        parsed = urllib.parse.urlsplit(self.path)
        with open(LOG, 'a') as f:
            f.write(json.dumps({'method': self.command, 'path': parsed.path,
                                'query': parsed.query, 'size': len(body),
                                'verdict': verdict}) + '\n')
        if verdict != 'ok':
            msg = ('<Error><Code>SignatureDoesNotMatch</Code><Message>%s'
                   '</Message></Error>' % verdict).encode()
            self.send_response(403)
            self.send_header('Content-Length', str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return

        conn = http.client.HTTPConnection('127.0.0.1', UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ('content-length', 'connection')}
        headers['Content-Length'] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ('content-length', 'connection',
                                 'transfer-encoding'):
                self.send_header(k, v)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


http.server.ThreadingHTTPServer(('127.0.0.1', LISTEN), Proxy).serve_forever()
