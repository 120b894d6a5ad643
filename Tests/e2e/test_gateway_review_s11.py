"""Session 11 probes of the gateway's operations and refusals, each a bug found by driving the real binary:

- The gateway log wrote agent-supplied text as is: a `%0A` in an unauthenticated presigned URL's X-Amz-Credential
  forged a whole log line (`... outcome=ok ... call`), and ESC sequences reached the operator's terminal.
- SIGTERM closed a connection with a streamed answer's tail still queued: a slow reader's download was cut off while
  the ledger recorded it complete.
- An agent that hung up mid-upload was recorded as an upstream failure (503, error log, upstream-failure metric).
- `credentials revoke` on an unreadable registry recorded nothing, so restoring a backup brought the key back.
- `credentials list` printed `[]` for a path that is not a Tally home; a deny rule's unknown key ("resource") was
  silently ignored (the deny then applied to every resource).
- Refusals carried no `Date` header, which SDKs that correct their clock after RequestTimeTooSkewed read."""
import datetime
import email.utils
import hashlib
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import REGION, Gateway, RawUpstream, run, tally_bin


def test_agent_text_cannot_forge_or_colour_log_lines(gateway):
    forged = "2026-11-27T18:40:00.000Z info tally.gateway: operation=DeleteBucket outcome=ok principal=ci-agent call"
    cred = "X%0A" + urllib.request.quote(forged, safe="") + "%0A%1B[31mY%2F20261127%2Fus-east-1%2Fs3%2Faws4_request"
    url = (f"{gateway.url}/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date=20261127T120000Z"
           f"&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature={'0' * 64}")
    try:
        urllib.request.urlopen(url, timeout=10)
        raise AssertionError("the forged request was accepted")
    except urllib.error.HTTPError as e:
        assert e.code in (400, 403), e.code
    # An STS query call whose Action holds an ESC and a newline, refused after the signature checks (an unknown action).
    deadline = time.time() + 5
    while time.time() < deadline:
        raw = gateway.log.read_bytes()
        if b"DeleteBucket" in raw:
            break
        time.sleep(0.1)
    raw = gateway.log.read_bytes()
    assert b"\x1b" not in raw, "a raw ESC byte reached the gateway log"
    lines = raw.decode(errors="replace").splitlines()
    assert not any(line.startswith("2026-11-27T18:40:00.000Z info tally.gateway: operation=DeleteBucket") for line in lines), \
        "an agent forged a log line"
    # The agent's text is in the log, escaped onto the refusal's own line.
    assert any("\\n2026-11-27T18:40:00.000Z info tally.gateway: operation=DeleteBucket" in line for line in lines), \
        gateway.log_tail()


