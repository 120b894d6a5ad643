"""Built-in guardrail: resource policies, grants and sharing settings sent through the gateway may reach only the
upstream account and AWS services. A bucket, queue, topic, key, secret, repository, function or snapshot opened to
another account or to everyone can be reached from outside the gateway, with no record; such calls are denied
(AccessDenied, recorded as call.denied with the reason) and never reach the upstream. In-account policies work."""
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, Gateway

OUTSIDE = "999999999999"


def policy(principal, resource="*", action="*") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource}]})


OWN = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}


def denied(call, fragment: str):
    with pytest.raises(ClientError) as e:
        call()
    error = e.value.response["Error"]
    assert error["Code"] in ("AccessDenied", "AccessDeniedException"), error
    assert "built-in" in error["Message"] and fragment in error["Message"], error["Message"]


def moto_requests(moto) -> int:
    return moto.log_text().count("\n")


def test_outside_grants_are_denied_and_never_reach_moto(gateway, agent, moto):
    name = f"rp-{uuid.uuid4().hex[:8]}"
    s3, sqs, sns = gateway.client(agent, "s3"), gateway.client(agent, "sqs"), gateway.client(agent, "sns")
    kms, sm, ecr = gateway.client(agent, "kms"), gateway.client(agent, "secretsmanager"), gateway.client(agent, "ecr")
    lam, ec2 = gateway.client(agent, "lambda"), gateway.client(agent, "ec2")
    s3.create_bucket(Bucket=name)
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    topic = sns.create_topic(Name=name)["TopicArn"]
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    sm.create_secret(Name=name, SecretString="s")
    ecr.create_repository(repositoryName=name)

    before = moto_requests(moto)
    denied(lambda: s3.put_bucket_policy(Bucket=name, Policy=policy("*", f"arn:aws:s3:::{name}/*", "s3:GetObject")),
           "the bucket policy grants *")
    denied(lambda: s3.put_bucket_policy(Bucket=name, Policy=policy({"AWS": f"arn:aws:iam::{OUTSIDE}:root"})), OUTSIDE)
    denied(lambda: s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read"), "public-read")
    denied(lambda: sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": policy("*")}), "the queue policy grants *")
    denied(lambda: sqs.add_permission(QueueUrl=queue, Label="x", AWSAccountIds=[OUTSIDE], Actions=["SendMessage"]), OUTSIDE)
    denied(lambda: sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy",
                                            AttributeValue=policy({"AWS": OUTSIDE})), OUTSIDE)
    denied(lambda: sns.add_permission(TopicArn=topic, Label="x", AWSAccountId=[OUTSIDE], ActionName=["Publish"]), OUTSIDE)
    denied(lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy({"AWS": OUTSIDE})), OUTSIDE)
    denied(lambda: kms.create_grant(KeyId=key, GranteePrincipal=f"arn:aws:iam::{OUTSIDE}:root", Operations=["Decrypt"]),
           OUTSIDE)
    denied(lambda: sm.put_resource_policy(SecretId=name, ResourcePolicy=policy("*")), "grants *")
    denied(lambda: ecr.set_repository_policy(repositoryName=name, policyText=policy("*")), "grants *")
    denied(lambda: lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal="*"),
           "grants * (everyone)")
    denied(lambda: ec2.modify_snapshot_attribute(SnapshotId="snap-12345678", Attribute="createVolumePermission",
                                                 OperationType="add", GroupNames=["all"]), "group all")
    assert moto_requests(moto) == before, "a denied call reached moto"

    reasons = [e["reason"] for e in gateway.events() if e.get("type") == "call.denied" and e.get("stage") == "guardrail"
               and "resource policies and grants" in e.get("reason", "")]
    assert len(reasons) == 13, reasons
    assert all(f"account {ACCOUNT}" in r for r in reasons)

    # The same calls, granting only the account (or AWS services), go through.
    s3.put_bucket_policy(Bucket=name, Policy=policy(OWN, f"arn:aws:s3:::{name}/*", "s3:GetObject"))
    assert OUTSIDE not in s3.get_bucket_policy(Bucket=name)["Policy"]
    s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="private")
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": policy(OWN)})
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy",
                             AttributeValue=policy({"Service": "events.amazonaws.com"}, topic, "sns:Publish"))
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy(OWN))
    sm.put_resource_policy(SecretId=name, ResourcePolicy=policy(OWN))
    ecr.set_repository_policy(repositoryName=name, policyText=policy(OWN, action="ecr:*"))


def test_resource_policy_check_is_part_of_builtin_deny(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, config={"builtinDeny": False})
    try:
        cred = gw.issue("agent-rp-off")
        sqs = gw.client(cred, "sqs")
        queue = sqs.create_queue(QueueName=f"rp-off-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": policy("*")})
        assert "Policy" in sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])["Attributes"]
    finally:
        gw.stop()
