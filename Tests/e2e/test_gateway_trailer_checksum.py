"""aws-chunked uploads with a checksum trailer (`x-amz-trailer: x-amz-checksum-*`, as the AWS CLI sends over TLS and
as SigV4 streaming with a signed trailer carries it): the gateway checks the declared checksum against the decoded
body (crc32, crc32c, crc64nvme, sha1, sha256) and fails closed on a mismatch with S3's 400 BadDigest, before the
upstream has the whole body; and it carries the checksum upstream. Signed-chunk uploads, which the gateway decodes,
are re-framed as STREAMING-UNSIGNED-PAYLOAD-TRAILER with the checksum trailer (what S3 and moto accept); unsigned-
trailer uploads are forwarded as they came (and checked on the side)."""
import base64
import hashlib
import hmac
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import REGION, Gateway

EMPTY = hashlib.sha256(b"").hexdigest()


def _crc_table(poly):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C, _CRC64 = _crc_table(0x82F63B78), _crc_table(0x9A6C9329AC4BC9B5)


def _crc(data: bytes, table, bits: int) -> int:
    mask = (1 << bits) - 1
    c = mask
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ mask


def checksum(algorithm: str, data: bytes) -> str:
    if algorithm == "crc32":
        raw = zlib.crc32(data).to_bytes(4, "big")
    elif algorithm == "crc32c":
        raw = _crc(data, _CRC32C, 32).to_bytes(4, "big")
    elif algorithm == "crc64nvme":
        raw = _crc(data, _CRC64, 64).to_bytes(8, "big")
    else:
        raw = hashlib.new(algorithm, data).digest()
    return base64.b64encode(raw).decode()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signed_chunked_request(url: str, cred: dict, headers: dict, signed: bool):
    """An aws-chunked PUT with its header signature (the seed of chunk signatures): STREAMING-AWS4-HMAC-SHA256-
    PAYLOAD-TRAILER when `signed`, else STREAMING-UNSIGNED-PAYLOAD-TRAILER. Returns the request, its X-Amz-Date,
    the credential scope and the signing key."""
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" if signed else "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    req = AWSRequest(method="PUT", url=url, headers=headers)
    signer = S3SigV4Auth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), "s3", REGION)
    signer.payload = lambda _r: mode
    signer.add_auth(req)
    amz_date = req.headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + cred["SecretAccessKey"]).encode(), amz_date[:8]), REGION), "s3"), "aws4_request")
    return req, amz_date, scope, key


def trailer_put(url: str, cred: dict, data: bytes, algorithm: str, value: str, signed=True, chunk=8192, declared=True):
    """PUT `data` as aws-chunked with an `x-amz-checksum-ALGORITHM: value` trailer: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-
    TRAILER (every chunk and the trailer signed) or STREAMING-UNSIGNED-PAYLOAD-TRAILER; the trailer is declared in
    x-amz-trailer unless `declared` is false."""
    name = f"x-amz-checksum-{algorithm}"
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    if declared:
        headers |= {"x-amz-trailer": name, "x-amz-sdk-checksum-algorithm": algorithm.upper()}
    req, amz_date, scope, key = signed_chunked_request(url, cred, headers, signed)
    prev = req.headers["Authorization"].split("Signature=")[1]
    body = b""
    for piece in [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]:
        if signed:
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY, hashlib.sha256(piece).hexdigest()])
            prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            body += f"{len(piece):x};chunk-signature={prev}\r\n".encode()
        else:
            body += f"{len(piece):x}\r\n".encode()
        body += piece + (b"\r\n" if piece else b"")
    body += f"{name}:{value}\r\n".encode()
    if signed:
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev,
                         hashlib.sha256(f"{name}:{value}\n".encode()).hexdigest()])
        body += f"x-amz-trailer-signature:{hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()}\r\n".encode()
    body += b"\r\n"
    send = dict(req.headers)
    send["Content-Length"] = str(len(body))
    return requests.put(url, data=body, headers=send, timeout=120)


@pytest.fixture(scope="module")
def bucket(gateway, agent):
    name = f"trailer-{uuid.uuid4().hex[:10]}"
    gateway.client(agent, "s3").create_bucket(Bucket=name)
    return name


def stored(s3, bucket, key) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError:
        return False