def test_refusals_carry_a_date_header(gateway, agent, monkeypatch):
    import botocore.auth
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda *a, **k: real(*a, **k) - datetime.timedelta(minutes=30))
    seen = {}

    def keep(**kwargs):
        seen["headers"] = kwargs["http_response"].headers

    for service, call in (("sts", lambda c: c.get_caller_identity()), ("s3", lambda c: c.list_buckets()),
                          ("dynamodb", lambda c: c.list_tables())):
        client = gateway.client(agent, service)
        client.meta.events.register("after-call", keep)
        with pytest.raises(ClientError) as e:
            call(client)
        assert e.value.response["Error"]["Code"] in ("RequestTimeTooSkewed", "InvalidSignatureException"), e.value.response
        raw = seen["headers"]
        dates = [v for k, v in (raw.items() if not hasattr(raw, "_headers") else raw._headers) if k.lower() == "date"] \
            if not hasattr(raw, "getlist") else raw.getlist("Date")
        assert len(dates) == 1, (service, dict(raw))
        sent = email.utils.parsedate_to_datetime(dates[0])
        assert abs((sent - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 30, (service, dates)


def s3_creds(cred):
    return Credentials(cred["AccessKeyId"], cred["SecretAccessKey"], cred.get("SessionToken"))


def test_agent_hanging_up_mid_upload_is_aborted_not_an_upstream_failure(gateway, agent):
    s3 = gateway.client(agent, "s3")
    bucket = f"abort-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    req = AWSRequest(method="PUT", url=f"{gateway.url}/{bucket}/half", data=b"",
                     headers={"Content-Length": "5000000", "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(s3_creds(agent), "s3", REGION).add_auth(req)
    headers = dict(req.headers)
    headers["Content-Length"] = "5000000"
    headers["Host"] = f"127.0.0.1:{gateway.port}"
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
    head = f"PUT /{bucket}/half HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock.sendall(head.encode() + b"x" * 1_000_000)
    time.sleep(0.5)
    sock.close()
    deadline = time.time() + 20
    done = None
    while time.time() < deadline and done is None:
        events = gateway.events()
        ids = {e["callId"] for e in events if e.get("type") == "call.requested" and e.get("resources") and
               any(r.endswith(f"{bucket}/half") for r in e["resources"])}
        done = next((e for e in events if e.get("type") == "call.completed" and e.get("callId") in ids), None)
        time.sleep(0.2)
    assert done is not None, gateway.log_tail()
    assert done["outcome"] == "aborted" and done.get("errorCode") == "IncompleteBody", done
    assert "broke off" in done.get("detail", ""), done
    assert "upstream request failed" not in gateway.log.read_text(errors="replace")
    with pytest.raises(Exception):
        s3.head_object(Bucket=bucket, Key="half")


def test_sigterm_finishes_a_slow_download_before_closing(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret)
    try:
        cred = gw.issue("slow-reader")
        s3 = gw.client(cred, "s3", signature_version="s3v4")
        bucket = f"drain-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        size = 24 << 20
        data = bytes(range(256)) * (size // 256)
        s3.put_object(Bucket=bucket, Key="big", Body=data)
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "big"}, ExpiresIn=600)
        path = url.split(f"127.0.0.1:{gw.port}", 1)[1]
        sock = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), (head, body, url)
        started = time.time()
        signalled = False
        h = hashlib.sha256(body)
        got = len(body)
        while got < size:
            if not signalled and time.time() - started > 1.0:
                gw.proc.send_signal(signal.SIGTERM)
                signalled = True
            chunk = sock.recv(256 << 10)
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
            time.sleep(0.05)
        sock.close()
        assert signalled, "the download finished before the signal: make it slower"
        assert got == size and h.hexdigest() == hashlib.sha256(data).hexdigest(), (got, size)
        assert gw.proc.wait(30) == 0
        events = gw.events()
        reqs = {e["callId"] for e in events if e.get("type") == "call.requested" and e.get("operation") == "GetObject"}
        done = [e for e in events if e.get("type") == "call.completed" and e.get("callId") in reqs]
        assert len(done) == 1 and done[0]["outcome"] == "ok" and done[0]["bytesOut"] == size, done
    finally:
        gw.stop(signal.SIGKILL)


def test_revoke_with_an_unreadable_registry_still_records_the_revocation(moto, tmp_path):
    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home)])
    cred = json.loads(run([tally_bin(), "credentials", "issue", "--home", str(home), "--principal", "r", "--json"]).stdout)
    registry = home / "gateway" / "credentials.json"
    good = registry.read_bytes()
    registry.write_bytes(good[: len(good) // 2])
    p = run([tally_bin(), "credentials", "revoke", "--home", str(home), cred["AccessKeyId"]], check=False)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "not a valid credential registry" in p.stderr and "was recorded in the ledger" in p.stderr, p.stderr
    events = [json.loads(line) for line in run([tally_bin(), "ledger", "cat", "--home", str(home)]).stdout.splitlines()]
    revoked = [e for e in events if e.get("type") == "credential.revoked"]
    assert [e.get("accessKeyId") for e in revoked] == [cred["AccessKeyId"]], events
    # Again: already revoked in the ledger, nothing added.
    p = run([tally_bin(), "credentials", "revoke", "--home", str(home), cred["AccessKeyId"]], check=False)
    assert p.returncode == 1 and "already revoked in the ledger" in p.stderr, p.stderr
    events = [json.loads(line) for line in run([tally_bin(), "ledger", "cat", "--home", str(home)]).stdout.splitlines()]
    assert len([e for e in events if e.get("type") == "credential.revoked"]) == 1
    # An id the ledger never issued: nothing recorded, and said so.
    p = run([tally_bin(), "credentials", "revoke", "--home", str(home), "ASIATLYAAAAAAAAAAAAA"], check=False)
    assert p.returncode == 1 and "holds no credential.issued" in p.stderr, p.stderr
    # The backup restored: the ledger's revocation holds at the gateway's start.
    registry.write_bytes(good)
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, home=home)
    try:
        with pytest.raises(Exception) as refused:
            gw.client(cred, "sts").get_caller_identity()
        assert "InvalidClientTokenId" in str(refused.value) or "revoked" in str(refused.value), refused.value
    finally:
        gw.stop()


def test_credentials_list_refuses_a_path_that_is_not_a_home(tmp_path):
    not_home = tmp_path / "plain"
    not_home.mkdir()
    for path in (not_home, "/etc/passwd"):
        p = run([tally_bin(), "credentials", "list", "--home", str(path), "--json"], check=False)
        assert p.returncode == 2 and "not a Tally home" in p.stderr or "not a directory" in p.stderr, (path, p.returncode, p.stderr)
        assert p.stdout.strip() == "", p.stdout


def test_deny_rule_with_an_unknown_key_is_refused(tmp_path):
    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home)])
    for rule, needle in (({"action": "s3:PutObject", "resource": "arn:aws:s3:::secret/*"}, 'unknown key "resource"'),
                         ({"action": "s3:PutObject", "reason": 5}, '"reason" must be a string'),
                         ("s3:PutObject", "must be an object")):
        cfg = tmp_path / "cfg.json"
        cfg.write_text(json.dumps({"deny": [rule]}))
        p = subprocess.run([tally_bin(), "gateway", "--home", str(home), "--listen", "127.0.0.1:1", "--upstream",
                            "http://127.0.0.1:9", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and needle in p.stderr and "deny[0]" in p.stderr, (rule, p.returncode, p.stderr)


def test_refusals_before_the_signature_is_read_are_linked_to_the_key(gateway, agent):
    s3 = gateway.client(agent, "s3")
    bucket = f"acl-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    req = AWSRequest(method="PUT", url=f"{gateway.url}/{bucket}/k", data=b"hello",
                     headers={"X-Amz-Content-SHA256": hashlib.sha256(b"hello").hexdigest()})
    S3SigV4Auth(s3_creds(agent), "s3", REGION).add_auth(req)
    headers = dict(req.headers)
    headers["x-amz-acl"] = "public-read"  # added after signing: unsigned
    r = urllib.request.Request(f"{gateway.url}/{bucket}/k", data=b"hello", headers=headers, method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(r, timeout=10)
    assert e.value.code in (400, 403)
    denied = [ev for ev in gateway.events() if ev.get("type") == "call.denied" and "x-amz-acl" in ev.get("reason", "")]
    assert len(denied) == 1, denied
    assert denied[0].get("accessKeyId") == agent["AccessKeyId"] and denied[0].get("principal") == "agent-e2e", denied[0]
    replay = json.loads(gateway.tally("replay", agent["AccessKeyId"], "--home", str(gateway.home), "--json").stdout)
    calls = replay["calls"] if isinstance(replay, dict) else replay
    assert any("x-amz-acl" in json.dumps(c) for c in calls), replay


def test_a_malformed_scope_is_answered_in_the_named_services_format(gateway, agent):
    # Lambda is REST-JSON: its SDKs read the code from x-amzn-ErrorType / a JSON body, not from S3-style XML.
    now = datetime.datetime.now(datetime.timezone.utc)
    scope = f"{agent['AccessKeyId']}/{now:%Y%m%d}/{REGION}/lambda/aws4_requestx"
    headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
               "X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}"}
    r = urllib.request.Request(f"{gateway.url}/2015-03-31/functions", headers=headers, method="GET")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(r, timeout=10)
    body = e.value.read().decode()
    assert e.value.headers.get("x-amzn-ErrorType"), (dict(e.value.headers), body)
    assert json.loads(body), body


def test_s3_post_policy_uploads_are_refused_with_a_clear_reason(gateway, agent):
    import requests
    s3 = gateway.client(agent, "s3", signature_version="s3v4")
    bucket = f"post-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    post = s3.generate_presigned_post(bucket, "k")
    r = requests.post(post["url"], data=post["fields"], files={"file": b"x"}, timeout=10)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text and "POST-policy uploads" in r.text, r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_virtual_hosted_bucket_on_a_localhost_subdomain_is_refused(gateway, agent):
    # An SDK with virtual addressing and the endpoint http://localhost:PORT sends Host: BUCKET.localhost:PORT and the
    # key as the path: forwarded path-style, `PUT /a.txt` became CreateBucket a.txt (session 11 probe).
    s3 = gateway.client(agent, "s3")
    bucket = f"vbk-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    host = f"{bucket}.localhost:{gateway.port}"
    req = AWSRequest(method="PUT", url=f"http://{host}/a.txt", data=b"hello",
                     headers={"X-Amz-Content-SHA256": hashlib.sha256(b"hello").hexdigest()})
    S3SigV4Auth(s3_creds(agent), "s3", REGION).add_auth(req)
    headers = dict(req.headers)
    headers["Host"] = host
    r = urllib.request.Request(f"{gateway.url}/a.txt", data=b"hello", headers=headers, method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(r, timeout=10)
    body = e.value.read().decode()
    assert e.value.code == 403 and "virtual-hosted bucket Host is not supported" in body, body
    assert "a.txt" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="a.txt")


class Silent(RawUpstream):
    """An upstream that reads requests and never answers the ones for a path holding 'hang' (others get 200)."""

    def __init__(self):
        self.hung = threading.Event()
        super().__init__()

    def serve(self, c):
        buf = b""
        try:
            while True:
                got = self.read_head(c, buf)
                if got is None:
                    return
                head, buf = got
                if b"hang" in head.split(b"\r\n", 1)[0]:
                    self.hung.set()
                    while c.recv(65536):
                        pass
                    return
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            return
        finally:
            c.close()


def start_hanging_call(gw: Gateway, up: "Silent", size: int = 0, read_timeout: int = 60):
    """Starts an S3 call (a GET, or a PUT of `size` bytes) to the key `hang` on a thread and waits until the Silent
    upstream holds it; returns the thread and the dict it puts `ok` or `error` in."""
    s3 = gw.client(gw.issue("waiter"), "s3", read_timeout=read_timeout)
    result = {}

    def call():
        try:
            if size:
                s3.put_object(Bucket="b", Key="hang", Body=b"x" * size)
            else:
                s3.get_object(Bucket="b", Key="hang")
            result["ok"] = True
        except Exception as e:  # noqa: BLE001 - the error is what is checked
            result["error"] = e

    t = threading.Thread(target=call)
    t.start()
    assert up.hung.wait(20), gw.log_tail()
    return t, result


@pytest.mark.parametrize("size", [0, 3 << 20])  # a plain call, and a streamed S3 upload (the task path)
def test_shutdown_cuts_off_calls_the_upstream_never_answers_after_the_drain_limit(tmp_path, size):
    up = Silent()
    gw = Gateway(tmp_path, up.url, "AKIAUPSTREAM00000000", "upstream-secret", config={"drainSeconds": 1})
    try:
        t, result = start_hanging_call(gw, up, size)
        started = time.time()
        gw.proc.send_signal(signal.SIGTERM)
        assert gw.proc.wait(20) == 0, gw.log_tail()
        took = time.time() - started
        t.join(20)
        assert 0.9 <= took < 10, took
        events = gw.events()
        # The agent got the 503 (botocore may then retry, and find the gateway gone).
        assert "error" in result, result
        req = [e for e in events if e.get("type") == "call.requested" and e.get("path", "").endswith("/hang")]
        done = [e for e in events if e.get("type") == "call.completed" and e.get("callId") in {r["callId"] for r in req}]
        assert len(req) == 1 and len(done) == 1, events
        assert done[0]["outcome"] == "aborted" and done[0]["status"] == 503 and "drain limit" in done[0].get("detail", ""), done[0]
        assert "drain limit reached" in gw.log.read_text(errors="replace")
        assert run([tally_bin(), "ledger", "verify", "--home", str(gw.home)], check=False).returncode == 0
    finally:
        gw.stop(signal.SIGKILL)
        up.close()


def test_drain_seconds_is_checked(tmp_path):
    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home)])
    for bad in (0, -1, "30", 7200):
        cfg = tmp_path / "cfg.json"
        cfg.write_text(json.dumps({"drainSeconds": bad}))
        p = subprocess.run([tally_bin(), "gateway", "--home", str(home), "--listen", "127.0.0.1:1", "--upstream",
                            "http://127.0.0.1:9", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and "drainSeconds" in p.stderr, (bad, p.returncode, p.stderr)


def test_unsigned_requests_are_answered_in_their_apis_words(gateway):
    # S3 has no MissingAuthenticationToken: it refuses an anonymous request as AccessDenied.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{gateway.url}/some-bucket/key", timeout=10)
    body = e.value.read().decode()
    assert e.value.code == 403 and "<Code>AccessDenied</Code>" in body and "Anonymous" in body, body
    # A query API called with GET gets the query error envelope its SDK reads.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{gateway.url}/?Action=ListUsers&Version=2010-05-08", timeout=10)
    body = e.value.read().decode()
    assert "<ErrorResponse" in body and "<Code>MissingAuthenticationToken</Code>" in body, body
    # Route 53's dated paths keep their code.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{gateway.url}/2013-04-01/hostedzone", timeout=10)
    assert "MissingAuthenticationToken" in e.value.read().decode()


def test_a_refusal_closes_its_connection_and_nothing_pipelined_behind_it_runs(gateway, agent):
    from test_gateway_fastpath_review import raw_request, read_responses
    iam = gateway.client(agent, "iam")
    user = f"piped-{uuid.uuid4().hex[:8]}"
    bad = dict(agent, SecretAccessKey="wrong" + agent["SecretAccessKey"][5:])
    refused = raw_request(gateway, bad, "Action=GetCallerIdentity&Version=2011-06-15")
    behind = raw_request(gateway, agent, f"Action=CreateUser&Version=2010-05-08&UserName={user}", service="iam")
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=20)
    sock.sendall(refused + behind)
    answers = read_responses(sock, 2)
    assert [status for status, _ in answers] == [403], answers  # the refusal, then the connection closed
    sock.settimeout(5)
    assert sock.recv(1) == b"", "the connection stayed open after Connection: close"
    sock.close()
    with pytest.raises(ClientError):
        iam.get_user(UserName=user)  # the pipelined CreateUser never ran


def test_a_refused_request_with_a_trickled_body_does_not_hold_its_connection(gateway):
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=20)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        got += sock.recv(65536)
    assert got.startswith(b"HTTP/1.1 403"), got
    sock.settimeout(3)
    closed = False
    try:
        sock.sendall(b"A")
        while True:  # the rest of the refusal's body, then EOF (or a timeout: still open 3 s after the refusal)
            if sock.recv(65536) == b"":
                closed = True
                break
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    except socket.timeout:
        pass
    sock.close()
    assert closed, "a refused connection stayed open while its body trickled in"


