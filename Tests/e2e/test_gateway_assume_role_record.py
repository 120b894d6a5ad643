"""The gateway's own STS AssumeRole (a credential issued with --role) is on the record before it is made, and its
outcome after it (security review finding 11): role, session name, principal, time; never the secret or token."""
import json
import uuid

import boto3

from conftest import ACCOUNT, REGION, Gateway, run


def test_assume_role_for_a_role_credential_is_recorded(moto, tmp_path):
    iam = boto3.client("iam", endpoint_url=moto.url, region_name=REGION,
                       aws_access_key_id=moto.admin_key_id, aws_secret_access_key=moto.admin_secret)
    name = f"rec-role-{uuid.uuid4().hex[:6]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
        "AWS": f"arn:aws:iam::{ACCOUNT}:user/tally-gateway-admin"}}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret)
    try:
        cred = gw.issue("agent-roled", role=arn)
        gw.aws(cred, "sts", "get-caller-identity")
        gw.aws(cred, "sts", "get-caller-identity")  # cached: no second AssumeRole
        events = gw.events()
        req = [e for e in events if e.get("type") == "upstream.assumeRole.requested"]
        done = [e for e in events if e.get("type") == "upstream.assumeRole.completed"]
        assert len(req) == 1 and len(done) == 1, [e.get("type") for e in events]
        call = next(e for e in events if e.get("type") == "call.requested" and e.get("session") == cred["AccessKeyId"])
        assert req[0]["_seq"] < done[0]["_seq"] < call["_seq"]
        for e in (req[0], done[0]):
            assert e["role"] == arn and e["principal"] == "agent-roled" and e["session"] == cred["AccessKeyId"]
            assert e["roleSessionName"] == "tally-agent-roled" and e["region"] == REGION
            assert e["upstreamIdentity"] == f"arn:aws:iam::{ACCOUNT}:user/tally-gateway-admin"
        assert done[0]["outcome"] == "ok" and done[0]["upstreamAccessKeyId"] and done[0]["expiration"]
        text = json.dumps(done[0])
        assert "SecretAccessKey" not in text and "SessionToken" not in text
        # replay of the session still lists exactly its two calls
        replay = json.loads(gw.tally("replay", cred["AccessKeyId"], "--home", str(gw.home), "--json").stdout)
        assert [c.get("operation") for c in replay] == ["GetCallerIdentity", "GetCallerIdentity"]
        run([gw.bin, "ledger", "verify", "--home", str(gw.home)])
    finally:
        gw.stop()


def test_a_failed_assume_role_is_recorded_and_the_call_refused(moto, tmp_path):
    # The gateway's upstream secret is wrong, so moto (IAM auth on) refuses its AssumeRole.
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, "wrong-upstream-secret-for-this-test")
    try:
        role = f"arn:aws:iam::{ACCOUNT}:role/any-{uuid.uuid4().hex[:6]}"
        cred = gw.issue("agent-badrole", role=role)
        p = gw.aws(cred, "sts", "get-caller-identity", check=False, AWS_MAX_ATTEMPTS="1")  # no CLI retries of the 503
        assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
        events = gw.events()
        req = [e for e in events if e.get("type") == "upstream.assumeRole.requested"]
        done = [e for e in events if e.get("type") == "upstream.assumeRole.completed"]
        assert len(req) == 1 and req[0]["role"] == role
        assert len(done) == 1 and done[0]["outcome"] == "error" and "upstreamAccessKeyId" not in done[0]
        denied = [e for e in events if e.get("type") == "call.denied" and e.get("session") == cred["AccessKeyId"]]
        assert denied and denied[-1]["stage"] == "upstream-credential" and denied[-1]["status"] == 503
        assert req[0]["_seq"] < done[0]["_seq"] < denied[-1]["_seq"]
    finally:
        gw.stop()
