"""Built-in guardrail (security review finding 3): a role the agent creates (or re-trusts) through the gateway
may trust only principals of the upstream account and AWS services. A role that trusts another account, `*` or
a federated identity provider would let the agent assume it directly at AWS and hold upstream credentials
outside the gateway, with no record."""
import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, Gateway


def trust(principal) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal}]})


def test_outside_trust_is_denied_inside_trust_works(gateway, agent, moto):
    iam = gateway.client(agent, "iam")
    ok = f"tp-ok-{uuid.uuid4().hex[:6]}"
    iam.create_role(RoleName=ok, AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/tally-gateway-admin"}))
    iam.create_role(RoleName=ok + "-svc", AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"}))
    admin = boto3.client("iam", endpoint_url=moto.url, region_name=REGION,
                         aws_access_key_id=moto.admin_key_id, aws_secret_access_key=moto.admin_secret)
    for bad in ({"AWS": "arn:aws:iam::999999999999:root"}, "*", {"Federated": "accounts.google.com"}):
        name = f"tp-bad-{uuid.uuid4().hex[:6]}"
        with pytest.raises(ClientError) as e:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(bad))
        assert e.value.response["Error"]["Code"] == "AccessDenied" and "built-in" in e.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as gone:  # never reached moto
            admin.get_role(RoleName=name)
        assert gone.value.response["Error"]["Code"] == "NoSuchEntity"
    # re-trusting an existing role to an outside account (the AWS CLI this time)
    p = gateway.aws(agent, "iam", "update-assume-role-policy", "--role-name", ok, "--policy-document",
                    trust({"AWS": "999999999999"}), check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr
    doc = admin.get_role(RoleName=ok)["Role"]["AssumeRolePolicyDocument"]
    assert "999999999999" not in json.dumps(doc)
    denied = [e for e in gateway.events() if e.get("type") == "call.denied" and e.get("stage") == "guardrail"
              and e.get("operation") in ("CreateRole", "UpdateAssumeRolePolicy")]
    assert len(denied) == 4


def test_trust_check_is_part_of_builtin_deny(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, config={"builtinDeny": False})
    try:
        cred = gw.issue("agent-trust-off")
        name = f"tp-off-{uuid.uuid4().hex[:6]}"
        gw.client(cred, "iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust({"AWS": "999999999999"}))
    finally:
        gw.stop()