def test_a_half_closed_plain_call_still_gets_its_answer(gateway, agent):
    from test_gateway_fastpath_review import raw_request, read_responses
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=20)
    sock.sendall(raw_request(gateway, agent, "Action=GetCallerIdentity&Version=2011-06-15"))
    sock.shutdown(socket.SHUT_WR)
    answers = read_responses(sock, 1)
    sock.close()
    assert len(answers) == 1 and answers[0][0] == 200 and b"GetCallerIdentityResult" in answers[0][1], answers


def send_put_head_expecting_100(gateway, creds, bucket, body):
    """Sends only the head of an S3 PUT of `body` to /bucket/k, signed with `creds`, with Expect: 100-continue; returns
    the socket."""
    req = AWSRequest(method="PUT", url=f"{gateway.url}/{bucket}/k", data=body,
                     headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest(), "Expect": "100-continue"})
    S3SigV4Auth(creds, "s3", REGION).add_auth(req)
    headers = dict(req.headers)
    headers["Host"] = f"127.0.0.1:{gateway.port}"
    headers["Content-Length"] = str(len(body))
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=20)
    sock.sendall(f"PUT /{bucket}/k HTTP/1.1\r\n".encode() + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
                 + b"\r\n")
    return sock


def test_one_100_continue_for_a_small_s3_body(gateway, agent):
    s3 = gateway.client(agent, "s3")
    bucket = f"cont-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    body = b"x" * 200_000
    sock = send_put_head_expecting_100(gateway, s3_creds(agent), bucket, body)
    got = b""
    while b"\r\n\r\n" not in got:
        got += sock.recv(65536)
    assert got.startswith(b"HTTP/1.1 100"), got
    sock.sendall(body)
    deadline = time.time() + 20
    while got.count(b"HTTP/1.1 ") < 2 or not got.rstrip().endswith(b">") and b"Content-Length: 0" not in got:
        if time.time() > deadline:
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
        if b"HTTP/1.1 200" in got and got.split(b"HTTP/1.1 200", 1)[1].find(b"\r\n\r\n") >= 0:
            break
    sock.close()
    assert got.count(b"HTTP/1.1 100") == 1, got
    assert b"HTTP/1.1 200" in got, got


def test_a_bad_signature_is_refused_before_100_continue(gateway, agent):
    """S3 answers Expect: 100-continue with the refusal when the signature (which covers the declared body hash) is
    wrong, so the body is never sent; the gateway sent 100 Continue, read the whole body, then refused (session 11)."""
    bucket = f"early-{uuid.uuid4().hex[:8]}"
    gateway.client(agent, "s3").create_bucket(Bucket=bucket)
    body = b"y" * 100_000
    sock = send_put_head_expecting_100(gateway, Credentials(agent["AccessKeyId"], "not-the-secret"), bucket, body)
    got = b""
    while True:  # the refusal closes the connection once written
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    sock.close()
    assert got.startswith(b"HTTP/1.1 403"), got
    assert b"HTTP/1.1 100" not in got and b"<Code>SignatureDoesNotMatch</Code>" in got, got
    denied = [e for e in gateway.events() if e.get("type") == "call.denied" and e.get("path") == f"/{bucket}/k"]
    assert len(denied) == 1 and denied[0]["errorCode"] == "SignatureDoesNotMatch" and denied[0]["stage"] == "authentication", denied
