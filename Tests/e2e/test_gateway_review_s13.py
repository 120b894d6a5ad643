"""Session 13 probe of SigV4 verification against AWS's rules: each test fails on the build before its fix."""
import http.client
import json
import select
import socket
import struct
import time
import uuid
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import REGION, Gateway, RawUpstream


def send_raw(gateway, method: str, path: str, headers: dict, body: bytes = b"") -> tuple[int, str]:
    """Sends the request line exactly as given (no client normalises the path)."""
    u = urlsplit(gateway.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders(body or None)
    r = conn.getresponse()
    text = r.read().decode(errors="replace")
    conn.close()
    return r.status, text


def signed_headers(cred: dict, service: str, method: str, url: str, body: bytes = b"", headers: dict | None = None) -> dict:
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), service, REGION).add_auth(req)
    return dict(req.headers.items()) | {"Host": urlsplit(url).netloc}


def denied_with(gateway, marker: str) -> list[dict]:
    return [e for e in gateway.events() if e.get("type") == "call.denied" and marker in json.dumps(e)]


def test_a_non_s3_path_with_dot_segments_is_refused_not_identified_as_sent(gateway, agent, moto):
    """The signature covers `/2015-03-31/functions/NAME` (botocore and AWS remove dot segments), but the path sent is
    `.../aliases/..`: it was identified and checked as DeleteAlias and forwarded as sent, so a deny rule on
    lambda:DeleteFunction did not see the call its signature was for."""
    name = f"victim-{uuid.uuid4().hex[:6]}"
    raw = f"/2015-03-31/functions/{name}/aliases/.."
    headers = signed_headers(agent, "lambda", "DELETE", gateway.url + raw)
    # botocore signed the normal form: the request is authentic, only its path is not in normal form
    assert "aliases" not in SigV4Auth(Credentials("a", "b"), "lambda", REGION).canonical_request(
        AWSRequest(method="DELETE", url=gateway.url + raw, headers={"X-Amz-Date": "20260101T000000Z"}))
    before = moto.log_text().count(name)
    status, text = send_raw(gateway, "DELETE", raw, headers)
    assert status == 400 and "normal form" in text, (status, text)
    denied = denied_with(gateway, name)
    assert denied and denied[-1]["stage"] == "identification", denied
    assert not [e for e in gateway.events() if e.get("type") == "call.requested" and name in json.dumps(e)]
    assert moto.log_text().count(name) == before  # never forwarded
    # the same call with its normal path is identified as what was signed
    with pytest.raises(ClientError):  # no such function; moto with auth on also fails bodiless Lambda calls' SigV4
        gateway.client(agent, "lambda").delete_function(FunctionName=name)
    asked = [e for e in gateway.events() if e.get("type") == "call.requested" and name in json.dumps(e)]
    assert [e["operation"] for e in asked] == ["DeleteFunction"], asked


