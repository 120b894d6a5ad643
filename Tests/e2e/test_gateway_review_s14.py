"""Session 14: a request with a transfer coding other than chunked is refused, not verified and forwarded as its
coded bytes."""
import gzip
import hashlib
import uuid

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import REGION
from test_gateway_review_s13 import denied_with, send_raw


def test_a_gzip_transfer_coding_is_refused_not_forwarded_as_coded_bytes(gateway, agent, moto):
    """`Transfer-Encoding: gzip, chunked`: the HTTP layer removes only the chunked framing, so the gzip bytes were
    what the signature was checked against and what reached the upstream, stored as the object. RFC 9112 §6.1: a
    server refuses a transfer coding it does not implement (501)."""
    bucket = f"te-{uuid.uuid4().hex[:8]}"
    gateway.client(agent, "s3").create_bucket(Bucket=bucket)
    coded = gzip.compress(b"the object as the agent meant it\n" * 10)
    url = f"{gateway.url}/{bucket}/coded"
    req = AWSRequest(method="PUT", url=url, data=coded,
                     headers={"x-amz-content-sha256": hashlib.sha256(coded).hexdigest()})
    S3SigV4Auth(Credentials(agent["AccessKeyId"], agent["SecretAccessKey"]), "s3", REGION).add_auth(req)
    headers = dict(req.headers.items()) | {"Host": url.split("://", 1)[1].split("/", 1)[0],
                                          "Transfer-Encoding": "gzip, chunked"}
    body = f"{len(coded):x}\r\n".encode() + coded + b"\r\n0\r\n\r\n"
    before = moto.log_text().count(f"/{bucket}/coded")
    status, text = send_raw(gateway, "PUT", f"/{bucket}/coded", headers, body)
    assert status == 501 and "NotImplemented" in text and "Transfer-Encoding" in text, (status, text)
    assert moto.log_text().count(f"/{bucket}/coded") == before, "the coded body reached moto"
    assert denied_with(gateway, "Transfer-Encoding"), "the refusal is recorded as call.denied"
