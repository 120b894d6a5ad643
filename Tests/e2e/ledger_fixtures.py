"""Fixtures for the ledger end-to-end tests: the built `tally` binary and fresh homes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VERIFIER = HERE / "independent_verifier.py"
AUDITOR = HERE / "auditor" / "verify_ledger.py"


def tally_path() -> str:
    path = os.environ.get("TALLY_BIN") or str(REPO / ".build" / "debug" / "tally")
    if not os.path.exists(path):
        pytest.fail(f"TALLY_BIN={path} does not exist: build it with `swift build --product tally`")
    return path


def tally(*args, input=None, check=None, timeout=120):
    r = subprocess.run([tally_path(), *map(str, args)], input=input, capture_output=True, timeout=timeout)
    if check is not None:
        assert r.returncode == check, f"tally {' '.join(map(str, args))} exited {r.returncode}: {r.stdout.decode()} {r.stderr.decode()}"
    return r


def independent(home, *args):
    return subprocess.run([sys.executable, str(VERIFIER), str(home), *map(str, args)], capture_output=True, timeout=300)


def verdicts(home):
    """(name, ok, problem kinds, warning kinds) from each of the three verifiers: `tally ledger verify`, the
    independent verifier written from the format document, and the auditor's."""
    ours = json.loads(tally("ledger", "verify", "--home", home, "--json").stdout)
    theirs = json.loads(independent(home, "--json").stdout)
    auditor = json.loads(subprocess.run([sys.executable, str(AUDITOR), str(home)], capture_output=True, timeout=300).stdout)
    return [(name, r["ok"], sorted({p["kind"] for p in r["problems"]}), sorted({w["kind"] for w in r["warnings"]}))
            for name, r in (("tally", ours), ("independent", theirs), ("auditor", auditor))]


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    tally("init", "--home", h, "--epochs", "24", check=0)
    return h


def lines(n, start=0):
    return "".join('{"type":"call.requested","n":%d,"service":"s3","op":"GetObject","params":{"Bucket":"b","Key":"k/%d"}}\n' % (i, i)
                   for i in range(start, start + n)).encode()
