"""Per-principal roles (STS AssumeRole), presigned URLs, graceful shutdown, pending credential events."""
import json
import signal
import subprocess
import threading
import time
import uuid

import boto3
import requests
from botocore.config import Config

from conftest import ACCOUNT, REGION, Gateway, run, tally_bin


def test_role_is_assumed_per_principal(gateway, moto):
    iam = boto3.client("iam", endpoint_url=moto.url, region_name=REGION,
                       aws_access_key_id=moto.admin_key_id, aws_secret_access_key=moto.admin_secret)
    name = f"agent-role-{uuid.uuid4().hex[:6]}"
    # moto checks the trust policy against the caller ARN literally (an account root principal is not enough).
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/tally-gateway-admin"},
                                                     "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    cred = gateway.issue("agent-with-role", role=arn)
    ident = json.loads(gateway.aws(cred, "sts", "get-caller-identity").stdout)
    assert f":assumed-role/{name}/tally-agent-with-role" in ident["Arn"]
    gateway.aws(cred, "sts", "get-caller-identity")  # the cached role credential is reused
    req = [e for e in gateway.events() if e.get("type") == "call.requested" and e.get("session") == cred["AccessKeyId"]]
    # The upstream identity is the role session AWS sees (and CloudTrail records), not the role: STS's AssumedRoleUser.
    assert len(req) == 2 and all(e["upstreamIdentity"] == ident["Arn"] and e["role"] == arn for e in req)
    assert ident["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/tally-agent-with-role"
    done = [e for e in gateway.events() if e.get("type") == "upstream.assumeRole.completed" and e.get("role") == arn]
    assert len(done) == 1 and done[0]["assumedRoleArn"] == ident["Arn"]


def test_presigned_url_through_the_gateway(gateway, agent):
    bucket = f"presign-{uuid.uuid4().hex[:8]}"
    s3 = gateway.client(agent, "s3", signature_version="s3v4", s3={"addressing_style": "path"})
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k.txt", Body=b"presigned body")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k.txt"}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    r = requests.get(url)
    assert r.status_code == 200 and r.content == b"presigned body"
    tampered = url.replace("k.txt", "other.txt")
    r = requests.get(tampered)
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text
    got = [e for e in gateway.events() if e.get("type") == "call.requested" and e.get("operation") == "GetObject"
           and e.get("path") == f"/{bucket}/k.txt"]
    assert got and got[-1]["actions"] == ["s3:GetObject"] and got[-1]["resources"] == [f"arn:aws:s3:::{bucket}/k.txt"]


def test_credentials_issued_while_the_gateway_runs_are_recorded_before_use(gateway):
    # The running gateway holds the ledger lock: `credentials issue` leaves credential.issued to it.
    cred = gateway.issue("agent-late")
    gateway.aws(cred, "sts", "get-caller-identity")
    events = gateway.events()
    issued = [e for e in events if e.get("type") == "credential.issued" and e.get("accessKeyId") == cred["AccessKeyId"]]
    first_call = [e for e in events if e.get("session") == cred["AccessKeyId"] and e.get("type") == "call.requested"]
    assert len(issued) == 1 and first_call and issued[0]["_seq"] < first_call[0]["_seq"]
    listed = json.loads(gateway.tally("credentials", "list", "--home", str(gateway.home), "--json").stdout)
    assert isinstance(listed, list) and any(c["accessKeyId"] == cred["AccessKeyId"] for c in listed)
    assert all("SecretAccessKey" not in c for c in listed)


def test_graceful_shutdown_drains_in_flight_calls(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret)
    cred = gw.issue("agent-drain")
    bucket = f"drain-{uuid.uuid4().hex[:8]}"
    s3 = gw.client(cred, "s3")
    s3.create_bucket(Bucket=bucket)
    results = []

    def upload():
        try:
            s3.put_object(Bucket=bucket, Key="big", Body=b"z" * (30 * 1024 * 1024))
            results.append("ok")
        except Exception as e:  # noqa: BLE001
            results.append(repr(e))

    t = threading.Thread(target=upload)
    t.start()
    # The upload is in flight once its call.requested is durable (before the body is read and forwarded): a fixed
    # sleep could send SIGTERM before boto3 (hashing 30 MiB first) had even connected, on a loaded machine.
    deadline = time.time() + 60
    while not any(e.get("type") == "call.requested" and e.get("operation") == "PutObject" and e.get("path") == f"/{bucket}/big"
                  for e in gw.events()):
        assert time.time() < deadline and t.is_alive(), f"the upload never started: {results}"
        time.sleep(0.05)
    code = gw.stop(signal.SIGTERM, timeout=60)
    t.join(60)
    assert code == 0, gw.log.read_text()[-2000:]
    assert results == ["ok"]
    assert "ledger closed" in gw.log.read_text()
    events = gw.events()
    done = [e for e in events if e.get("type") == "call.completed" and e.get("operation") == "PutObject"]
    assert done and done[-1]["status"] == 200 and done[-1]["bytesIn"] == 30 * 1024 * 1024
    run([gw.bin, "ledger", "verify", "--home", str(gw.home)])


