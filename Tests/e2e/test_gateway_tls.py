"""The same clients over HTTPS to the gateway (self-signed certificate, AWS_CA_BUNDLE): the SDK then
uses other payload modes (S3: STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked uploads)."""
import json
import os
import uuid

from conftest import ACCOUNT


def test_tls_sts_s3_dynamodb_sqs(tls_gateway, tmp_path):
    gw = tls_gateway
    cred = gw.issue("agent-tls")
    ident = json.loads(gw.aws(cred, "sts", "get-caller-identity").stdout)
    assert ident["Account"] == ACCOUNT
    bucket = f"tls-{uuid.uuid4().hex[:10]}"
    gw.aws(cred, "s3", "mb", f"s3://{bucket}")
    small = tmp_path / "small.txt"
    small.write_bytes(b"over tls\n" * 100)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))
    gw.aws(cred, "s3", "cp", str(small), f"s3://{bucket}/small.txt")
    gw.aws(cred, "s3", "cp", str(big), f"s3://{bucket}/big.bin")
    back = tmp_path / "back.bin"
    gw.aws(cred, "s3", "cp", f"s3://{bucket}/big.bin", str(back))
    assert back.read_bytes() == big.read_bytes()
    s3 = gw.client(cred, "s3")
    s3.put_object(Bucket=bucket, Key="boto.txt", Body=b"boto3 over tls")
    assert s3.get_object(Bucket=bucket, Key="boto.txt")["Body"].read() == b"boto3 over tls"
    modes = {e.get("payloadMode") for e in gw.events() if e.get("type") == "call.requested" and e.get("operation") in ("PutObject", "UploadPart")}
    assert "STREAMING-UNSIGNED-PAYLOAD-TRAILER" in modes, modes
    table = f"t{uuid.uuid4().hex[:8]}"
    gw.aws(cred, "dynamodb", "create-table", "--table-name", table,
           "--attribute-definitions", "AttributeName=pk,AttributeType=S",
           "--key-schema", "AttributeName=pk,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST")
    gw.aws(cred, "dynamodb", "put-item", "--table-name", table, "--item", '{"pk": {"S": "k"}}')
    url = json.loads(gw.aws(cred, "sqs", "create-queue", "--queue-name", table).stdout)["QueueUrl"]
    gw.aws(cred, "sqs", "send-message", "--queue-url", url, "--message-body", "tls")
    gw.aws(cred, "s3", "rm", f"s3://{bucket}", "--recursive")
    gw.aws(cred, "s3", "rb", f"s3://{bucket}")
    events = gw.events()
    req = {e["callId"] for e in events if e.get("type") == "call.requested"}
    done = {e["callId"] for e in events if e.get("type") == "call.completed"}
    assert req and req == done
    assert all(e.get("status", 0) < 400 for e in events if e.get("type") == "call.completed")


def test_https_upstream_chain(tls_gateway, moto, tmp_path):
    # agent -> gateway B (http) -> gateway A (https, self-signed, trusted via --upstream-ca-bundle) -> moto.
    # B's own upstream credential is one that A issued, so both gateways verify and record the call.
    from conftest import Gateway
    a = tls_gateway
    b_cred = a.issue("gateway-b")
    b = Gateway(tmp_path, a.url, b_cred["AccessKeyId"], b_cred["SecretAccessKey"],
                extra_args=["--upstream-ca-bundle", a.ca_bundle])
    try:
        agent = b.issue("agent-behind-b")
        ident = json.loads(b.aws(agent, "sts", "get-caller-identity").stdout)
        assert ident["Arn"].endswith(":user/tally-gateway-admin")
        bucket = f"chain-{uuid.uuid4().hex[:8]}"
        b.aws(agent, "s3", "mb", f"s3://{bucket}")
        f = tmp_path / "f.txt"
        f.write_bytes(b"through two gateways\n" * 1000)
        b.aws(agent, "s3", "cp", str(f), f"s3://{bucket}/f.txt")
        assert b.client(agent, "s3").get_object(Bucket=bucket, Key="f.txt")["Body"].read() == f.read_bytes()
        in_a = [e for e in a.events(settle=True) if e.get("session") == b_cred["AccessKeyId"] and e.get("type") == "call.completed"]
        in_b = [e for e in b.events(settle=True) if e.get("session") == agent["AccessKeyId"] and e.get("type") == "call.completed"]
        # A also saw B's startup GetCallerIdentity (B learns its upstream identity for its events, with a 3 s bound: on a
        # slow machine B may give up on it, and A then records that call as it ended), and B's read-only IAM calls that
        # learn its identity's permissions boundary, groups and attached policies (session 10). Every other call is in both.
        from collections import Counter
        learning = {"GetCallerIdentity", "GetUser", "ListGroupsForUser", "ListAttachedUserPolicies", "ListAttachedGroupPolicies"}
        ops_a = Counter(e.get("operation") for e in in_a)
        ops_b = Counter(e.get("operation") for e in in_b)
        assert len(in_b) >= 4 and all(e["status"] == 200 for e in in_b)
        assert ops_a["GetCallerIdentity"] == ops_b["GetCallerIdentity"] + 1
        assert {k: v for k, v in ops_a.items() if k not in learning} == {k: v for k, v in ops_b.items() if k not in learning}
        assert set(ops_a) - set(ops_b) <= learning
        assert all(e["status"] == 200 for e in in_a if e.get("operation") != "GetCallerIdentity")
        assert all(e["upstreamIdentity"] == "arn:aws:iam::123456789012:user/tally-gateway-admin"
                   for e in a.events() if e.get("type") == "call.requested" and e.get("session") == b_cred["AccessKeyId"])
    finally:
        b.stop()
