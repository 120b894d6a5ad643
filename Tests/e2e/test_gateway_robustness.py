"""Gateway robustness (security review findings 1 and 2): the agent's streamed body is read by one task only,
so an upstream that answers before the body has ended cannot crash the gateway; and the end of a streamed
body is verified before the upstream gets its last bytes, so a body that fails verification never completes
upstream. Requests are sent over a raw HTTP connection so the last bytes can be delayed."""
import hashlib
import hmac
import http.client
import select
import socket
import time
import uuid

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import REGION, Gateway, RawUpstream

EMPTY = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _sign(base_url, cred, method, path, headers, payload_hash):
    """Signed request headers (S3 rules) with `payload_hash` as x-amz-content-sha256."""
    req = AWSRequest(method=method, url=base_url + path, headers=headers)
    signer = S3SigV4Auth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), "s3", REGION)
    signer.payload = lambda _r: payload_hash
    signer.add_auth(req)
    return req


def chunked_body(cred, req, data: bytes, chunk=65536) -> bytes:
    """The aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) for the signed request `req`."""
    amz_date = req.headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    prev = req.headers["Authorization"].split("Signature=")[1]
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + cred["SecretAccessKey"]).encode(), amz_date[:8]), REGION), "s3"),
              "aws4_request")
    body = b""
    for piece in [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY, hashlib.sha256(piece).hexdigest()])
        prev = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        body += f"{len(piece):x};chunk-signature={prev}\r\n".encode() + piece + b"\r\n"
    return body


