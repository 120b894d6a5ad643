"""`tally iam evaluate` and `tally iam lint` as a user runs them: output, exit codes, errors."""
import json
import subprocess

from conftest import tally_bin


def tally(*args):
    return subprocess.run([tally_bin(), *args], capture_output=True, text=True, timeout=60)


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


IDENTITY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Home", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
     "Resource": "arn:aws:s3:::data/home/${aws:username}/*"},
    {"Sid": "OnlyFromOffice", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}},
]}
USER = "arn:aws:iam::123456789012:user/alice"


def test_evaluate_allow_explicit_and_implicit_deny(tmp_path):
    policy = write(tmp_path, "identity.json", IDENTITY)
    base = ["iam", "evaluate", "--policy", policy, "--principal", USER, "--json"]
    ok = tally(*base, "--action", "s3:getobject", "--resource", "arn:aws:s3:::data/home/alice/a.txt",
               "--context", "aws:SourceIp=203.0.113.9")
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["decision"] == "allow"
    assert out["statements"] == [{"policy": policy, "kind": "identity", "index": 0, "sid": "Home", "effect": "Allow"}]

    away = tally(*base, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::data/home/alice/a.txt",
                 "--context", "aws:SourceIp=198.51.100.1")
    assert away.returncode == 1
    out = json.loads(away.stdout)
    assert out["decision"] == "explicit-deny"
    assert [s["sid"] for s in out["statements"]] == ["OnlyFromOffice"]

    other = tally(*base, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::data/home/bob/a.txt",
                  "--context", "aws:SourceIp=203.0.113.9")
    assert other.returncode == 1
    assert json.loads(other.stdout)["decision"] == "implicit-deny"


def test_evaluate_boundary_scp_session_and_resource_policies(tmp_path):
    allow_all = write(tmp_path, "all.json", {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})
    s3_only = write(tmp_path, "s3.json", {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}})
    for flag in ["--boundary", "--scp", "--session-policy"]:
        p = tally("iam", "evaluate", "--policy", allow_all, flag, s3_only, "--action", "ec2:RunInstances", "--resource", "*", "--json")
        assert p.returncode == 1, (flag, p.stdout, p.stderr)
        assert json.loads(p.stdout)["decision"] == "implicit-deny"
        p = tally("iam", "evaluate", "--policy", allow_all, flag, s3_only, "--action", "s3:GetObject", "--resource", "*", "--json")
        assert p.returncode == 0, (flag, p.stdout, p.stderr)
    bucket = write(tmp_path, "bucket.json", {"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Principal": {"AWS": USER}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}})
    p = tally("iam", "evaluate", "--resource-policy", bucket, "--principal", USER, "--action", "s3:PutObject",
              "--resource", "arn:aws:s3:::b/k", "--json")
    assert p.returncode == 0, p.stdout
    assert json.loads(p.stdout)["statements"][0]["kind"] == "resource-based"


def test_evaluate_multivalued_context(tmp_path):
    policy = write(tmp_path, "tags.json", {"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}}})
    args = ["iam", "evaluate", "--policy", policy, "--action", "ec2:CreateTags", "--resource", "*"]
    assert tally(*args, "--context", "aws:TagKeys=env", "--context", "aws:TagKeys=team").returncode == 0
    assert tally(*args, "--context", "aws:TagKeys=env", "--context", "aws:TagKeys=owner").returncode == 1


def test_evaluate_invalid_policy_exits_2_with_a_precise_error(tmp_path):
    bad = write(tmp_path, "bad.json", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": "ten"}}}]})
    p = tally("iam", "evaluate", "--policy", bad, "--action", "s3:GetObject", "--resource", "*")
    assert p.returncode == 2
    assert "Statement[1].Condition.NumericLessThan.s3:max-keys" in p.stderr
    assert "'ten' is not a number" in p.stderr
    p = tally("iam", "evaluate", "--policy", write(tmp_path, "broken.json", "{"), "--action", "s3:GetObject", "--resource", "*")
    assert p.returncode == 2
    p = tally("iam", "evaluate", "--policy", str(tmp_path / "missing.json"), "--action", "s3:GetObject", "--resource", "*")
    assert p.returncode == 2
    # A misspelt or wildcard action is bad input, not an implicit deny (it was exit 1 until session 10).
    allow = write(tmp_path, "allow.json", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    for action, hint in [("s3:GetObjekt", "unknown IAM action 's3:GetObjekt'"), ("s4:GetObject", "no service prefix 's4'"),
                         ("GetObject", "expected service:action"), ("s3:Get*", "unknown IAM action 's3:Get*'")]:
        p = tally("iam", "evaluate", "--policy", allow, "--action", action, "--resource", "*")
        assert p.returncode == 2 and "--action" in p.stderr and hint in p.stderr, (action, p.returncode, p.stderr)


def test_lint_findings_clean_and_invalid(tmp_path):
    risky = write(tmp_path, "risky.json", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObjekt", "s3:ListBucket"], "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"s3:prefx": "a"}}}]})
    p = tally("iam", "lint", risky, "--json")
    assert p.returncode == 1, p.stderr
    findings = json.loads(p.stdout)["findings"]
    codes = [(f["statement"], f["code"]) for f in findings]
    assert (0, "unknown-action") in codes
    assert (0, "resource-mismatch") in codes
    assert (1, "pass-role-wildcard") in codes
    assert (2, "unknown-condition-key") in codes

    clean = write(tmp_path, "clean.json", {"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}})
    p = tally("iam", "lint", clean)
    assert p.returncode == 0, p.stdout
    assert "no findings" in p.stdout

    invalid = write(tmp_path, "invalid.json", {"Statement": [{"Effect": "Permit", "Action": "s3:GetObject"}]})
    p = tally("iam", "lint", invalid)
    assert p.returncode == 2
    assert "Statement[0].Effect" in p.stderr


def test_evaluate_scp_levels(tmp_path):
    allow_all = write(tmp_path, "all.json", {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})
    s3 = write(tmp_path, "s3.json", {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}})
    ec2 = write(tmp_path, "ec2.json", {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}})
    base = ["iam", "evaluate", "--policy", allow_all, "--action", "s3:GetObject", "--resource", "*", "--json"]
    # One level holding both SCPs: a union, so S3 is allowed.
    assert tally(*base, "--scp", f"{s3},{ec2}").returncode == 0
    # Two levels: each must allow, so S3 is not.
    p = tally(*base, "--scp", s3, "--scp", ec2)
    assert p.returncode == 1
    assert json.loads(p.stdout)["decision"] == "implicit-deny"
