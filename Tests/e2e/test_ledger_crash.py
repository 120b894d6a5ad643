"""Crash safety: a child `tally ledger append` killed with SIGKILL at random moments, many rounds.
Every seq it acknowledged ("committed N") survives intact (the ledger always holds exactly a
prefix of what was sent, in order), the torn tail is repaired and reported, and appends continue
with the next seq."""
import json
import os
import random
import signal
import subprocess
import time

from ledger_fixtures import home, independent, tally, tally_path  # noqa: F401


def test_sigkill_rounds(home):
    rng = random.Random(int(os.environ.get("TALLY_CRASH_SEED", "20261126")))
    acknowledged = 0
    in_ledger = []      # the "n" of every event the ledger holds, in seq order
    counter = 0
    for rnd in range(25):
        p = subprocess.Popen([tally_path(), "ledger", "append", "--home", str(home)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sent = []
        deadline = time.time() + rng.uniform(0.05, 0.6)
        try:
            while time.time() < deadline:
                chunk = []
                # Mostly small writes; every third round large bursts too, which the CLI reads as
                # several ~1 MiB batches at once: the ledger then hashes, writes and syncs them in
                # its pipeline (write and sync threads), and the kill lands in the middle of that.
                size = rng.randrange(1, 400) if rnd % 3 or rng.random() < 0.5 else rng.randrange(5_000, 20_000)
                for _ in range(size):
                    chunk.append(counter)
                    counter += 1
                p.stdin.write("".join('{"type":"crash.test","n":%d,"pad":"%s"}\n' % (n, "x" * (n % 50)) for n in chunk).encode())
                p.stdin.flush()
                sent += chunk
        except OSError:  # the child exited early (EPIPE and friends); what it acknowledged still counts
            pass
        p.send_signal(signal.SIGKILL)
        out, err = p.communicate()
        committed = [int(l.split()[1]) for l in out.decode().splitlines() if l.startswith("committed ")]
        if committed:
            assert committed == sorted(committed)
            acknowledged = max(acknowledged, committed[-1])
        v = json.loads(tally("ledger", "verify", "--home", home, "--json").stdout)
        assert v["ok"], (rnd, v["problems"])
        assert v["records"] >= acknowledged
        # The ledger holds exactly what it held before plus a prefix of what was sent this round.
        events = [json.loads(l) for l in tally("ledger", "cat", "--home", home, "--from", len(in_ledger) + 1, check=0).stdout.decode().splitlines()]
        got = [e["n"] for e in events]
        assert got == sent[:len(got)], (rnd, got[:5], sent[:5])
        in_ledger += got
        assert len(in_ledger) == v["records"]
        # The next append repairs (and reports) any torn tail and continues at the next seq.
        r = tally("ledger", "append", "--home", home, input=b'{"type":"after.crash","n":-1}\n', check=0)
        n = int(r.stdout.decode().split()[-1])
        assert n == v["records"] + 1
        in_ledger.append(-1)
        acknowledged = n
    cat = [json.loads(l) for l in tally("ledger", "cat", "--home", home, check=0).stdout.decode().splitlines()]
    assert [e["seq"] for e in cat] == list(range(1, len(cat) + 1))
    assert [e["n"] for e in cat] == in_ledger
    v = json.loads(tally("ledger", "verify", "--home", home, "--json", check=0).stdout)
    assert v["ok"] and v["warnings"] == []
    assert independent(home).returncode == 0