def send_with_late_tail(base_url, req, body: bytes, tail: int, delay: float = 1.5, timeout: float = 30):
    """Sends the headers and all but the last `tail` bytes, waits `delay` s, then the rest.
    Returns (status, response body); tolerates the gateway closing the connection after an early answer."""
    host, port = base_url.split("://", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    conn.putrequest(req.method, req.url.split(base_url, 1)[1], skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", f"{host}:{port}")
    for name, value in req.headers.items():
        if name.lower() != "host":
            conn.putheader(name, value)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    conn.send(body[:-tail])
    time.sleep(delay)
    try:
        conn.send(body[-tail:])
    except OSError:
        pass  # the gateway answered early and closed: the response is still readable
    resp = conn.getresponse()
    text = resp.read()
    conn.close()
    return resp.status, text


def completed_for(gw: Gateway, path: str, timeout: float = 15) -> dict:
    """The call.completed event of the (last) call to `path`, waiting for the background commit."""
    deadline = time.time() + timeout
    while True:
        events = gw.events()
        ids = [e["callId"] for e in events if e.get("type") == "call.requested" and e.get("path") == path]
        done = [e for e in events if e.get("type") == "call.completed" and ids and e.get("callId") == ids[-1]]
        if done:
            return done[0]
        if time.time() > deadline:
            raise AssertionError(f"no call.completed for {path}; requested={ids}\n{gw.log_tail()}")
        time.sleep(0.2)


def moto_s3(moto):
    return boto3.client("s3", endpoint_url=moto.url, region_name=REGION,
                        aws_access_key_id=moto.admin_key_id, aws_secret_access_key=moto.admin_secret)


@pytest.fixture(scope="module")
def bucket(gateway, agent):
    name = f"robust-{uuid.uuid4().hex[:8]}"
    gateway.client(agent, "s3").create_bucket(Bucket=name)
    return name


def test_late_final_chunk_keeps_the_gateway_up(gateway, agent, moto, bucket):
    """Review probe5: the data chunks first, the final `0;chunk-signature=...` 1.5 s later."""
    data = bytes(range(256)) * 800  # 204,800 bytes
    path = f"/{bucket}/late-final-chunk"
    req = _sign(gateway.url, agent, "PUT", path, {
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "Content-Type": "application/octet-stream"}, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    body = chunked_body(agent, req, data)
    final = len(b"0;chunk-signature=") + 64 + 4
    status, text = send_with_late_tail(gateway.url, req, body, tail=final)
    assert status == 200, text
    assert gateway.proc.poll() is None, gateway.log_tail()
    # the gateway still serves, and the object is complete upstream
    assert moto_s3(moto).get_object(Bucket=bucket, Key="late-final-chunk")["Body"].read() == data
    assert gateway.client(agent, "s3").head_object(Bucket=bucket, Key="late-final-chunk")["ContentLength"] == len(data)
    done = completed_for(gateway, path)
    assert done["outcome"] == "ok" and done["status"] == 200, done


def test_late_tail_of_a_plain_signed_put_keeps_the_gateway_up(gateway, agent, moto, bucket):
    """A streamed (> 1 MiB) sha256-signed PUT whose last 100 bytes come 1.5 s late."""
    data = uuid.uuid4().bytes * (3 << 16)  # 3 MiB
    path = f"/{bucket}/late-tail"
    req = _sign(gateway.url, agent, "PUT", path, {}, hashlib.sha256(data).hexdigest())
    status, text = send_with_late_tail(gateway.url, req, data, tail=100)
    assert status == 200, text
    assert gateway.proc.poll() is None, gateway.log_tail()
    assert moto_s3(moto).get_object(Bucket=bucket, Key="late-tail")["Body"].read() == data
    done = completed_for(gateway, path)
    assert done["outcome"] == "ok" and done["status"] == 200, done


class EarlyUpstream(RawUpstream):
    """An upstream that answers (`status`) as soon as it has a request head, before reading the body."""

    ERROR = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
             b'<Message>early answer</Message><RequestId>early-1</RequestId></Error>')

    def __init__(self, status: int):
        self.status = status
        self.heads = []
        super().__init__()

    def serve(self, conn):
        """Keep-alive: answers each request right after its head, then reads (and drops) its body."""
        conn.settimeout(30)
        data = b""
        with conn:
            try:
                while True:
                    got = self.read_head(conn, data)
                    if got is None:
                        return
                    head, data = got
                    lines = head.decode().split("\r\n")
                    self.heads.append(lines[0])
                    length = next((int(v) for n, _, v in (h.partition(":") for h in lines[1:])
                                   if n.strip().lower() == "content-length"), 0)
                    ok = self.status == 200 and lines[0].startswith("PUT ")
                    text = b"" if ok else self.ERROR
                    conn.sendall((b"HTTP/1.1 200 OK\r\nETag: \"early\"\r\n" if ok else
                                  b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n")
                                 + f"x-amz-request-id: early-1\r\nContent-Length: {len(text)}\r\n\r\n".encode() + text)
                    while len(data) < length:
                        got = conn.recv(65536)
                        if not got:
                            return
                        data += got
                    data = data[length:]
            except OSError:
                return


@pytest.mark.parametrize("status", [200, 403])
def test_upstream_answering_before_the_body_ends_keeps_the_gateway_up(tmp_path, status):
    """Review finding 1 without moto's timing: the upstream answers right after the request head, while the
    agent's body is still arriving (with 200 AsyncHTTPClient keeps reading the body: the crash of probe5)."""
    upstream = EarlyUpstream(status)
    gw = Gateway(tmp_path, upstream.url, "AKIDUPSTREAMEXAMPLE", "upstream-secret-not-used")
    try:
        cred = gw.issue("agent-early", ttl="1h")
        for mode in ("plain", "chunked"):
            path = f"/bucket/early-{mode}"
            if mode == "plain":
                body = uuid.uuid4().bytes * (1 << 17)  # 2 MiB, streamed
                req = _sign(gw.url, cred, "PUT", path, {}, hashlib.sha256(body).hexdigest())
            else:
                data = bytes(range(256)) * 4096  # 1 MiB in 16 chunks
                req = _sign(gw.url, cred, "PUT", path, {
                    "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))},
                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
                body = chunked_body(cred, req, data)
            got, text = send_with_late_tail(gw.url, req, body, tail=len(body) // 3)
            assert got == status, (got, text)
            assert gw.proc.poll() is None, f"gateway died:\n{gw.log_tail()}"
            assert upstream.heads.count(f"PUT {path} HTTP/1.1") == 1, upstream.heads
            done = completed_for(gw, path)
            assert done["status"] == status, done
            if status == 403:
                assert done["outcome"] == "aws-error" and done["errorCode"] == "AccessDenied", done
        # the gateway still serves, on a new connection
        got, _ = send_with_late_tail(gw.url, _sign(gw.url, cred, "GET", "/bucket/after", {}, EMPTY), b"", tail=0, delay=0)
        assert got == 403 and gw.proc.poll() is None, gw.log_tail()  # the fake upstream answers a GET with 403
    finally:
        gw.stop()
        upstream.close()


def test_streamed_body_with_a_wrong_content_sha256_never_completes_upstream(gateway, agent, moto, bucket):
    """Review probe3: a 2 MiB PUT signed correctly over a declared x-amz-content-sha256 that is not the body's."""
    data = uuid.uuid4().bytes * (1 << 17)  # 2 MiB, streamed
    declared = hashlib.sha256(b"something else").hexdigest()
    path = f"/{bucket}/wrong-sha"
    req = _sign(gateway.url, agent, "PUT", path, {}, declared)
    status, text = send_with_late_tail(gateway.url, req, data, tail=1, delay=0.2)
    assert status == 400 and b"XAmzContentSHA256Mismatch" in text, (status, text)
    with pytest.raises(ClientError) as e:
        moto_s3(moto).head_object(Bucket=bucket, Key="wrong-sha")
    assert e.value.response["Error"]["Code"] in ("404", "NoSuchKey"), e.value.response
    done = completed_for(gateway, path)
    assert done["outcome"] == "aborted" and done["errorCode"] == "XAmzContentSHA256Mismatch", done
    assert "body verification failed" in done.get("detail", ""), done
    assert done["outcome"] != "ok"
    assert gateway.proc.poll() is None


def test_streamed_chunked_body_with_a_late_bad_final_chunk_never_completes_upstream(gateway, agent, moto, bucket):
    """Review probe4's shape: valid data chunks, then (late) a final chunk whose signature is wrong."""
    data = bytes(range(256)) * 800
    path = f"/{bucket}/bad-final"
    req = _sign(gateway.url, agent, "PUT", path, {
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))},
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    body = chunked_body(agent, req, data)
    final = len(b"0;chunk-signature=") + 64 + 4
    bad_sig = ("0" * 64).encode()
    body = body[:-final] + b"0;chunk-signature=" + bad_sig + b"\r\n\r\n"
    status, text = send_with_late_tail(gateway.url, req, body, tail=final)
    assert status in (400, 403) and b"SignatureDoesNotMatch" in text, (status, text)
    with pytest.raises(ClientError):
        moto_s3(moto).head_object(Bucket=bucket, Key="bad-final")
    done = completed_for(gateway, path)
    assert done["outcome"] == "aborted" and done["errorCode"] == "SignatureDoesNotMatch", done
    assert gateway.proc.poll() is None


def _raw_head(base_url, req, length: int, extra: dict | None = None) -> socket.socket:
    """Opens a connection and sends only the request head (declaring `length` body bytes)."""
    host, port = base_url.split("://", 1)[1].split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    lines = [f"{req.method} {req.url.split(base_url, 1)[1]} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() not in ("host", "content-length")]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()] + [f"Content-Length: {length}", "", ""]
    s.sendall("\r\n".join(lines).encode())
    return s


def _read_response(s: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        got = s.recv(65536)
        if not got:
            break
        data += got
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(l.split(b":", 1)[1]) for l in head.split(b"\r\n")[1:] if l.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        got = s.recv(65536)
        if not got:
            break
        rest += got
    return int(head.split(b" ")[1]), rest


def test_oversized_declared_body_is_refused_before_it_is_read(gateway, agent):
    """Review finding 8: a non-S3 body declared over the per-request limit (64 MiB) gets 413 at once, without a
    100 Continue and without the gateway reading (or waiting for) any of it."""
    req = _sign(gateway.url, agent, "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, EMPTY)
    auth = req.headers["Authorization"].replace("s3/aws4_request", "iam/aws4_request")  # signature need not match
    del req.headers["Authorization"]
    req.headers["Authorization"] = auth
    s = _raw_head(gateway.url, req, 100_000_000, {"Expect": "100-continue"})
    with s:
        status, text = _read_response(s)
    assert status == 413 and b"RequestEntityTooLarge" in text, (status, text)
    assert gateway.proc.poll() is None


def test_buffered_bodies_share_a_gateway_wide_budget(moto, tmp_path):
    """Review finding 8: bodies buffered before verification count against one budget (maxBufferedBody in all), as
    their bytes arrive (session 13: a declared length no longer reserves it): 700 KB of each of two 800 KB uploads do
    not fit a 1 MiB budget, so one is refused with 503 SlowDown instead of buffered."""
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, config={"maxBufferedBody": 1 << 20})
    try:
        cred = gw.issue("agent-budget", ttl="1h")
        bucket = f"budget-{uuid.uuid4().hex[:8]}"
        gw.client(cred, "s3").create_bucket(Bucket=bucket)
        data = uuid.uuid4().bytes * 50_000  # 800,000 bytes: buffered (S3, known length, <= 1 MiB)
        sha = hashlib.sha256(data).hexdigest()
        # 700 KB of each of two 800 KB uploads do not fit a 1 MiB budget: whichever is read second is refused at once
        socks = {}
        for key in ("first", "second"):
            socks[key] = _raw_head(gw.url, _sign(gw.url, cred, "PUT", f"/{bucket}/{key}", {}, sha), len(data))
            socks[key].sendall(data[:700_000])
        ready, _, _ = select.select(list(socks.values()), [], [], 20)
        assert len(ready) == 1, "one upload should be refused at once, the other held"
        refused = next(k for k, v in socks.items() if v is ready[0])
        held = "second" if refused == "first" else "first"
        with socks[refused]:
            status, text = _read_response(socks[refused])
        assert status == 503 and b"SlowDown" in text, (status, text)
        with socks[held]:
            socks[held].sendall(data[700_000:])
            status, text = _read_response(socks[held])
        assert status == 200, text
        # the budget is released: the refused upload now goes through
        status, text = send_with_late_tail(gw.url, _sign(gw.url, cred, "PUT", f"/{bucket}/{refused}", {}, sha), data,
                                           tail=1, delay=0)
        assert status == 200, text
        assert moto_s3(moto).get_object(Bucket=bucket, Key=refused)["Body"].read() == data
        denied = [e for e in gw.events() if e.get("type") == "call.denied" and e.get("path") == f"/{bucket}/{refused}"]
        assert denied and denied[0].get("code", denied[0].get("errorCode")) == "SlowDown", denied
    finally:
        gw.stop()
