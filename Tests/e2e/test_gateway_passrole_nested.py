"""iam:PassRole for a role passed inside a JSON body (session 10 re-probe): EventBridge PutTargets Targets[].RoleArn,
CodeBuild CreateProject serviceRole. Before, only top-level members named like a role counted, so an iam:PassRole deny
let these through and the ledger held no PassRole for them (moto stored the roles)."""
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import Gateway

ROLE = "arn:aws:iam::123456789012:role/passed-role"


@pytest.fixture
def deny_passrole(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, config={"deny": [{"action": "iam:PassRole"}]})
    yield gw
    gw.stop()


def test_roles_inside_the_body_need_pass_role(deny_passrole):
    gw = deny_passrole
    agent = gw.issue("passrole-nested")
    events = gw.client(agent, "events")
    rule = f"r{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=rule, ScheduleExpression="rate(5 minutes)")
    with pytest.raises(ClientError) as refused:
        events.put_targets(Rule=rule, Targets=[{"Id": "1", "Arn": "arn:aws:sqs:us-east-1:123456789012:q", "RoleArn": ROLE}])
    assert "iam:PassRole" in str(refused.value)
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == []
    # A target without a role passes none.
    events.put_targets(Rule=rule, Targets=[{"Id": "2", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"}])
    codebuild = gw.client(agent, "codebuild")
    with pytest.raises(ClientError) as refused:
        codebuild.create_project(name=f"p{uuid.uuid4().hex[:8]}", source={"type": "NO_SOURCE", "buildspec": "version: 0.2"},
                                 artifacts={"type": "NO_ARTIFACTS"},
                                 environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                                              "computeType": "BUILD_GENERAL1_SMALL"},
                                 serviceRole=ROLE)
    assert "iam:PassRole" in str(refused.value)
    denied = [e for e in gw.events() if e.get("type") == "call.denied" and e.get("operation") in ("PutTargets", "CreateProject")]
    assert {e["operation"] for e in denied} == {"PutTargets", "CreateProject"}
    assert all(ROLE in e["resources"] for e in denied), denied


def test_roles_deep_in_the_body_or_under_another_key_need_pass_role(deny_passrole):
    # Session 10 review: a role three levels down (CodePipeline stages[].actions[].roleArn) was not found, and MediaLive's
    # RoleArn, sent as "roleArn", was looked for under the model's name, so a PassRole deny let both through.
    gw = deny_passrole
    agent = gw.issue("passrole-deep")
    pipeline = {"name": f"p{uuid.uuid4().hex[:8]}", "roleArn": "",
                "artifactStore": {"type": "S3", "location": "bucket"},
                "stages": [{"name": "Source", "actions": [{
                    "name": "src", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                    "configuration": {"S3Bucket": "bucket", "S3ObjectKey": "k"}, "outputArtifacts": [{"name": "out"}],
                    "roleArn": ROLE}]}]}
    codepipeline = gw.client(agent, "codepipeline")
    with pytest.raises(ClientError) as refused:
        codepipeline.create_pipeline(pipeline=dict(pipeline, roleArn="arn:aws:iam::123456789012:role/pipe"))
    assert "iam:PassRole" in str(refused.value)
    medialive = gw.client(agent, "medialive")
    with pytest.raises(ClientError) as refused:
        medialive.create_channel(Name="c", RoleArn=ROLE)
    assert "iam:PassRole" in str(refused.value)
    denied = {e["operation"]: e for e in gw.events() if e.get("type") == "call.denied"}
    assert ROLE in denied["CreatePipeline"]["resources"] and ROLE in denied["CreateChannel"]["resources"], denied
