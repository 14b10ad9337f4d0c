#!/usr/bin/python3
"""Holds t/lib/s3proxy.py to what it promises: requests signed with
botocore's own signer, each either well-formed (must pass) or breaking one
rule of the S3 API reference (must be refused with S3's status and error
code).  Prints TAP lines ("ok N - ..." / "not ok N - ...") and a plan.

    s3proxy_check.py PORT BUCKET ACCESS_KEY SECRET_KEY
"""

import hashlib
import http.client
import re
import sys
from datetime import datetime, timedelta, timezone

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PORT, BUCKET, ACCESS, SECRET = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                                sys.argv[4])
MIB = 1024 * 1024
n = 0


def send(method, path, body=b'', headers=None, secret=SECRET, when=None,
         payload=None, auth=None):
    """a SigV4-signed request (at `when`, default now); returns
    (status, headers, body)"""
    host = '127.0.0.1:%d' % PORT
    h = dict(headers or {})
    h['x-amz-content-sha256'] = (payload if payload is not None
                                 else hashlib.sha256(body).hexdigest())
    req = AWSRequest(method=method, url='http://%s%s' % (host, path),
                     data=body, headers=h)
    signer = S3SigV4Auth(Credentials(ACCESS, secret), 's3', 'us-east-1')
    stamp = (when or datetime.now(timezone.utc)).strftime('%Y%m%dT%H%M%SZ')
    req.context['timestamp'] = stamp
    req.headers['X-Amz-Date'] = stamp
    req.headers['Host'] = host
    canonical = signer.canonical_request(req)
    signature = signer.signature(signer.string_to_sign(req, canonical), req)
    req.headers['Authorization'] = (
        'AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s'
        % (signer.scope(req),
           signer.signed_headers(signer.headers_to_sign(req)), signature))
    if auth is not None:
        req.headers['Authorization'] = auth
    conn = http.client.HTTPConnection('127.0.0.1', PORT, timeout=30)
    conn.request(method, path, body=body,
                 headers={k: v for k, v in req.headers.items()})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), \
        data


def ok(cond, name, detail=''):
    global n
    n += 1
    print('%sok %d - %s' % ('' if cond else 'not ', n, name))
    if not cond and detail:
        for line in str(detail).splitlines():
            print('# ' + line)


def refused(result, status, code, name):
    st, _, data = result
    m = re.search(rb'<Code>([^<]*)</Code>', data)
    got = m.group(1).decode() if m else None
    ok(st == status and got == code,
       '%s: %d %s' % (name, status, code), '%d %s' % (st, data[:300]))


def upload(key, sizes):
    st, _, data = send('POST', '/%s/%s?uploads=' % (BUCKET, key),
                       headers={'Content-Type': 'video/mp4'})
    uid = re.search(rb'<UploadId>([^<]+)</UploadId>', data).group(1).decode()
    etags = []
    for i, size in enumerate(sizes, 1):
        body = bytes([i]) * size
        st, h, _ = send('PUT', '/%s/%s?partNumber=%d&uploadId=%s'
                        % (BUCKET, key, i, uid), body,
                        payload='UNSIGNED-PAYLOAD')
        etags.append(h.get('etag'))
    return uid, etags


def complete_body(parts):
    return ('<CompleteMultipartUpload>%s</CompleteMultipartUpload>' % ''.join(
        '<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>' % p
        for p in parts)).encode()


def complete(key, uid, body, ctype='application/xml'):
    return send('POST', '/%s/%s?uploadId=%s' % (BUCKET, key, uid), body,
                headers={'Content-Type': ctype} if ctype else {})


key = 'check/a.mp4'
uid, etags = upload(key, [5 * MIB, 1000])
ok(all(etags) and len(etags) == 2, 'two parts uploaded', etags)
good = complete_body([(1, etags[0]), (2, etags[1])])

refused(complete(key, uid, good, 'application/x-www-form-urlencoded'),
        400, 'MalformedXML', 'Complete as a form')
refused(complete(key, uid, good, None), 400, 'MalformedXML',
        'Complete without Content-Type')
refused(complete(key, uid, b'<CompleteMultipartUpload><Part>'), 400,
        'MalformedXML', 'Complete not well-formed')
refused(complete(key, uid, b'<Other/>'), 400, 'MalformedXML',
        'Complete of another element')
