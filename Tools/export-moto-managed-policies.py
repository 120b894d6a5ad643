#!/usr/bin/env python3
"""Writes the AWS managed policies that moto ships (moto/iam/aws_managed_policies.py) as one JSON
object {"PolicyName": {"Document": {...}, ...}} for `tally-bench iam-eval --managed-policies FILE`.

Usage: Tools/export-moto-managed-policies.py OUT.json   (needs `pip install moto`)
"""
import json
import sys

import moto
import moto.iam.aws_managed_policies as managed

if len(sys.argv) != 2:
    sys.exit(__doc__)
data = json.loads(managed.aws_managed_policies_data)
with open(sys.argv[1], "w") as out:
    json.dump(data, out)
print(f"wrote {len(data)} managed policies from moto {moto.__version__} to {sys.argv[1]}")
