#!/usr/bin/python3
"""Lists a bucket's incomplete multipart uploads through the suite's S3
server with botocore's own S3 client (ListMultipartUploads, signed), one
"KEY UPLOAD_ID" line each.

    s3list.py ENDPOINT BUCKET ACCESS_KEY SECRET_KEY
"""

import sys

import botocore.session

endpoint, bucket, access, secret = sys.argv[1:5]
s3 = botocore.session.get_session().create_client(
    's3', endpoint_url=endpoint, region_name='us-east-1',
    aws_access_key_id=access, aws_secret_access_key=secret)
for u in s3.list_multipart_uploads(Bucket=bucket).get('Uploads', []):
    print(u['Key'], u['UploadId'])
