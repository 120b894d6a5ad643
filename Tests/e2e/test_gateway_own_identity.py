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


def _policy(action):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def test_groups_and_managed_policies_of_the_gateway_are_off_limits(moto, tmp_path):
    """Session 10 (left open in session 9): the gateway's permissions also hang on the groups its user is in and on the
    managed policies attached to it or to those groups. An agent that puts a policy on such a group, or a new default
    version into such a policy, widens what the gateway (hence the agent) may do."""
    import pytest
    from botocore.exceptions import ClientError
    admin = boto3.client("iam", endpoint_url=moto.url, region_name=REGION,
                         aws_access_key_id=moto.admin_key_id, aws_secret_access_key=moto.admin_secret)
    tag = uuid.uuid4().hex[:8]
    group, other = f"gw-group-{tag}", f"other-group-{tag}"
    admin.create_group(GroupName=group)
    admin.create_group(GroupName=other)
    admin.add_user_to_group(GroupName=group, UserName=ADMIN)
    attached = admin.create_policy(PolicyName=f"gw-attached-{tag}", PolicyDocument=_policy("s3:ListAllMyBuckets"))["Policy"]["Arn"]
    via_group = admin.create_policy(PolicyName=f"gw-via-group-{tag}", PolicyDocument=_policy("s3:ListAllMyBuckets"))["Policy"]["Arn"]
    free = admin.create_policy(PolicyName=f"free-{tag}", PolicyDocument=_policy("s3:ListAllMyBuckets"))["Policy"]["Arn"]
    admin.attach_user_policy(UserName=ADMIN, PolicyArn=attached)
    admin.attach_group_policy(GroupName=group, PolicyArn=via_group)
    try:
        gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret)
        try:
            iam = gw.client(gw.issue("agent-own-attachments"), "iam")
            wide = _policy("*")
            for call in (lambda: iam.put_group_policy(GroupName=group, PolicyName="wide", PolicyDocument=wide),
                         lambda: iam.put_group_policy(GroupName=group.upper(), PolicyName="wide", PolicyDocument=wide),
                         lambda: iam.attach_group_policy(GroupName=group, PolicyArn=free),
                         lambda: iam.detach_group_policy(GroupName=group, PolicyArn=via_group),
                         lambda: iam.delete_group(GroupName=group),
                         lambda: iam.create_policy_version(PolicyArn=attached, PolicyDocument=wide, SetAsDefault=True),
                         lambda: iam.create_policy_version(PolicyArn=via_group, PolicyDocument=wide, SetAsDefault=True),
                         lambda: iam.set_default_policy_version(PolicyArn=attached, VersionId="v1")):
                with pytest.raises(ClientError) as refused:
                    call()
                assert "gateway's own upstream identity" in str(refused.value), refused.value
            assert admin.list_group_policies(GroupName=group)["PolicyNames"] == []
            assert {p["PolicyArn"] for p in admin.list_attached_group_policies(GroupName=group)["AttachedPolicies"]} == {via_group}
            assert len(admin.list_policy_versions(PolicyArn=attached)["Versions"]) == 1
            assert len(admin.list_policy_versions(PolicyArn=via_group)["Versions"]) == 1
            # Other groups and policies are the agent's to manage.
            iam.put_group_policy(GroupName=other, PolicyName="p", PolicyDocument=_policy("s3:ListAllMyBuckets"))
            iam.create_policy_version(PolicyArn=free, PolicyDocument=wide, SetAsDefault=True)
            assert len(admin.list_policy_versions(PolicyArn=free)["Versions"]) == 2
        finally:
            gw.stop()
    finally:
        admin.detach_user_policy(UserName=ADMIN, PolicyArn=attached)
        admin.detach_group_policy(GroupName=group, PolicyArn=via_group)
        admin.remove_user_from_group(GroupName=group, UserName=ADMIN)


def test_group_and_policy_version_changes_are_refused_while_the_attachments_are_unknown(moto, tmp_path):
    """A gateway credential that may not list its own groups: group and policy-version changes cannot be checked, so
    they are refused (fail closed); other IAM changes go on."""
    import pytest
    from botocore.exceptions import ClientError
    admin = boto3.client("iam", endpoint_url=moto.url, region_name=REGION,
                         aws_access_key_id=moto.admin_key_id, aws_secret_access_key=moto.admin_secret)
    tag = uuid.uuid4().hex[:8]
    user = f"gw-limited-{tag}"
    admin.create_user(UserName=user)
    admin.put_user_policy(UserName=user, PolicyName="all-but-list-groups", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                               {"Effect": "Deny", "Action": "iam:ListGroupsForUser", "Resource": "*"}]}))
    key = admin.create_access_key(UserName=user)["AccessKey"]
    admin.create_group(GroupName=f"g-{tag}")
    gw = Gateway(tmp_path, moto.url, key["AccessKeyId"], key["SecretAccessKey"])
    try:
        assert "could not learn the groups and managed policies" in gw.log.read_text()
        iam = gw.client(gw.issue("agent-own-unknown-attachments"), "iam")
        with pytest.raises(ClientError) as refused:
            iam.put_group_policy(GroupName=f"g-{tag}", PolicyName="p", PolicyDocument=_policy("*"))
        assert "are not known" in str(refused.value), refused.value
        assert admin.list_group_policies(GroupName=f"g-{tag}")["PolicyNames"] == []
        iam.create_user(UserName=f"u-{tag}")  # other IAM changes are checked as before
    finally:
        gw.stop()