def test_a_session_token_sent_with_a_tally_credential_is_refused(gateway, agent, moto):
    """Tally credentials have none: a token (an AWS_SESSION_TOKEN left in the agent's environment) was ignored; AWS
    refuses a token that is not the key's."""
    stray = dict(agent, SessionToken="stray-session-token-" + uuid.uuid4().hex)
    with pytest.raises(ClientError) as e:
        gateway.client(stray, "sts").get_caller_identity()
    err = e.value.response
    assert err["Error"]["Code"] == "InvalidClientTokenId" and err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "AWS_SESSION_TOKEN" in err["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        gateway.client(stray, "s3").list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidToken"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # a presigned URL carrying a token
    s3 = gateway.client(stray, "s3", signature_version="s3v4", s3={"addressing_style": "path"})
    url = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": "any-bucket"}, ExpiresIn=300)
    assert "X-Amz-Security-Token" in url
    u = urlsplit(url)
    status, text = send_raw(gateway, "GET", u.path + "?" + u.query, {"Host": u.netloc})
    assert status == 400 and "<Code>InvalidToken</Code>" in text, text
    denied = denied_with(gateway, "session token was sent")
    assert len(denied) >= 3 and all(d["stage"] == "authentication" for d in denied), denied
    assert stray["SessionToken"] not in json.dumps(gateway.events()) and stray["SessionToken"] not in moto.log_text()
    # without the token the same credential works
    assert gateway.client(agent, "sts").get_caller_identity()["Account"]


def test_the_s3_outposts_control_plane_signs_like_any_rest_json_api(gateway, agent):
    """botocore's s3outposts client (signing name s3-outposts) signs without x-amz-content-sha256, the body hashed:
    Tally gave it S3's rules, so every SDK call was refused, and one sent with UNSIGNED-PAYLOAD went through with a body
    its signature did not cover."""
    client = gateway.client(agent, "s3outposts")
    try:
        client.list_endpoints()
    except ClientError as e:  # moto does not implement S3 on Outposts: its answer is not the point
        assert e.response["Error"]["Code"] != "InvalidRequest", e.response
    asked = [e for e in gateway.events() if e.get("type") == "call.requested" and e.get("operation") == "ListEndpoints"]
    assert asked, "the SDK's call was not forwarded"
    # the body outside the signature (UNSIGNED-PAYLOAD) is refused as for every service but S3
    body = json.dumps({"OutpostId": "op-01234567890abcdef", "SubnetId": "subnet-1", "SecurityGroupId": "sg-1"}).encode()
    req = AWSRequest(method="POST", url=gateway.url + "/S3Outposts/CreateEndpoint", data=body,
                     headers={"Content-Type": "application/json", "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})

    class Unsigned(SigV4Auth):
        def payload(self, request):
            return "UNSIGNED-PAYLOAD"

    Unsigned(Credentials(agent["AccessKeyId"], agent["SecretAccessKey"]), "s3-outposts", REGION).add_auth(req)
    headers = dict(req.headers.items()) | {"Host": urlsplit(gateway.url).netloc}
    status, text = send_raw(gateway, "POST", "/S3Outposts/CreateEndpoint", headers, body.replace(b"sg-1", b"sg-9"))
    assert status == 400 and "only accepted for S3" in text, (status, text)
    assert not [e for e in gateway.events() if e.get("type") == "call.requested" and e.get("operation") == "CreateEndpoint"]


def plain_sqs_client(gw, cred: dict):
    """An SQS client of `cred` that tries once, after a first call (answered 403 by these upstreams) has recorded the
    credential's issuance, so that its calls take the event-loop path."""
    with pytest.raises(Exception):
        gw.client(cred, "sts").get_caller_identity()
    return boto3.client("sqs", endpoint_url=gw.url, region_name=REGION, aws_access_key_id=cred["AccessKeyId"],
                        aws_secret_access_key=cred["SecretAccessKey"], config=Config(retries={"total_max_attempts": 1}))


class SQSUpstream(RawUpstream):
    """Reads requests; an SQS call goes to `sqs(conn)` (which ends the connection's service), anything else (the
    gateway's own identity lookups at start) gets a 403 at once."""

    def serve(self, conn):
        buf = b""
        while True:
            got = self.read_head(conn, buf)
            if got is None:
                return
            head, buf = got
            length = next((int(line.split(b":", 1)[1]) for line in head.lower().split(b"\r\n")
                           if line.startswith(b"content-length:")), 0)
            while len(buf) < length:
                buf += conn.recv(65536)
            buf = buf[length:]
            if b"amazonsqs." not in head.lower():
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                continue
            self.sqs(conn)
            return

    def sqs(self, conn):
        raise NotImplementedError


class SilentUpstream(SQSUpstream):
    """Never answers an SQS call and records when the gateway closes its connection (or, with `hang_up`, closes it
    as soon as the request is read)."""

    def __init__(self, hang_up: bool = False):
        self.requests = 0
        self.closed = 0
        self.hang_up = hang_up
        super().__init__()

    def sqs(self, conn):
        self.requests += 1
        if self.hang_up:
            conn.close()
            return
        while conn.recv(65536):
            pass
        self.closed += 1
        conn.close()


def wait_until(condition, seconds: float = 5.0) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline and not condition():
        time.sleep(0.02)
    return condition()


def reset(sock: socket.socket) -> None:
    """Closes `sock` with a reset (RST), as a client that gives up abruptly does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_an_agent_that_resets_its_connection_ends_its_call_and_the_upstream_request(tmp_path):
    """The upstream never answers and the agent's connection is reset: the call stayed in flight for up to 15
    minutes, holding the upstream connection, with no call.completed. (A half-close is not an agent leaving: an HTTP
    client may still read its answer; test_gateway_review_s11.)"""
    up = SilentUpstream()
    gw = Gateway(tmp_path, up.url, "AKIAUPSTREAMSILENT01", "upstream-secret")
    try:
        cred = gw.issue("agent-hangs-up")
        # a first call records the credential's issuance (it takes the responder's path, which still waits: README)
        with pytest.raises(Exception):  # the upstream's bare 403
            gw.client(cred, "sts").get_caller_identity()
        body = json.dumps({"QueueUrl": f"{gw.url}/123456789012/q", "MessageBody": "m"}).encode()
        headers = signed_headers(cred, "sqs", "POST", gw.url + "/", body,
                                 {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage"})
        u = urlsplit(gw.url)
        sock = socket.create_connection((u.hostname, u.port), timeout=10)
        request = (b"POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
                   + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        sock.sendall(request + request)  # a second one pipelined behind it
        assert wait_until(lambda: up.requests >= 1) and up.requests == 1
        reset(sock)
        assert wait_until(lambda: up.closed >= 1) and up.closed == 1, "the upstream request was left open"
        time.sleep(0.5)
        assert up.requests == 1, "the request pipelined behind the reset call was sent upstream"
        events = gw.events(settle=True)
        assert len([e for e in events if e.get("type") == "call.requested" and e.get("operation") == "SendMessage"]) == 1
        done = [e for e in events if e.get("type") == "call.completed" and e.get("operation") == "SendMessage"]
        assert len(done) == 1 and done[0]["outcome"] == "aborted", done
        assert "agent closed the connection before the upstream answered" in done[0]["detail"] and "status" not in done[0]
        token = (gw.home / "gateway" / "metrics.token").read_text().strip()
        m = requests.get(gw.url + "/_tally/metrics", headers={"Authorization": f"Bearer {token}"}).text
        assert "tally_gateway_in_flight 0" in m, m
        # sessions list tells the aborted call from the ones that completed upstream
        sessions = json.loads(gw.tally("sessions", "list", "--home", str(gw.home), "--json").stdout)
        mine = [x for x in sessions if x["session"] == cred["SessionId"]]
        assert mine and (mine[0]["forwarded"], mine[0]["failed"]) == (2, 1), mine
    finally:
        gw.stop()
        up.close()


def test_an_upstream_that_hangs_up_after_the_request_is_not_called_unreachable(tmp_path):
    """The upstream read the whole request, then closed: the agent was told "could not reach the upstream" and the
    ledger said no more, though the call may have run upstream (and the SDK's retry sent it again)."""
    up = SilentUpstream(hang_up=True)
    gw = Gateway(tmp_path, up.url, "AKIAUPSTREAMSILENT02", "upstream-secret")
    try:
        cred = gw.issue("agent-hung-up-on")
        sqs = plain_sqs_client(gw, cred)
        with pytest.raises(ClientError) as e:
            sqs.send_message(QueueUrl=f"{gw.url}/123456789012/q", MessageBody="m")
        assert "may have run upstream" in e.value.response["Error"]["Message"], e.value.response
        assert up.requests == 1
        done = [e for e in gw.events(settle=True) if e.get("type") == "call.completed" and e.get("operation") == "SendMessage"]
        assert len(done) == 1 and done[0]["outcome"] == "upstream-failure", done
        assert "after the request was sent" in done[0]["detail"], done
    finally:
        gw.stop()
        up.close()


class BreakingUpstream(SQSUpstream):
    """Answers an SQS call 200 with a 50 MB body, sends 100 KB of it and closes."""

    def sqs(self, conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 50000000\r\n\r\n"
                     + b" " * 100_000)
        conn.close()


def test_an_upstream_answer_that_breaks_off_is_not_blamed_on_the_agent(tmp_path):
    """The upstream closed in the middle of a streamed answer: the record said "the agent closed the connection"."""
    up = BreakingUpstream()
    gw = Gateway(tmp_path, up.url, "AKIAUPSTREAMBREAK001", "upstream-secret")
    try:
        cred = gw.issue("agent-broken-answer")
        sqs = plain_sqs_client(gw, cred)
        with pytest.raises(Exception):
            sqs.send_message(QueueUrl=f"{gw.url}/123456789012/q", MessageBody="m")
        done = [e for e in gw.events(settle=True) if e.get("type") == "call.completed" and e.get("operation") == "SendMessage"]
        assert len(done) == 1 and done[0]["outcome"] == "aborted", done
        assert "agent" not in done[0]["detail"] and "upstream" in done[0]["detail"], done
    finally:
        gw.stop()
        up.close()


def test_unauthenticated_requests_cannot_grow_the_metrics(gateway, agent):
    """The service label came from the credential scope before any key or signature was checked: each made-up
    service name was a new series."""
    for i in range(40):
        svc = f"madeup{uuid.uuid4().hex[:10]}"
        auth = (f"AWS4-HMAC-SHA256 Credential=AKIANOSUCHKEY0000000/20260101/us-east-1/{svc}/aws4_request, "
                f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}")
        r = requests.get(gateway.url + "/", headers={"Authorization": auth, "X-Amz-Date": "20260101T000000Z"})
        assert r.status_code in (400, 403)
    gateway.aws(agent, "sts", "get-caller-identity")
    token = (gateway.home / "gateway" / "metrics.token").read_text().strip()
    m = requests.get(gateway.url + "/_tally/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert "madeup" not in m
    assert 'tally_gateway_calls_total{service="other",outcome="denied"}' in m
    assert 'tally_gateway_calls_total{service="sts",outcome="ok"}' in m


def test_a_declared_length_alone_does_not_hold_the_body_budget(moto, tmp_path):
    """A request signed with a wrong secret for a known access key id declared a 64 MiB body and sent one byte: the
    whole gateway-wide budget was reserved from the declared length, and every other agent's buffered call got 503
    SlowDown for as long as the holder trickled. Bytes are now counted as they arrive."""
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret)
    try:
        holder, victim = gw.issue("agent-holder"), gw.issue("agent-victim")
        ddb = gw.client(victim, "dynamodb")
        ddb.list_tables()
        headers = signed_headers({"AccessKeyId": holder["AccessKeyId"], "SecretAccessKey": "not-the-secret"}, "dynamodb",
                                 "POST", gw.url + "/", b"{}",
                                 {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"})
        headers["Content-Length"] = str(64 << 20)
        u = urlsplit(gw.url)
        hold = socket.create_connection((u.hostname, u.port), timeout=30)
        hold.sendall(b"POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n{")
        time.sleep(0.5)
        assert "TableNames" in ddb.list_tables()
        s3 = gw.client(victim, "s3")
        bucket = f"budget-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"0123456789")
        hold.close()
    finally:
        gw.stop()


def test_unverified_signed_chunks_count_against_the_body_budget(moto, tmp_path):
    """A signed aws-chunked upload holds each chunk until its signature checks (up to 8 MiB): stalled just before
    their ends, N uploads held N chunks with no gateway-wide limit. They now share the buffered bodies' budget."""
    from test_gateway_chunked import signed_chunked_request
    from test_gateway_fastpath_review import read_responses
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, config={"maxBufferedBody": 1 << 20})
    try:
        cred = gw.issue("agent-chunks")
        bucket = f"chunks-{uuid.uuid4().hex[:8]}"
        gw.client(cred, "s3").create_bucket(Bucket=bucket)
        data = uuid.uuid4().bytes * 40_000  # 640,000 bytes: one signed chunk (+ the final one)
        u = urlsplit(gw.url)

        def start(key: str) -> tuple[socket.socket, bytes]:
            headers, body = signed_chunked_request(gw.url, cred, bucket, key, data, chunk=len(data))
            sock = socket.create_connection((u.hostname, u.port), timeout=30)
            sock.sendall(f"PUT /{bucket}/{key} HTTP/1.1\r\nHost: {u.netloc}\r\n".encode()
                         + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n" + body[:-200])
            return sock, body[-200:]

        # two chunks of 640,000 bytes held unverified do not fit a 1 MiB budget: whichever comes second is refused
        first, first_rest = start("first")
        second, second_rest = start("second")
        ready, _, _ = select.select([first, second], [], [], 20)
        assert len(ready) == 1, "one upload should be refused at once, the other held"
        refused = ready[0]
        held, held_rest = (second, second_rest) if refused is first else (first, first_rest)
        status, text = read_responses(refused, 1)[0]
        assert status == 503 and b"SlowDown" in text, (status, text)
        refused.close()
        held.sendall(held_rest)
        assert read_responses(held, 1)[0][0] == 200
        held.close()
        # the budget is back: the same upload goes through
        third, rest = start("third")
        third.sendall(rest)
        assert read_responses(third, 1)[0][0] == 200
        third.close()
        got = boto3.client("s3", endpoint_url=moto.url, region_name=REGION, aws_access_key_id=moto.admin_key_id,
                           aws_secret_access_key=moto.admin_secret).get_object(Bucket=bucket, Key="third")["Body"].read()
        assert got == data
    finally:
        gw.stop()


def tls_handshake(port: int, **options) -> str | None:
    """Handshakes with the gateway's TLS listener (certificate not checked: only the protocol is); the error, or None."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers(options.pop("ciphers", "DEFAULT") + ":@SECLEVEL=0")
    for name, value in options.items():
        setattr(ctx, name, value)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, ctx.wrap_socket(raw) as tls:
            tls.do_handshake()
        return None
    except (ssl.SSLError, OSError) as e:
        return str(e)


def test_the_tls_listener_takes_tls_1_2_or_newer_with_forward_secret_suites(tls_gateway):
    import ssl
    assert tls_handshake(tls_gateway.port) is None
    assert tls_handshake(tls_gateway.port, maximum_version=ssl.TLSVersion.TLSv1_2,
                         ciphers="ECDHE-RSA-AES128-GCM-SHA256") is None
    # no forward secrecy (RSA key exchange), or CBC with SHA-1: refused (NIOSSL's defaults took them)
    assert tls_handshake(tls_gateway.port, maximum_version=ssl.TLSVersion.TLSv1_2, ciphers="AES128-SHA") is not None
    assert tls_handshake(tls_gateway.port, maximum_version=ssl.TLSVersion.TLSv1_2, ciphers="AES256-GCM-SHA384") is not None
