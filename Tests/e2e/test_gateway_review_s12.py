"""Session 12 probe of the recorded IAM actions and ARNs (what least-privilege policies are built from): each test
fails on the build before its fix."""
import uuid

from conftest import ACCOUNT, REGION


def requested(gateway, operation: str) -> list[dict]:
    return [e for e in gateway.events() if e.get("type") == "call.requested" and e.get("operation") == operation]


def test_get_queue_url_of_another_accounts_queue_names_that_account(gateway, agent):
    sqs = gateway.client(agent, "sqs")
    name = f"q-{uuid.uuid4().hex[:6]}"
    sqs.create_queue(QueueName=name)
    sqs.get_queue_url(QueueName=name)
    try:
        sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId="999999999999")
    except Exception:
        pass  # moto may not know the other account's queue: the record is what is checked
    got = [e for e in requested(gateway, "GetQueueUrl") if e["resources"][0].endswith(f":{name}")]
    assert [e["resources"] for e in got] == [[f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"],
                                             [f"arn:aws:sqs:{REGION}:999999999999:{name}"]], got
    assert all(e["actions"] == ["sqs:GetQueueUrl"] for e in got)


def test_create_topic_names_the_topic(gateway, agent):
    name = f"t-{uuid.uuid4().hex[:6]}"
    gateway.aws(agent, "sns", "create-topic", "--name", name, "--tags", "Key=team,Value=a")
    e = [e for e in requested(gateway, "CreateTopic") if e["resources"][0].endswith(f":{name}")][-1]
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    assert e["actions"] == ["sns:CreateTopic", "sns:TagResource"] and e["resources"] == [arn], e


def test_adding_a_role_to_an_instance_profile_passes_the_role(gateway, agent):
    suffix = uuid.uuid4().hex[:6]
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    gateway.aws(agent, "iam", "create-role", "--role-name", f"r-{suffix}", "--assume-role-policy-document", trust)
    gateway.aws(agent, "iam", "create-instance-profile", "--instance-profile-name", f"ip-{suffix}")
    gateway.aws(agent, "iam", "add-role-to-instance-profile", "--instance-profile-name", f"ip-{suffix}", "--role-name", f"r-{suffix}")
    e = [e for e in requested(gateway, "AddRoleToInstanceProfile") if e["resources"][0].endswith(f"/ip-{suffix}")][-1]
    assert e["actions"] == ["iam:AddRoleToInstanceProfile", "iam:PassRole"], e
    assert e["resources"] == [f"arn:aws:iam::{ACCOUNT}:instance-profile/ip-{suffix}", f"arn:aws:iam::{ACCOUNT}:role/r-{suffix}"], e
