"""Session 12 probe of the recorded IAM actions and ARNs (what least-privilege policies are built from): each test
fails on the build before its fix."""
import json
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


def test_iam_names_created_with_a_path_carry_it_in_their_arns(gateway, agent):
    suffix = uuid.uuid4().hex[:6]
    gateway.aws(agent, "iam", "create-user", "--user-name", f"u-{suffix}", "--path", "/eng/team/")
    gateway.aws(agent, "iam", "create-policy", "--policy-name", f"p-{suffix}", "--path", "/team/",
                "--policy-document", '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}')
    gateway.aws(agent, "iam", "create-group", "--group-name", f"g-{suffix}")  # no path: the name alone
    user = [e for e in requested(gateway, "CreateUser") if e["resources"][0].endswith(f"u-{suffix}")][-1]
    assert user["resources"] == [f"arn:aws:iam::{ACCOUNT}:user/eng/team/u-{suffix}"], user
    policy = [e for e in requested(gateway, "CreatePolicy") if e["resources"][0].endswith(f"p-{suffix}")][-1]
    assert policy["resources"] == [f"arn:aws:iam::{ACCOUNT}:policy/team/p-{suffix}"], policy
    group = [e for e in requested(gateway, "CreateGroup") if e["resources"][0].endswith(f"g-{suffix}")][-1]
    assert group["resources"] == [f"arn:aws:iam::{ACCOUNT}:group/g-{suffix}"], group


def test_ssm_parameter_lists_and_paths_name_each_parameter(gateway, agent):
    ssm = gateway.client(agent, "ssm")
    p = f"/app-{uuid.uuid4().hex[:6]}"
    for name in (f"{p}/db", f"{p}/url"):
        ssm.put_parameter(Name=name, Value="v", Type="String")
    ssm.get_parameters(Names=[f"{p}/db", f"{p}/url"])
    ssm.get_parameters_by_path(Path=p, Recursive=True)
    ssm.delete_parameters(Names=[f"{p}/db"])
    base = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
    get = [e for e in requested(gateway, "GetParameters") if p in "".join(e["resources"])][-1]
    assert get["actions"] == ["ssm:GetParameters"] and get["resources"] == [f"{base}{p}/db", f"{base}{p}/url"], get
    by_path = [e for e in requested(gateway, "GetParametersByPath") if p in "".join(e["resources"])][-1]
    assert by_path["resources"] == [f"{base}{p}"], by_path
    delete = [e for e in requested(gateway, "DeleteParameters") if p in "".join(e["resources"])][-1]
    assert delete["resources"] == [f"{base}{p}/db"], delete


def test_secrets_named_by_name_match_their_arns(gateway, agent):
    sm = gateway.client(agent, "secretsmanager")
    name = f"app/db-{uuid.uuid4().hex[:4]}"
    arn = sm.create_secret(Name=name, SecretString="s")["ARN"]
    sm.get_secret_value(SecretId=name)
    sm.get_secret_value(SecretId=arn)
    sm.batch_get_secret_value(SecretIdList=[name, arn])
    pattern = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-??????"
    assert arn.startswith(pattern[:-6]) and len(arn) == len(pattern)  # what AWS (and moto) name a secret
    create = [e for e in requested(gateway, "CreateSecret") if name in e["resources"][0]][-1]
    assert create["resources"] == [pattern], create
    gets = [e["resources"] for e in requested(gateway, "GetSecretValue") if name in e["resources"][0]]
    assert gets[-2:] == [[pattern], [arn]], gets
    batch = [e for e in requested(gateway, "BatchGetSecretValue") if name in "".join(e["resources"])][-1]
    assert batch["actions"] == ["secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue"], batch
    assert batch["resources"] == ["*", pattern, arn], batch


def test_sns_publish_to_a_target_arn_names_it(gateway, agent):
    sns = gateway.client(agent, "sns")
    topic = sns.create_topic(Name=f"pub-{uuid.uuid4().hex[:6]}")["TopicArn"]
    sns.publish(TargetArn=topic, Message="hi")
    e = [e for e in requested(gateway, "Publish") if e["resources"] == [topic]]
    assert e and e[-1]["actions"] == ["sns:Publish"], requested(gateway, "Publish")[-1]


def test_an_empty_secret_id_list_still_needs_get_secret_value(gateway, agent):
    """Session 12 review: BatchGetSecretValue with "SecretIdList": [] beside Filters recorded no GetSecretValue, so
    a deny rule naming it let the call through (moto answers it). Now the action is recorded on "*"."""
    sm = gateway.client(agent, "secretsmanager")

    def empty_list(request, **_):
        body = json.loads(request.data)
        body["SecretIdList"] = []
        request.data = json.dumps(body).encode()

    sm.meta.events.register("before-sign.secrets-manager.BatchGetSecretValue", empty_list)
    try:
        sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": ["nothing-matches-this"]}])
    except Exception as e:  # moto's answer does not matter: the record does
        print("answer:", e)
    e = requested(gateway, "BatchGetSecretValue")[-1]
    assert e["actions"] == ["secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue"], e
    assert e["resources"] == ["*"], e


def test_a_path_sent_to_an_operation_without_one_is_not_in_the_arn(gateway, agent):
    """Session 12 review: iamPath read a Path parameter on every IAM operation, so `&Path=/fake/` added to
    PutRolePolicy put role/fake/NAME in the ledger. Only the Create* calls, whose input has Path, read it."""
    suffix = uuid.uuid4().hex[:6]
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    iam = gateway.client(agent, "iam")
    iam.create_role(RoleName=f"r-{suffix}", AssumeRolePolicyDocument=trust)

    def add_path(request, **_):
        if isinstance(request.data, dict):
            request.data = dict(request.data, Path="/fake/")
        else:
            request.data = (request.data if isinstance(request.data, str) else request.data.decode()) + "&Path=%2Ffake%2F"

    iam.meta.events.register("before-sign.iam.PutRolePolicy", add_path)
    try:
        iam.put_role_policy(RoleName=f"r-{suffix}", PolicyName="p", PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}')
    except Exception as e:
        print("answer:", e)
    e = [e for e in requested(gateway, "PutRolePolicy") if e["resources"][0].endswith(f"r-{suffix}")][-1]
    assert e["resources"] == [f"arn:aws:iam::{ACCOUNT}:role/r-{suffix}"], e
