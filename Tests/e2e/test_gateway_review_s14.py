"""Session 14: a request with a transfer coding other than chunked is refused, not verified and forwarded as its
coded bytes; a second SIGTERM during the drain cuts off the calls still waiting; an agent's reset ends a call of the
responder's path too."""
import gzip
import hashlib
import json
import signal
import socket
import time
import uuid

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import REGION, Gateway, run, tally_bin
from test_gateway_review_s11 import Silent, start_hanging_call
from test_gateway_review_s13 import SilentUpstream, denied_with, reset, send_raw, signed_headers, wait_until


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


def test_a_second_sigterm_cuts_off_the_drain_and_still_closes_the_ledger(tmp_path):
    """The drain waits for calls the upstream has not answered, up to drainSeconds (here 60). A second SIGTERM (an
    operator's second Ctrl-C, an orchestrator asking again) was ignored: the gateway waited the whole limit. Now it
    cuts the calls off at once, records them `aborted`, and still closes the ledger with its final checkpoint."""
    up = Silent()
    gw = Gateway(tmp_path, up.url, "AKIAUPSTREAM00000000", "upstream-secret", config={"drainSeconds": 60})
    try:
        t, result = start_hanging_call(gw, up, read_timeout=90)
        gw.proc.send_signal(signal.SIGTERM)
        time.sleep(1.5)
        assert gw.proc.poll() is None, "the first SIGTERM drains: the call is still waiting"
        started = time.time()
        gw.proc.send_signal(signal.SIGTERM)
        assert gw.proc.wait(20) == 0, gw.log_tail()
        assert time.time() - started < 10
        t.join(30)
        assert "error" in result, result
        events = gw.events()
        req = [e for e in events if e.get("type") == "call.requested" and e.get("path", "").endswith("/hang")]
        done = [e for e in events if e.get("type") == "call.completed" and e.get("callId") in {r["callId"] for r in req}]
        assert len(req) == 1 and len(done) == 1, events
        assert done[0]["outcome"] == "aborted" and "second signal" in done[0].get("detail", ""), done[0]
        log = gw.log.read_text(errors="replace")
        assert "second signal: cutting off calls" in log and "ledger closed" in log, log[-2000:]
        assert run([tally_bin(), "ledger", "verify", "--home", str(gw.home)], check=False).returncode == 0
    finally:
        gw.stop(signal.SIGKILL)
        up.close()


def test_an_agent_reset_ends_a_call_of_the_responders_path_and_its_upstream_request(tmp_path):
    """Session 13 ended plain calls when the agent's connection resets; calls through Hummingbird's responder
    (here `Expect: 100-continue`; also streamed uploads and a credential's first call) still waited for the upstream,
    up to 15 minutes, holding its connection. Now the upstream request is cancelled at once and the call recorded
    `aborted` with no status."""
    up = SilentUpstream()
    gw = Gateway(tmp_path, up.url, "AKIAUPSTREAMSILENT02", "upstream-secret")
    try:
        cred = gw.issue("agent-resets")
        body = json.dumps({"QueueUrl": f"{gw.url}/123456789012/q", "MessageBody": "m"}).encode()
        headers = signed_headers(cred, "sqs", "POST", gw.url + "/", body,
                                 {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage"})
        host, port = gw.url.split("://", 1)[1].split(":")
        sock = socket.create_connection((host, int(port)), timeout=10)
        sock.sendall(b"POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
                     + f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        assert wait_until(lambda: up.requests >= 1, 10) and up.requests == 1, gw.log_tail()
        reset(sock)
        assert wait_until(lambda: up.closed >= 1) and up.closed == 1, "the upstream request was left open"
        events = gw.events(settle=True)
        done = [e for e in events if e.get("type") == "call.completed" and e.get("operation") == "SendMessage"]
        assert len(done) == 1 and done[0]["outcome"] == "aborted", done
        assert "agent closed the connection before the upstream answered" in done[0]["detail"] and "status" not in done[0]
    finally:
        gw.stop()
        up.close()
