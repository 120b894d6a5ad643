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


# --- security review 2026-11-26: the probes of findings 4, 5, 6 and 7, through the gateway into moto ---

def _signed(gateway, cred, method, path, service, headers, body=b"", payload=None):
    """A botocore-signed AWSRequest (repeated headers allowed: botocore joins them with ',' when signing)."""
    from botocore.auth import SigV4Auth
    req = AWSRequest(method=method, url=f"{gateway.url}{path}", data=body)
    for name, value in headers:
        req.headers[name] = value   # HTTPHeaders appends: a repeated name stays repeated
    creds = Credentials(cred["AccessKeyId"], cred["SecretAccessKey"], cred.get("SessionToken"))
    signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, REGION)
    if payload is not None:
        signer.payload = lambda _r: payload
    signer.add_auth(req)
    return req


def _send_raw(gateway, req, body=b""):
    """Sends every header line as signed, repeated ones included (requests would merge them)."""
    import http.client
    from urllib.parse import urlsplit
    u = urlsplit(req.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest(req.method, u.path + (f"?{u.query}" if u.query else ""), skip_host=True, skip_accept_encoding=True)
    for name, value in req.headers.items():
        conn.putheader(name, value)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    r = conn.getresponse()
    out = (r.status, r.read().decode(errors="replace"))
    conn.close()
    return out


def test_review_repeated_target_is_refused(gateway, agent):
    """Finding 5: two X-Amz-Target headers (DescribeTable, DeleteTable), both signed: refused, the table survives."""
    ddb = gateway.client(agent, "dynamodb")
    table = f"t{uuid.uuid4().hex[:8]}"
    ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    body = ('{"TableName":"%s"}' % table).encode()
    req = _signed(gateway, agent, "POST", "/", "dynamodb", [
        ("Content-Type", "application/x-amz-json-1.0"), ("Host", f"127.0.0.1:{gateway.port}"),
        ("X-Amz-Target", "DynamoDB_20120810.DescribeTable"), ("X-Amz-Target", "DynamoDB_20120810.DeleteTable")], body)
    assert len(req.headers.get_all("X-Amz-Target")) == 2
    status, text = _send_raw(gateway, req, body)
    assert status == 400 and "InvalidRequest" in text and "x-amz-target" in text, text
    assert table in ddb.list_tables()["TableNames"]


def test_review_presigned_put_with_unsigned_copy_source_is_refused(gateway, agent, bucket):
    """Finding 6: a presigned PUT URL plus an unsigned x-amz-copy-source must not become CopyObject."""
    s3 = gateway.client(agent, "s3", signature_version="s3v4")
    s3.put_object(Bucket=bucket, Key="src/secret", Body=b"TOPSECRET")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "dst/drop"}, ExpiresIn=300)
    r = requests.put(url, data=b"", headers={"x-amz-copy-source": f"/{bucket}/src/secret"}, timeout=30)
    assert r.status_code == 403 and "AccessDenied" in r.text and "not signed" in r.text, r.text
    assert not exists(s3, bucket, "dst/drop")
    # the same URL without the extra header still works
    r = requests.put(url, data=b"legit", timeout=30)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="dst/drop")["Body"].read() == b"legit"


def test_review_unsigned_payload_outside_s3_is_refused(gateway, agent):
    """Finding 7: an IAM request signed with UNSIGNED-PAYLOAD over one body, sent with another body: refused."""
    iam = gateway.client(agent, "iam")
    user = f"injected{uuid.uuid4().hex[:6]}"
    signed_body = b"Action=ListUsers&Version=2010-05-08"
    req = _signed(gateway, agent, "POST", "/", "iam", [
        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Host", f"127.0.0.1:{gateway.port}"),
        ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")], signed_body, payload="UNSIGNED-PAYLOAD")
    status, text = _send_raw(gateway, req, f"Action=CreateUser&UserName={user}&Version=2010-05-08".encode())
    assert status == 400 and "InvalidRequest" in text, text
    assert user not in [u["UserName"] for u in iam.list_users()["Users"]]


def test_review_virtual_hosted_host_identifies_what_the_upstream_runs(gateway, agent):
    """Finding 4: DELETE /victim with Host xbucket.s3.amazonaws.com runs upstream as DeleteBucket victim (the path
    is forwarded unchanged); the ledger must say DeleteBucket victim, never DeleteObject xbucket/victim."""
    s3 = gateway.client(agent, "s3")
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=victim)
    req = _signed(gateway, agent, "DELETE", f"/{victim}", "s3", [("Host", "xbucket.s3.amazonaws.com")])
    r = requests.delete(req.url, headers=dict(req.headers.items()), timeout=30)
    if r.status_code in (400, 403):   # a gateway that refuses Hosts outside its base domain: nothing happened
        assert victim in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        return
    requested = [e for e in gateway.events() if e.get("type") == "call.requested" and e.get("path") == f"/{victim}"
                 and e.get("method") == "DELETE"]
    assert requested, gateway.log_tail()
    assert requested[-1]["operation"] == "DeleteBucket", requested[-1]
    assert all("xbucket" not in res for res in requested[-1].get("resources", [])), requested[-1]
    if r.status_code == 204:   # forwarded: the upstream did what the ledger says
        assert victim not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_review_case_variant_action_is_denied_under_guardrails(moto, tmp_path):
    from conftest import Gateway
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret,
                 config={"deny": [{"action": "iam:CreateUser", "reason": "no new identities"}]})
    try:
        cred = gw.issue("agent-case")
        user = f"case{uuid.uuid4().hex[:6]}"
        body = f"Action=createUser&UserName={user}&Version=2010-05-08".encode()
        req = _signed(gw, cred, "POST", "/", "iam", [
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Host", f"127.0.0.1:{gw.port}")], body)
        r = requests.post(req.url, data=body, headers=dict(req.headers.items()), timeout=30)
        assert r.status_code == 403 and "AccessDenied" in r.text, (r.status_code, r.text[:300])
    finally:
        gw.stop()
