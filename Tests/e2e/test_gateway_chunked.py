"""S3 uploads in STREAMING-AWS4-HMAC-SHA256-PAYLOAD (aws-chunked, every chunk signed), which boto3 does not
send by default: built here by hand from the SigV4 spec, then through the gateway to moto."""
import datetime
import hashlib
import hmac
import uuid

import requests

from conftest import REGION

EMPTY = hashlib.sha256(b"").hexdigest()


def _key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def signed_chunked_put(base_url: str, cred: dict, bucket: str, key: str, payload: bytes, chunk: int = 64 * 1024,
                       corrupt_chunk: int | None = None) -> requests.Response:
    headers, body = signed_chunked_request(base_url, cred, bucket, key, payload, chunk, corrupt_chunk)
    return requests.put(f"{base_url}/{bucket}/{key}", data=body, headers=headers)


def signed_chunked_request(base_url: str, cred: dict, bucket: str, key: str, payload: bytes, chunk: int = 64 * 1024,
                           corrupt_chunk: int | None = None) -> tuple[dict, bytes]:
    """The headers (without Host) and aws-chunked body of a signed-chunk PUT of `payload` to /bucket/key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{date}/{REGION}/s3/aws4_request"
    host = base_url.split("://", 1)[1]
    chunks = [payload[i:i + chunk] for i in range(0, len(payload), chunk)] + [b""]
    framed_len = sum(len(f"{len(c):x};chunk-signature=".encode()) + 64 + 2 + len(c) + 2 for c in chunks)
    headers = {
        "host": host, "x-amz-date": amz_date, "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload)),
        "content-length": str(framed_len), "content-type": "application/octet-stream",
    }
    signed = sorted(headers)
    canonical = "\n".join(["PUT", f"/{bucket}/{key}", "", *[f"{h}:{headers[h]}" for h in signed], "",
                           ";".join(signed), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = _key(cred["SecretAccessKey"], date, REGION, "s3")
    seed = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={cred['AccessKeyId']}/{scope}, "
                                f"SignedHeaders={';'.join(signed)}, Signature={seed}")
    body, prev = b"", seed
    for i, c in enumerate(chunks):
        s2s = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY, hashlib.sha256(c).hexdigest()])
        sig = hmac.new(k, s2s.encode(), hashlib.sha256).hexdigest()
        prev = sig
        if i == corrupt_chunk:
            c = bytes([c[0] ^ 1]) + c[1:]
        body += f"{len(c):x};chunk-signature={sig}\r\n".encode() + c + b"\r\n"
    assert len(body) == framed_len
    del headers["host"]
    return headers, body


def test_signed_chunks_are_verified_and_forwarded(gateway, agent, moto):
    bucket = f"chunked-{uuid.uuid4().hex[:8]}"
    s3 = gateway.client(agent, "s3")
    s3.create_bucket(Bucket=bucket)
    payload = bytes(range(256)) * 1000  # 256,000 bytes: 4 chunks of 64 KiB
    r = signed_chunked_put(gateway.url, agent, bucket, "good", payload)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="good")["Body"].read() == payload
    bad_key = "bad-" + uuid.uuid4().hex[:8]
    r = signed_chunked_put(gateway.url, agent, bucket, bad_key, payload, corrupt_chunk=2)
    assert r.status_code in (400, 403) and "SignatureDoesNotMatch" in r.text, r.text
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["good"]  # the tampered upload never completed upstream
    events = gateway.events()
    good = [e for e in events if e.get("type") == "call.requested" and e.get("path") == f"/{bucket}/good"]
    assert good and good[0]["payloadMode"] == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    bad_done = [e for e in events if e.get("type") == "call.completed" and e.get("callId") in
                {x["callId"] for x in events if x.get("path") == f"/{bucket}/{bad_key}"}]
    assert bad_done and bad_done[0]["outcome"] == "aborted" and bad_done[0]["errorCode"] == "SignatureDoesNotMatch"