def test_fails_closed_when_the_ledger_cannot_commit(moto, tmp_path):
    # A real write failure: the gateway runs with RLIMIT_FSIZE, so once the ledger's segment reaches the limit its
    # writes fail with EFBIG. From then on no call may reach moto. SIGXFSZ is left at its default (terminate): tally
    # ignores it itself, so the write fails and the gateway fails closed instead of dying mid-commit.
    import os
    import random
    import resource
    import string
    from botocore.exceptions import ClientError
    limit = 512 * 1024  # above the init-time files (epoch keys ~280 KB), reached by the segment after some calls

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home)])
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, home=home, preexec_fn=limited,
                 extra_args=["--log-level", "critical"])
    try:
        cred = gw.issue("agent-failclosed")
        bucket = f"fc-{uuid.uuid4().hex[:8]}"
        s3 = gw.client(cred, "s3")
        s3.create_bucket(Bucket=bucket)
        refused = None
        for i in range(3000):
            # Long random keys make every record large and incompressible.
            key = f"k{i}-" + "".join(random.choices(string.ascii_letters, k=900))
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=b"x")
            except ClientError as e:
                assert e.response["Error"]["Code"] == "ServiceUnavailable", e.response
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 503
                refused = key
                break
        assert refused, "the ledger never hit the file size limit"
        again = "again-" + uuid.uuid4().hex
        try:
            s3.put_object(Bucket=bucket, Key=again, Body=b"x")
            raise AssertionError("a call succeeded after the ledger failed")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ServiceUnavailable"
        log = moto.log_text()
        assert refused not in log and again not in log
    finally:
        gw.stop(signal.SIGKILL)


def test_credential_process_shape_works_with_the_aws_cli(gateway, tmp_path):
    # `credentials issue --json` prints the credential_process shape: the AWS CLI can call it directly.
    config = tmp_path / "config"
    config.write_text(f"[default]\nregion = {REGION}\ncredential_process = {gateway.bin} credentials issue "
                      f"--home {gateway.home} --principal via-credential-process --ttl 15m --json\n")
    import subprocess
    from conftest import clean_env
    env = clean_env(AWS_CONFIG_FILE=str(config))
    p = subprocess.run(["aws", "--endpoint-url", gateway.url, "sts", "get-caller-identity"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    sessions = json.loads(gateway.tally("sessions", "list", "--home", str(gateway.home), "--json").stdout)
    assert any(s["principal"] == "via-credential-process" and s["calls"] == 1 for s in sessions)


def test_starts_promptly_when_the_upstream_refuses_connections(tmp_path):
    # At startup the gateway asks STS who its own credential is. With an upstream that refuses
    # connections, AsyncHTTPClient retries until its 10 s connect timeout; the gateway bounds that
    # call at 3 s, so it listens within a few seconds and records the access key id instead.
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    refused = s.getsockname()[1]
    s.close()  # nothing listens there: connections are refused
    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home)])  # not timed: only the gateway's start is
    started = time.monotonic()
    gw = Gateway(tmp_path, f"http://127.0.0.1:{refused}", "AKIAREFUSEDUPSTREAM0", "refused-upstream-secret", home=home)
    try:
        ready = time.monotonic() - started
        assert ready < 8, f"gateway took {ready:.1f} s to listen"
        assert "could not learn the upstream identity" in gw.log.read_text()
    finally:
        assert gw.stop(signal.SIGTERM, timeout=30) == 0


def test_json_log_lines_parse_and_name_each_call(moto, tmp_path):
    """`--log-format json`: every line the gateway writes is one JSON object (log shippers parse them as such), the
    call line carries the operation and outcome as metadata, and a bad format is refused up front (exit 2)."""
    bad = subprocess.run([tally_bin(), "gateway", "--home", str(tmp_path / "nohome"), "--upstream", moto.url,
                          "--log-format", "yaml"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--log-format yaml" in bad.stderr, (bad.returncode, bad.stderr)

    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, extra_args=["--log-format", "json", "--log-level", "debug"])
    cred = gw.issue("agent-jsonlog", ttl="1h")
    gw.client(cred, "sts").get_caller_identity()
    assert gw.stop(signal.SIGTERM, timeout=30) == 0
    lines = [line for line in gw.log.read_text().splitlines() if line]
    assert lines, "the gateway logged nothing"
    objects = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    assert all({"time", "level", "logger", "message"} <= set(o) for o in objects), objects[:3]
    calls = [o for o in objects if o.get("metadata", {}).get("operation") == "GetCallerIdentity"]
    assert calls, [o["message"] for o in objects]
    assert any("ledger closed" in o["message"] for o in objects)
