"""SigV4 paths real CLIs in this environment do not take on their own, driven through `tally gateway` into moto:
signed aws-chunked uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, with and without a signed trailer) built here
from the S3 documentation's algorithm on top of botocore's seed signature, presigned SigV4 URLs, and keys and
prefixes with characters that exercise S3's path-as-sent canonicalization."""
import datetime
import hashlib
import hmac
import uuid

import botocore.auth
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import REGION, Gateway

EMPTY = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signed_chunked_put(gateway, cred, bucket, key, data: bytes, chunk=65536, trailer=False, tamper_chunk=None,
                       bad_trailer=False):
    """PUT with Content-Encoding aws-chunked and chunk signatures; returns the requests.Response."""
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    url = f"{gateway.url}/{bucket}/{key}"
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    if trailer:
        headers["x-amz-trailer"] = "x-amz-checksum-sha256"
    req = AWSRequest(method="PUT", url=url, headers=headers)
    creds = Credentials(cred["AccessKeyId"], cred["SecretAccessKey"], cred.get("SessionToken"))
    signer = S3SigV4Auth(creds, "s3", REGION)
    signer.payload = lambda _r: mode
    signer.add_auth(req)
    amz_date = req.headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    seed = req.headers["Authorization"].split("Signature=")[1]
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + cred["SecretAccessKey"]).encode(), amz_date[:8]), REGION), "s3"), "aws4_request")
    prev = seed
    body = b""
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for n, piece in enumerate(pieces):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY, hashlib.sha256(piece).hexdigest()])
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        prev = sig
        sent = piece
        if tamper_chunk == n and piece:
            sent = bytes([piece[0] ^ 1]) + piece[1:]
        body += f"{len(piece):x};chunk-signature={sig}\r\n".encode() + sent + (b"\r\n" if piece else b"")
    if trailer:
        import base64
        value = base64.b64encode(hashlib.sha256(data).digest()).decode()
        line = f"x-amz-checksum-sha256:{value}\n"
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev, hashlib.sha256(line.encode()).hexdigest()])
        tsig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if bad_trailer:
            tsig = "0" * 64
        body += f"x-amz-checksum-sha256:{value}\r\nx-amz-trailer-signature:{tsig}\r\n".encode()
    body += b"\r\n"
    send = dict(req.headers)
    send["Content-Length"] = str(len(body))
    return requests.put(url, data=body, headers=send, timeout=60)


@pytest.fixture(scope="module")
def bucket(gateway, agent):
    name = f"sigv4-{uuid.uuid4().hex[:10]}"
    gateway.client(agent, "s3").create_bucket(Bucket=name)
    return name


def exists(s3, bucket, key) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError:
        return False


def test_signed_chunked_upload_is_verified_and_stored(gateway, agent, bucket):
    s3 = gateway.client(agent, "s3")
    data = bytes(range(256)) * 700          # 179,200 bytes: three chunks
    r = signed_chunked_put(gateway, agent, bucket, "chunked.bin", data)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="chunked.bin")["Body"].read() == data


def test_signed_chunked_upload_with_signed_trailer(gateway, agent, bucket):
    s3 = gateway.client(agent, "s3")
    data = b"trailer payload " * 5000
    r = signed_chunked_put(gateway, agent, bucket, "trailer.bin", data, chunk=8192, trailer=True)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="trailer.bin")["Body"].read() == data


@pytest.mark.parametrize("how", ["chunk", "trailer"])
def test_bad_chunk_or_trailer_signature_is_refused(gateway, agent, bucket, how):
    s3 = gateway.client(agent, "s3")
    key = f"tampered-{how}.bin"
    data = b"x" * 200_000
    if how == "chunk":
        r = signed_chunked_put(gateway, agent, bucket, key, data, tamper_chunk=1)
    else:
        r = signed_chunked_put(gateway, agent, bucket, key, data, trailer=True, bad_trailer=True)
    assert r.status_code >= 400
    assert not exists(s3, bucket, key), "an upload with a bad signature must not be stored"


def test_presigned_sigv4_get_and_expiry(gateway, agent, bucket):
    s3v4 = gateway.client(agent, "s3", signature_version="s3v4")
    s3v4.put_object(Bucket=bucket, Key="pre.txt", Body=b"presigned body")
    url = s3v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre.txt"}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == b"presigned body"
    # an expired URL: signed 20 minutes ago for 60 seconds
    past = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)

    class Past(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return past

        @classmethod
        def now(cls, tz=None):
            return past.replace(tzinfo=tz) if tz else past

    real = botocore.auth.datetime.datetime
    botocore.auth.datetime.datetime = Past
    try:
        old = s3v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre.txt"}, ExpiresIn=60)
    finally:
        botocore.auth.datetime.datetime = real
    r = requests.get(old, timeout=30)
    assert r.status_code == 403 and b"AccessDenied" in r.content and b"expired" in r.content
    tampered = url.replace("pre.txt", "pre.txt2")
    r = requests.get(tampered, timeout=30)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content


@pytest.fixture(scope="module")
def gateway_noauth(moto_noauth, tmp_path_factory):
    """A gateway in front of a moto without IAM auth: moto 5.2.1's own SigV4 check refuses keys such as
    'caf\u00e9/\u2603.txt' or 'a+b' even from botocore directly, so these keys test Tally's verification only."""
    gw = Gateway(tmp_path_factory.mktemp("gwnoauth"), moto_noauth.url, "AKIAUPSTREAMNOAUTH01", "upstream-secret")
    yield gw
    gw.stop()


@pytest.mark.parametrize("key", ["a b/c d.txt", "caf\u00e9/\u2603.txt", "plus+equals=amp&.txt", "dir/./x/../y",
                                 "tilde~star*paren(1).txt", "percent%20literal.txt", "q?mark#hash.txt"])
def test_awkward_keys_round_trip(gateway_noauth, key):
    gateway = gateway_noauth
    cred = gateway.issue("agent-keys", ttl="1h")
    s3 = gateway.client(cred, "s3")
    bucket = "awkward-keys"
    if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key[:6])
    assert key in [o["Key"] for o in listed.get("Contents", [])]
