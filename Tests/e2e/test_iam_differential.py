"""Differential test: `tally iam evaluate` against an independent evaluator from PyPI, moto's
IAM policy evaluator (moto.iam.access_control.IAMPolicy), on randomly generated identity policies
(seeded, so every run checks the same cases).

moto's evaluator covers a subset of the language, so the generator stays inside it: Action /
NotAction and Resource with `*` wildcards, exact-case action names, no conditions, no
NotResource, no `?` (moto turns policies into regular expressions and compares action names
case-sensitively). Mapping: moto DENIED = explicit-deny, PERMITTED = allow, NEUTRAL = implicit-deny.
"""
import json
import random
import subprocess

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from conftest import tally_bin

ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject", "iam:PassRole",
           "ec2:RunInstances", "ec2:DescribeInstances", "sqs:SendMessage", "dynamodb:PutItem"]
ACTION_PATTERNS = ACTIONS + ["*", "s3:*", "s3:Get*", "s3:*Object", "ec2:Describe*", "*:PutItem", "iam:*", "sqs:Send*"]
RESOURCES = ["arn:aws:s3:::b/k", "arn:aws:s3:::b", "arn:aws:s3:::c/x/y", "arn:aws:iam::123456789012:role/app",
             "arn:aws:ec2:us-east-1:123456789012:instance/i-1", "arn:aws:sqs:us-east-1:123456789012:q"]
RESOURCE_PATTERNS = RESOURCES + ["*", "arn:aws:s3:::b/*", "arn:aws:s3:::*", "arn:aws:iam::123456789012:role/*",
                                 "arn:aws:ec2:*:*:instance/*", "arn:aws:*:us-east-1:123456789012:*"]


def random_statement(rng: random.Random) -> dict:
    st = {"Effect": "Deny" if rng.random() < 0.25 else "Allow"}
    actions = rng.sample(ACTION_PATTERNS, rng.randint(1, 3))
    st["NotAction" if rng.random() < 0.15 else "Action"] = actions if len(actions) > 1 else actions[0]
    resources = rng.sample(RESOURCE_PATTERNS, rng.randint(1, 2))
    st["Resource"] = resources if len(resources) > 1 else resources[0]
    return st


def random_policy(rng: random.Random) -> dict:
    return {"Version": "2012-10-17", "Statement": [random_statement(rng) for _ in range(rng.randint(1, 4))]}


def moto_decision(policies, action: str, resource: str) -> str:
    results = [IAMPolicy(json.dumps(p)).is_action_permitted(action, resource) for p in policies]
    if PermissionResult.DENIED in results:
        return "explicit-deny"
    if PermissionResult.PERMITTED in results:
        return "allow"
    return "implicit-deny"


def tally_decision(paths, action: str, resource: str) -> dict:
    args = [tally_bin(), "iam", "evaluate", "--action", action, "--resource", resource, "--json"]
    for p in paths:
        args += ["--policy", str(p)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    out = json.loads(proc.stdout)
    assert proc.returncode == (0 if out["decision"] == "allow" else 1), proc.stderr
    return out


@pytest.mark.parametrize("seed", range(40))
def test_matches_moto_on_random_policies(seed, tmp_path):
    rng = random.Random(seed)
    policies = [random_policy(rng) for _ in range(rng.randint(1, 3))]
    paths = []
    for i, policy in enumerate(policies):
        path = tmp_path / f"policy-{i}.json"
        path.write_text(json.dumps(policy))
        paths.append(path)
    for _ in range(6):
        action, resource = rng.choice(ACTIONS), rng.choice(RESOURCES)
        expected = moto_decision(policies, action, resource)
        got = tally_decision(paths, action, resource)
        assert got["decision"] == expected, (policies, action, resource, got)
        if expected == "explicit-deny":
            assert got["statements"] and all(s["effect"] == "Deny" for s in got["statements"])


def test_generator_reaches_every_outcome():
    """The comparison above is only meaningful if the generated cases cover all three outcomes."""
    seen = set()
    for seed in range(40):
        rng = random.Random(seed)
        policies = [random_policy(rng) for _ in range(rng.randint(1, 3))]
        for _ in range(6):
            seen.add(moto_decision(policies, rng.choice(ACTIONS), rng.choice(RESOURCES)))
    assert seen == {"allow", "explicit-deny", "implicit-deny"}
