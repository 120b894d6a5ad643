"""Crash safety: a child `tally ledger append` killed with SIGKILL at random moments, many rounds.
Every seq it acknowledged ("committed N") survives intact, the torn tail is repaired and reported,
and appends continue with the next seq."""
import json
import os
import random
import signal
import subprocess
import time

from ledger_fixtures import home, independent, lines, tally, tally_path  # noqa: F401


def test_sigkill_rounds(home):
    rng = random.Random(int(os.environ.get("TALLY_CRASH_SEED", "20261126")))
    acknowledged = 0
    for rnd in range(25):
        p = subprocess.Popen([tally_path(), "ledger", "append", "--home", str(home)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        start = acknowledged
        # Feed batches of lines; kill after a random delay.
        deadline = time.time() + rng.uniform(0.05, 0.6)
        sent = 0
        try:
            while time.time() < deadline:
                p.stdin.write(lines(rng.randrange(1, 400), start + sent))
                p.stdin.flush()
                sent += 1
        except BrokenPipeError:
            pass
        p.send_signal(signal.SIGKILL)
        out, err = p.communicate()
        committed = [int(l.split()[1]) for l in out.decode().splitlines() if l.startswith("committed ")]
        if committed:
            acknowledged = max(acknowledged, committed[-1])
        # Everything acknowledged is there, intact; the ledger verifies (torn tails are warnings).
        v = json.loads(tally("ledger", "verify", "--home", home, "--json").stdout)
        assert v["ok"], (rnd, v["problems"])
        assert v["records"] >= acknowledged
        # The next append repairs (and reports) any torn tail and continues at the next seq.
        r = tally("ledger", "append", "--home", home, input=b'{"type":"after.crash","round":%d}\n' % rnd, check=0)
        n = int(r.stdout.decode().split()[-1])
        assert n == v["records"] + 1
        acknowledged = n
    cat = [json.loads(l) for l in tally("ledger", "cat", "--home", home, check=0).stdout.decode().splitlines()]
    assert [e["seq"] for e in cat] == list(range(1, len(cat) + 1))
    assert len(cat) == acknowledged
    v = json.loads(tally("ledger", "verify", "--home", home, "--json", check=0).stdout)
    assert v["ok"] and v["warnings"] == []
    assert independent(home).returncode == 0