@pytest.mark.parametrize("algorithm", ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"])
def test_signed_trailer_checksum_is_verified_and_reaches_moto(gateway, agent, bucket, algorithm):
    data = bytes(range(256)) * 300 + algorithm.encode()  # 76,800+ bytes: ten 8 KiB chunks
    value = checksum(algorithm, data)
    r = trailer_put(f"{gateway.url}/{bucket}/{algorithm}.bin", agent, data, algorithm, value)
    assert r.status_code == 200, r.text
    s3 = gateway.client(agent, "s3")
    head = s3.head_object(Bucket=bucket, Key=f"{algorithm}.bin", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm.upper()}"] == value
    assert s3.get_object(Bucket=bucket, Key=f"{algorithm}.bin")["Body"].read() == data


@pytest.mark.parametrize("signed", [True, False], ids=["signed-chunks", "unsigned-trailer"])
def test_a_wrong_trailer_checksum_is_refused_with_bad_digest_and_not_stored(gateway, agent, bucket, signed):
    data = b"payload the checksum does not match " * 3000
    key = f"bad-{'s' if signed else 'u'}-{uuid.uuid4().hex[:6]}"
    r = trailer_put(f"{gateway.url}/{bucket}/{key}", agent, data, "crc32", checksum("crc32", data + b"!"), signed=signed)
    assert r.status_code == 400 and "<Code>BadDigest</Code>" in r.text, r.text
    assert "The CRC32 you specified did not match the calculated checksum." in r.text
    assert not stored(gateway.client(agent, "s3"), bucket, key), "a body whose checksum fails must not be stored"
    events = gateway.events()
    ids = {e["callId"] for e in events if e.get("type") == "call.requested" and e.get("path") == f"/{bucket}/{key}"
           and e.get("method") == "PUT"}
    done = [e for e in events if e.get("type") == "call.completed" and e.get("callId") in ids]
    assert len(done) == 1 and done[0]["outcome"] == "aborted" and done[0]["errorCode"] == "BadDigest", done


def test_an_undeclared_checksum_trailer_is_refused_and_not_stored(gateway, agent, bucket):
    """Session 13 probe: with no x-amz-trailer, an unsigned-trailer upload's (wrong) checksum trailer was forwarded
    unchecked and the object stored."""
    data = b"payload with a trailer nobody declared " * 3000
    key = f"undeclared-{uuid.uuid4().hex[:6]}"
    r = trailer_put(f"{gateway.url}/{bucket}/{key}", agent, data, "crc32", checksum("crc32", data + b"!"), signed=False,
                    declared=False)
    assert r.status_code == 400 and "<Code>InvalidRequest</Code>" in r.text and "not declared" in r.text, r.text
    assert not stored(gateway.client(agent, "s3"), bucket, key)


@pytest.mark.parametrize("size", [3000, 2 << 20], ids=["buffered", "streamed"])
def test_a_wrong_checksum_header_is_refused_with_bad_digest(gateway, agent, bucket, size):
    """boto3 over HTTP sends a given checksum as an x-amz-checksum-* header: checked against a buffered body before
    forwarding, or against a streamed one (over 1 MiB) before its last bytes go upstream."""
    s3 = gateway.client(agent, "s3")
    data = bytes(range(256)) * (size // 256)
    key = f"hdr-{size}-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key=key, Body=data, ChecksumCRC32=checksum("crc32", data + b"!"))
    assert e.value.response["Error"]["Code"] == "BadDigest", e.value.response
    assert not stored(s3, bucket, key)
    events = gateway.events()
    puts = [x for x in events if x.get("path") == f"/{bucket}/{key}" and x.get("method") == "PUT"
            and x.get("type") in ("call.requested", "call.denied")]
    assert len(puts) == 1 and puts[0]["operation"] == "PutObject"
    if size < 1 << 20:
        assert puts[0]["type"] == "call.denied" and puts[0]["errorCode"] == "BadDigest"  # never forwarded
    else:
        done = [x for x in events if x.get("type") == "call.completed" and x.get("callId") == puts[0]["callId"]]
        assert done[0]["outcome"] == "aborted" and done[0]["errorCode"] == "BadDigest"
    # the right checksum (botocore computes it and names the algorithm, which moto needs to store it)
    s3.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256")
    assert s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")["ChecksumSHA256"] == checksum("sha256", data)


def test_an_unsupported_checksum_trailer_is_refused_before_forwarding(gateway, agent, bucket, moto):
    data = b"x" * 1000
    seen = moto.log_text().count("\n")
    r = trailer_put(f"{gateway.url}/{bucket}/md5.bin", agent, data, "md5", base64.b64encode(hashlib.md5(data).digest()).decode())
    assert r.status_code == 400 and "InvalidRequest" in r.text and "x-amz-checksum-md5" in r.text, r.text
    assert moto.log_text().count("\n") == seen


def test_aws_cli_over_tls_unsigned_trailer_checksum(tls_gateway, moto, tmp_path):
    """The real AWS CLI over HTTPS sends STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer (capture 12): the
    gateway checks it and forwards it; moto reports the same CRC32."""
    cred = tls_gateway.issue("agent-trailer-tls")
    bucket = f"tls-trailer-{uuid.uuid4().hex[:8]}"
    tls_gateway.aws(cred, "s3", "mb", f"s3://{bucket}")
    data = bytes(range(251)) * 4000
    f = tmp_path / "up.bin"
    f.write_bytes(data)
    tls_gateway.aws(cred, "s3", "cp", str(f), f"s3://{bucket}/up.bin")
    p = tls_gateway.aws(cred, "s3api", "head-object", "--bucket", bucket, "--key", "up.bin", "--checksum-mode", "ENABLED")
    assert '"ChecksumCRC32": "' + checksum("crc32", data) + '"' in p.stdout, p.stdout
    requested = [e for e in tls_gateway.events() if e.get("type") == "call.requested" and e.get("path") == f"/{bucket}/up.bin"
                 and e.get("method") == "PUT"]
    assert requested and requested[-1]["payloadMode"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


class FakeS3:
    """A fake S3 on 127.0.0.1 that hands each PUT to `on_put(handler)` (which must read the body) and
    answers 200; the gateway's GetCallerIdentity at start gets 403."""

    def __init__(self, on_put):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_PUT(self):
                on_put(self)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.send_header("ETag", '"fake"')
                self.end_headers()

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class RecordingUpstream(FakeS3):
    """Records each PUT's headers and raw body."""

    def __init__(self):
        self.puts = []

        def record(h):
            headers = {k.lower(): v for k, v in h.headers.items()}
            self.puts.append((headers, h.rfile.read(int(h.headers.get("Content-Length") or 0))))
        super().__init__(record)


def test_the_upstream_gets_the_trailer_in_a_reframed_body(tmp_path):
    up = RecordingUpstream()
    gw = Gateway(tmp_path, up.url, "AKIAUPSTREAMFAKE0001", "fake-upstream-secret")
    try:
        cred = gw.issue("agent-reframe")
        data = bytes(range(256)) * 1000  # 256,000 bytes: the gateway re-frames in 64 KiB chunks
        value = checksum("crc32c", data)
        r = trailer_put(f"{gw.url}/b/k.bin", cred, data, "crc32c", value)
        assert r.status_code == 200, r.text
        headers, body = up.puts[-1]
        assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        assert headers["content-encoding"] == "aws-chunked" and headers["x-amz-trailer"] == "x-amz-checksum-crc32c"
        assert headers["x-amz-decoded-content-length"] == str(len(data))
        assert headers["x-amz-sdk-checksum-algorithm"] == "CRC32C"
        assert int(headers["content-length"]) == len(body)
        assert body.startswith(b"10000\r\n") and body.endswith(f"0\r\nx-amz-checksum-crc32c:{value}\r\n\r\n".encode())
        assert b"chunk-signature" not in body and b"x-amz-trailer-signature" not in body
        decoded, rest = b"", body
        while True:
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line, 16)
            if size == 0:
                break
            decoded += rest[:size]
            rest = rest[size + 2:]
        assert decoded == data
    finally:
        gw.stop()
        up.close()


class DiscardingUpstream(FakeS3):
    """Reads each PUT body in 1 MiB pieces and keeps only its length."""

    def __init__(self):
        self.received = []

        def discard(h):
            n, got = int(h.headers.get("Content-Length") or 0), 0
            while n > 0:
                piece = h.rfile.read(min(n, 1 << 20))
                if not piece:
                    break
                n -= len(piece)
                got += len(piece)
            self.received.append(got)
        super().__init__(discard)


def streamed_trailer_put(gw: Gateway, cred: dict, mib: int, signed: bool) -> int:
    """Streams a `mib` MiB aws-chunked upload (64 KiB chunks, CRC32 trailer) without holding it; returns the status."""
    import http.client
    block = bytes(range(256)) * 256
    n = (mib << 20) // len(block)
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(block, crc)
    value = base64.b64encode(crc.to_bytes(4, "big")).decode()
    url = f"{gw.url}/b/big.bin"
    req, amz_date, scope, key = signed_chunked_request(url, cred, {
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(n * len(block)),
        "x-amz-trailer": "x-amz-checksum-crc32"}, signed)
    block_hash = hashlib.sha256(block).hexdigest()
    trailer = f"x-amz-checksum-crc32:{value}\r\n".encode()

    def sign(prev, digest):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY, digest])
        return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()

    def pieces():
        prev = req.headers["Authorization"].split("Signature=")[1]
        for _ in range(n):
            if signed:
                prev = sign(prev, block_hash)
                yield f"{len(block):x};chunk-signature={prev}\r\n".encode() + block + b"\r\n"
            else:
                yield f"{len(block):x}\r\n".encode() + block + b"\r\n"
        if signed:
            prev = sign(prev, EMPTY)
            sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev,
                             hashlib.sha256(trailer.replace(b"\r\n", b"\n")).hexdigest()])
            yield (f"0;chunk-signature={prev}\r\n".encode() + trailer + b"x-amz-trailer-signature:"
                   + hmac.new(key, sts.encode(), hashlib.sha256).hexdigest().encode() + b"\r\n\r\n")
        else:
            yield b"0\r\n" + trailer + b"\r\n"

    chunk_head = len(f"{len(block):x};chunk-signature=") + 64 + 2 if signed else len(f"{len(block):x}\r\n")
    end = (len("0;chunk-signature=") + 64 + 2 + len(trailer) + len("x-amz-trailer-signature:") + 64 + 4 if signed
           else 3 + len(trailer) + 2)
    conn = http.client.HTTPConnection("127.0.0.1", int(gw.url.rsplit(":", 1)[1]), timeout=600)
    conn.putrequest("PUT", "/b/big.bin", skip_accept_encoding=True)
    for name, v in req.headers.items():
        conn.putheader(name, v)
    conn.putheader("Content-Length", str(n * (chunk_head + len(block) + 2) + end))
    conn.endheaders()
    for piece in pieces():
        conn.send(piece)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def peak_rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_large_trailer_uploads_stream_in_bounded_memory(tmp_path):
    """128 MiB in each mode (signed chunks re-framed; unsigned trailer passed through and checked): the gateway's peak
    RSS grows by far less than the body (a 1 GiB run is in the README)."""
    up = DiscardingUpstream()
    gw = Gateway(tmp_path, up.url, "AKIAUPSTREAMFAKE0001", "fake-upstream-secret")
    try:
        cred = gw.issue("agent-big")
        before = peak_rss_kib(gw.proc.pid)
        for signed in (True, False):
            assert streamed_trailer_put(gw, cred, 128, signed) == 200
            assert up.received[-1] > 128 << 20
        grown = peak_rss_kib(gw.proc.pid) - before
        assert grown < 48 << 10, f"peak RSS grew by {grown} KiB for 128 MiB uploads"
    finally:
        gw.stop()
        up.close()


if __name__ == "__main__":
    # Manual measurement (not collected by pytest): `TALLY_BIN=... python3 Tests/e2e/test_gateway_trailer_checksum.py 1024`
    # streams a MiB-sized upload in each mode through a gateway into a discarding upstream; prints time and peak RSS.
    import sys
    import tempfile
    import time
    from pathlib import Path
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    upstream = DiscardingUpstream()
    gateway = Gateway(Path(tempfile.mkdtemp(prefix="tally-trailer-")), upstream.url, "AKIAUPSTREAMFAKE0001", "fake-secret")
    try:
        agent_cred = gateway.issue("agent-measure")
        for signed_mode in (True, False):
            started = time.time()
            status = streamed_trailer_put(gateway, agent_cred, mib, signed_mode)
            print(f"{'signed chunks' if signed_mode else 'unsigned trailer'}: {mib} MiB -> {status} in {time.time() - started:.1f} s, "
                  f"upstream got {upstream.received[-1]} bytes, gateway peak RSS {peak_rss_kib(gateway.proc.pid) // 1024} MiB")
    finally:
        gateway.stop()
        upstream.close()
