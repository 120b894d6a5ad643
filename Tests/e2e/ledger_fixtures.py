"""Fixtures for the ledger end-to-end tests: the built `tally` binary and fresh homes."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VERIFIER = HERE / "independent_verifier.py"


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


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    tally("init", "--home", h, "--epochs", "24", check=0)
    return h


def lines(n, start=0):
    return "".join('{"type":"call.requested","n":%d,"service":"s3","op":"GetObject","params":{"Bucket":"b","Key":"k/%d"}}\n' % (i, i)
                   for i in range(start, start + n)).encode()
