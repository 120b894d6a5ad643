"""A reused upstream connection that closes before answering: the gateway sends a GET again on a new
connection and records that in call.completed (upstreamAttempts 2); a PUT already written whole is
not sent again (versioned objects, conditional writes) and its call.completed says the upstream failed."""
import hashlib
import time

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import REGION, Gateway, RawUpstream
from test_gateway_fastpath_review import connect, read_responses, s3_put

UPSTREAM_SECRET = "retryUpstreamSecret000000000000000000000"


class DropFirst(RawUpstream):
    """Raw keep-alive upstream: reads each request whole; closes without answering the first request for
    a path containing 'drop'; answers everything else 200 with a 2-byte body."""

    def __init__(self):
        self.seen = []
        super().__init__()

    def serve(self, c):
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    c.close()
                    return
                buf += d
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            n = 0
            for line in lines[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    n = int(v)
            while len(rest) < n:
                rest += c.recv(65536)
            buf = rest[n:]
            method, path = lines[0].split()[0], lines[0].split()[1]
            self.seen.append((method, path))
            if "drop" in path and self.seen.count((method, path)) == 1:
                time.sleep(0.2)
                c.close()
                return
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: \"x\"\r\n\r\nok")


def s3_get(gw: Gateway, cred: dict, path: str) -> bytes:
    """A bodiless S3 GetObject signed for the gateway (a plain call)."""
    headers = {"Host": f"127.0.0.1:{gw.port}", "x-amz-content-sha256": hashlib.sha256(b"").hexdigest()}
    req = AWSRequest(method="GET", url=gw.url + path, headers=headers)
    S3SigV4Auth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), "s3", REGION).add_auth(req)
    lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in req.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def completed(gw: Gateway, method: str, path: str) -> list:
    events = gw.events(settle=True)
    ids = {e["callId"] for e in events if e.get("type") == "call.requested" and e.get("path") == path
           and e.get("method") == method}
    return [e for e in events if e.get("type") == "call.completed" and e.get("callId") in ids]


def test_a_resent_get_is_recorded_and_a_written_put_is_not_resent(tmp_path):
    up = DropFirst()
    gw = Gateway(tmp_path, up.url, "AKIAUPSTREAMRETRY001", UPSTREAM_SECRET)
    try:
        cred = gw.issue("agent-retry", ttl="1h")
        s = connect(gw)
        # Warm-up calls leave an idle keep-alive connection in this inbound connection's loop pool.
        s.sendall(s3_get(gw, cred, "/b/warm1"))
        assert read_responses(s, 1)[0][0] == 200
        s.sendall(s3_get(gw, cred, "/b/drop-get"))
        status, body = read_responses(s, 1)[0]
        assert (status, body) == (200, b"ok")
        s.sendall(s3_get(gw, cred, "/b/warm2"))
        assert read_responses(s, 1)[0][0] == 200
        s.sendall(s3_put(gw, cred, "/b/drop-put", b"x"))
        put_answer = read_responses(s, 1)
        s.close()
        assert up.seen.count(("GET", "/b/drop-get")) == 2, up.seen
        assert up.seen.count(("PUT", "/b/drop-put")) == 1, up.seen
        assert put_answer and put_answer[0][0] >= 500, put_answer

        get_done = completed(gw, "GET", "/b/drop-get")
        assert len(get_done) == 1 and get_done[0]["status"] == 200, get_done
        assert get_done[0].get("upstreamAttempts") == 2, get_done
        warm = completed(gw, "GET", "/b/warm1")
        assert len(warm) == 1 and "upstreamAttempts" not in warm[0], warm
        put_done = completed(gw, "PUT", "/b/drop-put")
        assert len(put_done) == 1 and put_done[0]["outcome"] == "upstream-failure", put_done
        assert "upstreamAttempts" not in put_done[0], put_done
    finally:
        gw.stop()
        up.close()
