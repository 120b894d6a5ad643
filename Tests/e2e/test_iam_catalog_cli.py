"""End-to-end checks of `tally iam actions`, `tally iam action` and `tally iam coverage` (the built binary)."""
import json
import subprocess

from conftest import tally_bin


def run(*args):
    return subprocess.run([tally_bin(), "iam", *args], capture_output=True, text=True, timeout=60)


def test_actions_expands_a_pattern():
    r = run("actions", "s3:Get*")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert "s3:GetObject" in lines and "s3:GetBucketPolicy" in lines
    assert all(line.startswith("s3:Get") for line in lines)
    j = run("actions", "S3:GETOBJECT", "--json")
    assert j.returncode == 0
    assert json.loads(j.stdout) == ["s3:GetObject"]


def test_actions_that_match_nothing_or_are_malformed():
    assert run("actions", "s3:NoSuchThing*").returncode == 1
    bad = run("actions", "not-a-pattern")
    assert bad.returncode == 2
    assert "not an action pattern" in bad.stderr


def test_action_json():
    r = run("action", "s3:getobject", "--json")
    assert r.returncode == 0, r.stderr
    a = json.loads(r.stdout)
    assert a["action"] == "s3:GetObject" and a["service"] == "s3" and a["name"] == "GetObject"
    assert a["accessLevel"] == "Read"
    obj = [t for t in a["resourceTypes"] if t["name"] == "object"][0]
    assert obj["arnTemplate"] == "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    assert "s3:ExistingObjectTag/<key>" in a["conditionKeys"]
    assert isinstance(a["dependentActions"], list)


def test_unknown_action_is_bad_input():
    r = run("action", "s3:GetObjekt")
    assert r.returncode == 2
    assert "unknown IAM action 's3:GetObjekt'" in r.stderr


def test_coverage_json_holds_99_percent():
    r = run("coverage", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    services = [s["service"] for s in report["services"]]
    assert services == ["s3", "iam", "sts", "ec2", "dynamodb", "sqs", "sns", "secretsmanager", "kms", "ssm",
                        "lambda", "logs", "cloudformation"]
    assert report["percent"] >= 99.0
    assert report["sources"]["botocore"] == "1.43.11"
    dynamodb = [s for s in report["services"] if s["service"] == "dynamodb"][0]
    # DynamoDB's transactions and batches are mapped per element of the body since session 10.
    assert dynamodb["unmapped"] == []
    kms = [s for s in report["services"] if s["service"] == "kms"][0]
    assert {u["operation"] for u in kms["unmapped"]} == {"GetKeyLastUsage"}
    text = run("coverage", "--service", "cloudwatch")
    assert text.returncode == 0
    assert "cloudwatch" in text.stdout and "unmapped cloudwatch:" in text.stdout