refused(complete(key, uid, complete_body([(2, etags[1]), (1, etags[0])])),
        400, 'InvalidPartOrder', 'parts out of order')
refused(complete(key, uid, complete_body([(1, etags[0]), (1, etags[0]),
                                          (2, etags[1])])),
        400, 'InvalidPartOrder', 'a part twice')
refused(complete(key, uid, complete_body([(1, '"%s"' % ('0' * 32)),
                                          (2, etags[1])])),
        400, 'InvalidPart', 'a wrong ETag')
refused(complete(key, uid, complete_body([(1, etags[0]), (3, etags[1])])),
        400, 'InvalidPart', 'a part never uploaded')

small, small_etags = upload('check/small.mp4', [1000, 1000])
refused(complete('check/small.mp4', small,
                 complete_body([(1, small_etags[0]), (2, small_etags[1])])),
        400, 'EntityTooSmall', 'a part but the last under 5 MiB')

refused(send('POST', '/%s/check/b.mp4?uploads=' % BUCKET,
             payload='UNSIGNED-PAYLOAD'),
        400, 'InvalidRequest', 'UNSIGNED-PAYLOAD on a POST')
refused(send('GET', '/%s/%s?uploadId=%s' % (BUCKET, key, uid),
             payload='UNSIGNED-PAYLOAD'),
        400, 'InvalidRequest', 'UNSIGNED-PAYLOAD on a GET')
refused(send('PUT', '/%s/check/c.mp4' % BUCKET, b'abc',
             payload=hashlib.sha256(b'abd').hexdigest()),
        400, 'XAmzContentSHA256Mismatch', 'a payload hash of other bytes')
refused(send('GET', '/%s/%s' % (BUCKET, key), secret='not-the-secret'),
        403, 'SignatureDoesNotMatch', 'a wrong secret')
old = datetime.now(timezone.utc) - timedelta(minutes=16)
refused(send('GET', '/%s/%s?uploadId=%s' % (BUCKET, key, uid), when=old),
        403, 'RequestTimeTooSkewed', 'x-amz-date 16 minutes old')
recent = datetime.now(timezone.utc) - timedelta(minutes=14)
st, _, data = send('GET', '/%s/%s?uploadId=%s' % (BUCKET, key, uid),
                   when=recent)
ok(st == 200, 'x-amz-date 14 minutes old passes', '%d %s' % (st, data[:300]))
for auth in ('AWS4-HMAC-SHA256 garbage', 'AWS4-HMAC-SHA256 Credential=x',
             'AWS4-HMAC-SHA256 Credential=%s/20200101/us-east-1/s3/'
             'aws4_request, SignedHeaders=host' % ACCESS):
    refused(send('GET', '/%s/%s' % (BUCKET, key), auth=auth), 403,
            'AuthorizationHeaderMalformed', 'Authorization %r' % auth[:40])

st, _, data = send('GET', '/%s/%s?uploadId=%s' % (BUCKET, key, uid))
numbers = re.findall(rb'<PartNumber>(\d+)</PartNumber>', data)
ok(st == 200 and numbers == [b'1', b'2'], 'ListParts lists both parts',
   data[:300])

st, _, data = complete(key, uid, good)
md5s = hashlib.md5(b''.join(hashlib.md5(bytes([i]) * s).digest()
                            for i, s in ((1, 5 * MIB), (2, 1000)))).hexdigest()
ok(st == 200 and (('&quot;%s-2&quot;' % md5s).encode() in data
                  or ('"%s-2"' % md5s).encode() in data),
   'a well-formed Complete passes, with S3\'s multipart ETag',
   '%d %s' % (st, data[:300]))
refused(complete(key, uid, good), 404, 'NoSuchUpload',
        'the completed upload is gone')

st, _, _ = send('DELETE', '/%s/check/small.mp4?uploadId=%s'
                % (BUCKET, small))
ok(st == 204, 'AbortMultipartUpload: 204')
refused(send('DELETE', '/%s/check/small.mp4?uploadId=%s' % (BUCKET, small)),
        404, 'NoSuchUpload', 'an aborted upload is gone')
st, _, data = send('GET', '/%s?prefix=check%%2F&uploads=' % BUCKET)
ok(st == 200 and b'<Upload>' not in data, 'ListMultipartUploads: none left',
   data[:300])

print('1..%d' % n)
