"""Built-in guardrail: the agent may not change the gateway's own upstream identity (its access keys, its
permissions): it could take the gateway down or widen what it can do (security review finding 3 asks for
iam:CreateAccessKey on the gateway's own identity). Reads pass; other users are the agent's to manage."""
import json
import uuid

import boto3

from conftest import REGION, Gateway

ADMIN = "tally-gateway-admin"


def test_the_gateways_own_user_is_off_limits(gateway, agent, moto):
    admin = boto3.client("iam", endpoint_url=moto.url, region_name=REGION,
                         aws_access_key_id=moto.admin_key_id, aws_secret_access_key=moto.admin_secret)
    keys = admin.list_access_keys(UserName=ADMIN)["AccessKeyMetadata"]
    for args in (["update-access-key", "--user-name", ADMIN, "--access-key-id", moto.admin_key_id, "--status", "Inactive"],
                 ["update-access-key", "--access-key-id", moto.admin_key_id, "--status", "Inactive"],
                 ["delete-access-key", "--access-key-id", moto.admin_key_id],
                 ["delete-user-policy", "--user-name", ADMIN, "--policy-name", "admin"],
                 ["attach-user-policy", "--user-name", ADMIN, "--policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess"]):
        p = gateway.aws(agent, "iam", *args, check=False)
        assert p.returncode != 0 and "own upstream identity" in p.stderr, (args, p.stderr)
    assert admin.list_access_keys(UserName=ADMIN)["AccessKeyMetadata"] == keys  # still active, still there
    assert admin.get_user_policy(UserName=ADMIN, PolicyName="admin")["PolicyName"] == "admin"
    # reads pass, and another user's keys are the agent's to manage
    assert json.loads(gateway.aws(agent, "iam", "list-access-keys", "--user-name", ADMIN).stdout)["AccessKeyMetadata"]
    user = f"oi-{uuid.uuid4().hex[:8]}"
    gateway.aws(agent, "iam", "create-user", "--user-name", user)
    key = json.loads(gateway.aws(agent, "iam", "create-access-key", "--user-name", user).stdout)["AccessKey"]
    gateway.aws(agent, "iam", "update-access-key", "--user-name", user, "--access-key-id", key["AccessKeyId"], "--status", "Inactive")
    denied = [e for e in gateway.events() if e.get("type") == "call.denied" and e.get("stage") == "guardrail"
              and e.get("operation") in ("UpdateAccessKey", "DeleteAccessKey", "DeleteUserPolicy", "AttachUserPolicy")]
    assert len(denied) == 5 and all("own upstream identity" in e["reason"] for e in denied)


def test_own_identity_check_is_part_of_builtin_deny(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, config={"builtinDeny": False})
    try:
        cred = gw.issue("agent-own-off")
        gw.aws(cred, "iam", "update-access-key", "--user-name", ADMIN, "--access-key-id", moto.admin_key_id,
               "--status", "Active")
    finally:
        gw.stop()


def test_iam_changes_are_refused_while_the_own_identity_is_unknown(moto, tmp_path):
    """The startup GetCallerIdentity fails (here: a key moto does not know, so every upstream call fails too): the
    gateway cannot tell whether an IAM change targets its own user, so it refuses IAM changes (it let them through
    before: review, session 9) and keeps asking STS in the background; reads pass."""
    gw = Gateway(tmp_path, moto.url, "AKIAUNKNOWNTOMOTO001", "not-a-moto-secret")
    try:
        assert "could not learn the upstream identity" in gw.log.read_text()
        cred = gw.issue("agent-own-unknown")
        p = gw.aws(cred, "iam", "create-user", "--user-name", "someone", check=False)
        assert p.returncode != 0 and "not known yet" in p.stderr, p.stderr
        p = gw.aws(cred, "iam", "list-users", check=False)
        assert "not known yet" not in p.stderr, p.stderr  # a read is forwarded (and fails upstream: unknown key)
        denied = [e for e in gw.events() if e.get("type") == "call.denied" and "not known yet" in e.get("reason", "")]
        assert len(denied) == 1, denied
    finally:
        gw.stop()
