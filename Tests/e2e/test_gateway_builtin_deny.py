"""Built-in guardrails (security review finding 3): a console password, SSH key or identity provider the agent
chooses itself gives access outside the gateway that masking cannot take back, so these actions are denied by
default (config "builtinDeny": false turns that off)."""
import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import REGION, Gateway


def test_login_profile_is_denied_by_default_and_never_reaches_moto(gateway, agent, moto):
    user = f"bd-{uuid.uuid4().hex[:8]}"
    gateway.aws(agent, "iam", "create-user", "--user-name", user)
    p = gateway.aws(agent, "iam", "create-login-profile", "--user-name", user, "--password", "Agent-Chosen-1!", check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr and "built-in" in p.stderr, p.stderr
    iam = boto3.client("iam", endpoint_url=moto.url, region_name=REGION,
                       aws_access_key_id=moto.admin_key_id, aws_secret_access_key=moto.admin_secret)
    with pytest.raises(ClientError) as e:  # never reached moto: the user has no login profile
        iam.get_login_profile(UserName=user)
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    denied = [e for e in gateway.events() if e.get("type") == "call.denied" and e.get("operation") == "CreateLoginProfile"]
    assert denied and denied[-1]["stage"] == "guardrail" and denied[-1]["actions"] == ["iam:CreateLoginProfile"]


def test_builtin_deny_can_be_turned_off(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, config={"builtinDeny": False})
    try:
        cred = gw.issue("agent-nobuiltin")
        user = f"bd-{uuid.uuid4().hex[:8]}"
        gw.aws(cred, "iam", "create-user", "--user-name", user)
        out = json.loads(gw.aws(cred, "iam", "create-login-profile", "--user-name", user, "--password", "Agent-Chosen-1!").stdout)
        assert out["LoginProfile"]["UserName"] == user
    finally:
        gw.stop()
