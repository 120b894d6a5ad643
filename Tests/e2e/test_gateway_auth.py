"""Refusals: bad signatures, skewed clocks, unknown/revoked/expired keys, SigV2, guardrails — each an
AWS-style error the SDK understands, recorded as call.denied, and never seen by moto."""
import datetime
import json
import time
import uuid

import boto3
import botocore.auth
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, Gateway, run


def marker() -> str:
    return f"never-{uuid.uuid4().hex[:12]}"


def assert_not_upstream(moto, text: str):
    assert text not in moto.log_text(), f"{text} reached moto"


def denied(gateway, stage=None):
    return [e for e in gateway.events() if e.get("type") == "call.denied" and (stage is None or e.get("stage") == stage)]


def test_wrong_secret_is_signature_does_not_match(gateway, agent, moto):
    bad = dict(agent, SecretAccessKey="A" * 40)
    bucket = marker()
    with pytest.raises(ClientError) as e:
        gateway.client(bad, "s3").create_bucket(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        gateway.client(bad, "sqs").create_queue(QueueName=bucket)
    assert e.value.response["Error"]["Code"] in ("SignatureDoesNotMatch", "InvalidClientTokenId")
    p = gateway.aws(bad, "iam", "get-user", "--user-name", bucket, check=False)
    assert p.returncode != 0 and "SignatureDoesNotMatch" in p.stderr
    assert_not_upstream(moto, bucket)
    assert any(e.get("accessKeyId") == agent["AccessKeyId"] and e.get("errorCode") == "SignatureDoesNotMatch"
               for e in denied(gateway, "authentication"))


def test_skewed_clock_is_request_time_too_skewed(gateway, agent, moto, monkeypatch):
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda *a, **k: real(*a, **k) - datetime.timedelta(minutes=20))
    bucket = marker()
    with pytest.raises(ClientError) as e:
        gateway.client(agent, "s3").create_bucket(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "RequestTimeTooSkewed"
    with pytest.raises(ClientError) as e:
        gateway.client(agent, "dynamodb").describe_table(TableName=bucket)
    assert e.value.response["Error"]["Code"] in ("RequestTimeTooSkewed", "InvalidSignatureException")
    assert_not_upstream(moto, bucket)


def test_unknown_key_and_sigv2(gateway, moto):
    fake = {"AccessKeyId": "ASIATLYAAAAAAAAAAAAA", "SecretAccessKey": "x" * 40}
    p = gateway.aws(fake, "sts", "get-caller-identity", check=False)
    assert p.returncode != 0 and "InvalidClientTokenId" in p.stderr
    name = marker()
    # SigV2 query auth (what boto3 presigns for S3 by default with signature_version s3): refused, not forwarded.
    r = requests.get(f"{gateway.url}/{name}/key?AWSAccessKeyId=ASIATLYAAAAAAAAAAAAA&Expires=9999999999&Signature=abc")
    assert r.status_code in (400, 403)
    assert "<Code>" in r.text
    # No auth at all.
    r = requests.get(f"{gateway.url}/{name}")
    assert r.status_code in (400, 403)
    assert_not_upstream(moto, name)


def test_revoked_and_expired(gateway, moto):
    cred = gateway.issue("agent-revoked")
    gateway.aws(cred, "sts", "get-caller-identity")
    gateway.tally("credentials", "revoke", "--home", str(gateway.home), cred["AccessKeyId"])
    p = gateway.aws(cred, "sts", "get-caller-identity", check=False)
    assert p.returncode != 0 and "InvalidClientTokenId" in p.stderr
    short = gateway.issue("agent-expiring", ttl="60s")
    # Rewriting its registry entry into the past by hand (the secret is derived from the expiry, so a forged
    # expiry also breaks the signature check) now fails the entry's MAC (review finding 12): the whole registry is
    # refused (503) until it is restored. Expiry itself: CredentialTests / RegistryIntegrityTests (Swift).
    # (edit_registry waits until the gateway has recorded the pending revocation and issuance: its once-a-second
    # rewrite of the registry could otherwise undo this edit, which made this test flaky.)
    reg = gateway.home / "gateway" / "credentials.json"

    def backdate(doc):
        for c in doc["credentials"]:
            if c["accessKeyId"] == short["AccessKeyId"]:
                c["expiresAt"] = c["issuedAt"] - 10

    good = gateway.edit_registry(backdate)
    try:
        p = gateway.aws(short, "sts", "get-caller-identity", check=False, AWS_MAX_ATTEMPTS="1")
        assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
    finally:
        reg.write_bytes(good)
    gateway.aws(short, "sts", "get-caller-identity")
    reasons = [e.get("reason", "") for e in denied(gateway, "authentication")]
    assert any("revoked" in r for r in reasons)
    assert any("registry" in r and "MAC" in r and short["AccessKeyId"] in r for r in reasons)


def test_tampered_body_never_reaches_moto(gateway, agent, moto):
    # Sign one body, send another: the JSON protocol body is hashed by the gateway before forwarding.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    name = marker()
    req = AWSRequest(method="POST", url=gateway.url + "/", data=json.dumps({"TableName": "signed"}),
                     headers={"X-Amz-Target": "DynamoDB_20120810.DescribeTable",
                              "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(Credentials(agent["AccessKeyId"], agent["SecretAccessKey"]), "dynamodb", REGION).add_auth(req)
    headers = dict(req.headers)
    r = requests.post(gateway.url + "/", data=json.dumps({"TableName": name}), headers=headers)
    assert r.status_code in (400, 403)
    assert r.json()["__type"].split("#")[-1] in ("SignatureDoesNotMatch", "InvalidSignatureException")
    assert_not_upstream(moto, name)


def test_guardrail_deny(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret,
                 config={"deny": [{"action": "iam:Create*", "reason": "agents may not create identities"}]})
    try:
        cred = gw.issue("agent-guarded")
        user = marker()
        p = gw.aws(cred, "iam", "create-user", "--user-name", user, check=False)
        assert p.returncode != 0 and "AccessDenied" in p.stderr
        assert_not_upstream(moto, user)
        gw.aws(cred, "iam", "list-users")  # not denied
        d = [e for e in gw.events() if e.get("type") == "call.denied"]
        assert d and d[-1]["stage"] == "guardrail" and d[-1]["actions"] == ["iam:CreateUser"]
    finally:
        gw.stop()


def test_health_and_metrics(gateway, agent):
    gateway.aws(agent, "sts", "get-caller-identity")
    assert requests.get(gateway.url + "/_tally/health").json()["status"] == "ok"
    token = (gateway.home / "gateway" / "metrics.token").read_text().strip()  # metrics need the token (finding 13)
    text = requests.get(gateway.url + "/_tally/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert 'tally_gateway_calls_total{service="sts",outcome="ok"}' in text
    assert "tally_gateway_ledger_commit_seconds_count" in text
    assert "tally_gateway_request_duration_seconds_bucket" in text


def moto_s3(moto):
    import boto3
    return boto3.client("s3", endpoint_url=moto.url, region_name=REGION, aws_access_key_id=moto.admin_key_id,
                        aws_secret_access_key=moto.admin_secret)


def _partial_put(gateway, cred, key: str, task_path: bool, body: bytes = b"the body arrives slowly",
                 bucket: str = "slow-body-bucket"):
    """An S3 PutObject of `body`, signed for `cred`, sent over a raw socket: returns the socket after the head
    and all but the last body byte, and the last byte to send."""
    import hashlib
    import socket
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    headers = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest(), "Content-Length": str(len(body))}
    req = AWSRequest(method="PUT", url=f"{gateway.url}/{bucket}/{key}", data=body, headers=headers)
    S3SigV4Auth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), "s3", REGION).add_auth(req)
    lines = [f"PUT {req.url.split(str(gateway.port), 1)[1]} HTTP/1.1", f"Host: 127.0.0.1:{gateway.port}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() != "host"]
    if task_path:
        lines.append("Connection: close")  # the plain (event-loop) path passes such a request on to the task path
    s = socket.create_connection(("127.0.0.1", gateway.port), timeout=30)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body[:-1])
    return s, body[-1:]


def _answer(s) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or len(data) < 12:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("task_path", [False, True], ids=["plain-path", "task-path"])
def test_a_key_revoked_while_its_body_arrives_is_refused(gateway, moto, task_path):
    """The key is checked again once the body is in: a revocation between the head and the body's last byte is in
    force (the call used to be forwarded with the state of the key when its head came; a body trickled in a byte at
    a time could so outlive a revocation or the key's expiry by any time)."""
    # Control: the same request without a revocation in between reaches moto.
    cred = gateway.issue("agent-slow-body-control")
    gateway.aws(cred, "sts", "get-caller-identity")  # records the issuance (the first call of a key takes the task path)
    key = marker()
    s, last = _partial_put(gateway, cred, key, task_path)
    time.sleep(0.3)
    s.sendall(last)
    answer = _answer(s)
    s.close()
    assert answer.startswith(b"HTTP/1.1 ") and b"InvalidAccessKeyId" not in answer, answer[:400]
    deadline = time.time() + 10
    while key not in moto.log_text() and time.time() < deadline:
        time.sleep(0.1)
    assert key in moto.log_text(), "the control request did not reach moto"

    cred = gateway.issue("agent-slow-body")
    gateway.aws(cred, "sts", "get-caller-identity")
    key = marker()
    s, last = _partial_put(gateway, cred, key, task_path)
    time.sleep(0.3)  # the head and most of the body are read with the key still valid
    gateway.tally("credentials", "revoke", "--home", str(gateway.home), cred["AccessKeyId"])
    s.sendall(last)
    answer = _answer(s)
    s.close()
    assert answer.startswith(b"HTTP/1.1 403") and b"InvalidAccessKeyId" in answer, answer[:400]
    time.sleep(0.5)
    assert_not_upstream(moto, key)
    reasons = [e.get("reason", "") for e in denied(gateway, "authentication") if e.get("accessKeyId") == cred["AccessKeyId"]]
    assert any("revoked" in r for r in reasons), reasons


def test_a_key_revoked_while_its_streamed_body_arrives_never_completes_upstream(gateway, moto):
    """A body over the buffered size streams to the upstream as it arrives; its last bytes are held until the end is
    verified, and the key is checked again then: a revocation while the body streams means the upstream never gets the
    whole body (session 9 review; the buffered paths above already checked again)."""
    bucket = f"stream-revoke-{uuid.uuid4().hex[:8]}"
    cred = gateway.issue("agent-streamed-body")
    gateway.client(cred, "s3").create_bucket(Bucket=bucket)
    body = bytes(range(256)) * (8 << 10)  # 2 MiB: streamed
    for revoke in (False, True):
        key = marker()
        s, last = _partial_put(gateway, cred, key, task_path=False, body=body, bucket=bucket)
        s.sendall(b"")  # (the head and all but the last byte are out)
        time.sleep(0.5)
        if revoke:
            gateway.tally("credentials", "revoke", "--home", str(gateway.home), cred["AccessKeyId"])
        s.sendall(last)
        answer = _answer(s)
        s.close()
        time.sleep(0.5)
        keys = [o["Key"] for o in moto_s3(moto).list_objects_v2(Bucket=bucket).get("Contents", [])]
        if not revoke:
            assert answer.startswith(b"HTTP/1.1 200"), answer[:400]
            assert key in keys, "the control upload did not complete"
        else:
            assert answer.startswith(b"HTTP/1.1 403") and b"no longer valid" in answer, answer[:600]
            assert key not in keys, "the upstream got the whole body after the key was revoked"
