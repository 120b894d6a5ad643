"""Differential test of the policy grammar: `tally iam lint` (exit 2 = invalid policy) against
moto's IAM policy validator (moto.iam.policy_validation, which mirrors IAM's MalformedPolicyDocument
checks), on seeded random documents and mutations both should agree on.

Tally's grammar is a superset where IAM identity policies are stricter (it also reads trust and
resource policies: Resource may be absent, Principal present, duplicate Sids are a lint finding), so
generated valid documents always carry Version 2012-10-17, a Resource and unique Sids.
"""
import copy
import json
import random
import subprocess

import pytest
from moto.iam.exceptions import MalformedPolicyDocument
from moto.iam.policy_validation import IAMPolicyDocumentValidator

from conftest import tally_bin

ACTIONS = ["s3:GetObject", "s3:Get*", "ec2:Describe*", "iam:PassRole", "dynamodb:PutItem", "sqs:*", "*"]
RESOURCES = ["*", "arn:aws:s3:::b/*", "arn:aws:iam::123456789012:role/app-*", "arn:aws:dynamodb:us-east-1:123456789012:table/t"]
CONDITIONS = [
    {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
    {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}},
    {"ForAnyValue:StringLike": {"aws:TagKeys": ["env*"]}},
    {"NumericLessThanEquals": {"s3:max-keys": "10"}},
    {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"StringNotEqualsIfExists": {"aws:RequestedRegion": "us-east-1"}},
]


def valid_policy(rng: random.Random) -> dict:
    statements = []
    for i in range(rng.randint(1, 3)):
        st = {"Sid": f"S{i}", "Effect": rng.choice(["Allow", "Deny"]),
              rng.choice(["Action", "NotAction"]): rng.sample(ACTIONS, rng.randint(1, 2)),
              rng.choice(["Resource", "Resource", "NotResource"]): rng.sample(RESOURCES, rng.randint(1, 2))}
        if rng.random() < 0.5:
            st["Condition"] = rng.choice(CONDITIONS)
        statements.append(st)
    return {"Version": "2012-10-17", "Statement": statements}


def mutate(policy: dict, rng: random.Random) -> tuple[str, dict]:
    p = copy.deepcopy(policy)
    st = rng.choice(p["Statement"])
    kind = rng.choice(["effect", "element", "operator", "action", "resource", "both-actions", "no-action", "version"])
    if kind == "effect":
        st["Effect"] = rng.choice(["Permit", "Denied", ""])
    elif kind == "element":
        st["Actions"] = ["s3:GetObject"]
    elif kind == "operator":
        st["Condition"] = {rng.choice(["StringEqual", "IpAddresses", "ForSomeValues:StringLike", "DateBefore"]): {"aws:CurrentTime": "x"}}
    elif kind == "action":
        key = "Action" if "Action" in st else "NotAction"
        st[key] = [rng.choice(["s3GetObject", "GetObject", ""])]
    elif kind == "resource":
        key = "Resource" if "Resource" in st else "NotResource"
        st[key] = [rng.choice(["bucket", "s3:::b/*", "arn:aws:s3"])]
    elif kind == "both-actions":
        st["Action"], st["NotAction"] = ["s3:GetObject"], ["s3:PutObject"]
    elif kind == "no-action":
        st.pop("Action", None)
        st.pop("NotAction", None)
    elif kind == "version":
        p["Version"] = "2013-10-17"
    return kind, p


def moto_accepts(policy: dict) -> bool:
    try:
        IAMPolicyDocumentValidator(json.dumps(policy)).validate()
        return True
    except MalformedPolicyDocument:
        return False


def tally_accepts(policy: dict, tmp_path) -> bool:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(policy))
    proc = subprocess.run([tally_bin(), "iam", "lint", str(path), "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1, 2), proc.stderr
    return proc.returncode != 2


@pytest.mark.parametrize("seed", range(25))
def test_grammar_agrees_with_moto_validator(seed, tmp_path):
    rng = random.Random(1000 + seed)
    policy = valid_policy(rng)
    assert moto_accepts(policy), policy
    assert tally_accepts(policy, tmp_path), policy
    for _ in range(2):
        kind, bad = mutate(policy, rng)
        assert not moto_accepts(bad), (kind, bad)
        assert not tally_accepts(bad, tmp_path), (kind, bad)
