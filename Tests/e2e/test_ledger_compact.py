"""`tally ledger compact`: sealed segments recompressed with LZ4HC. Every record, checkpoint and
proof bundle must stay valid, for Tally's verifier and for the auditor's independent verifier
(Tests/e2e/auditor/verify_ledger.py, written from docs/LEDGER-FORMAT.md alone)."""
import json
import os
import random

from ledger_fixtures import home, tally  # noqa: F401
import subprocess
import sys
from pathlib import Path

AUDITOR = Path(__file__).parent / "auditor" / "verify_ledger.py"


def noisy_lines(n, start, rnd):
    # Random request ids keep the data from compressing to nothing, so the ledger spans segments.
    return "".join(json.dumps({"type": "call.requested", "n": i, "service": "s3", "operation": "GetObject",
                               "request_id": "%040x" % rnd.getrandbits(160), "key": "k/%d" % (i % 977)},
                              sort_keys=True, separators=(",", ":")) + "\n"
                   for i in range(start, start + n)).encode()


def seg_sizes(home):
    d = Path(home) / "ledger" / "segments"
    return {p.name: p.stat().st_size for p in d.iterdir()}


def test_compact_keeps_every_hash_and_the_auditor_agrees(home, tmp_path):
    rnd = random.Random(7)
    for k in range(3):
        r = tally("ledger", "append", "--home", home, input=noisy_lines(100_000, k * 100_000, rnd), check=0, timeout=300)
        assert r.stdout.decode().splitlines()[-1] == f"committed {(k + 1) * 100_000}"
    before = seg_sizes(home)
    assert len(before) >= 2, before
    # Records from the first (sealed, compacted) and the last segment read back byte for byte.
    ranges = [(1, 3000), (150_000, 153_000), (299_000, 300_000)]
    cat_before = [tally("ledger", "cat", "--home", home, "--from", a, "--to", b, check=0).stdout for a, b in ranges]
    bundle = tmp_path / "proof.json"
    bundle.write_bytes(tally("ledger", "prove", "--home", home, "--seq", 12345, check=0).stdout)

    out = json.loads(tally("ledger", "compact", "--home", home, "--json", check=0, timeout=300).stdout)
    after = seg_sizes(home)
    newest = max(before)
    assert out["compacted"] == sorted(n for n in before if n != newest)
    assert after[newest] == before[newest]
    assert all(after[n] < before[n] for n in out["compacted"])
    assert out["bytesAfter"] == sum(after.values()) < out["bytesBefore"] == sum(before.values())

    assert [tally("ledger", "cat", "--home", home, "--from", a, "--to", b, check=0).stdout for a, b in ranges] == cat_before
    v = json.loads(tally("ledger", "verify", "--home", home, "--json", check=0, timeout=300).stdout)
    assert v["ok"] is True and v["records"] == 300_000
    a = subprocess.run([sys.executable, str(AUDITOR), str(home)], capture_output=True, timeout=600)
    assert a.returncode == 0, a.stdout + a.stderr
    aj = json.loads(a.stdout)
    assert aj["ok"] is True and aj["records"] == 300_000
    r = tally("ledger", "verify-proof", bundle, "--public-key", Path(home) / "ledger.pub")
    assert r.returncode == 0, r.stderr

    # Appends continue; a second compaction finds nothing to do.
    r = tally("ledger", "append", "--home", home, input=noisy_lines(10, 300_000, rnd), check=0)
    assert r.stdout.decode().splitlines()[-1] == "committed 300010"
    again = json.loads(tally("ledger", "compact", "--home", home, "--json", check=0, timeout=300).stdout)
    assert again["compacted"] == [] and again["bytesBefore"] == again["bytesAfter"]


def test_compact_bad_usage(home, tmp_path):
    r = tally("ledger", "compact", "--home", home, "--level", 0)
    assert r.returncode == 2 and "level" in r.stderr.decode()
    r = tally("ledger", "compact", "--home", tmp_path / "nowhere")
    assert r.returncode == 2 and "nowhere" in r.stderr.decode()


def test_compact_names_a_damaged_segment_and_exits_1(tmp_path):
    """Session 12: a segment left alone because it is damaged was reported in "skipped" with exit 0."""
    home = tmp_path / "small"
    tally("init", "--home", home, "--block-bytes", 4096, "--segment-bytes", 40_000, check=0)
    rnd = random.Random(3)
    for k in range(8):
        tally("ledger", "append", "--home", home, input=noisy_lines(400, k * 400, rnd), check=0)
    segs = sorted((home / "ledger" / "segments").iterdir())
    assert len(segs) >= 3, segs
    data = bytearray(segs[0].read_bytes())
    data[len(data) // 2] ^= 0x01
    segs[0].write_bytes(bytes(data))
    r = tally("ledger", "compact", "--home", home, "--json", timeout=300)
    out = json.loads(r.stdout)
    assert r.returncode == 1 and "left as they are" in r.stderr.decode(), (r.returncode, r.stderr)
    assert [s["file"] for s in out["skipped"] if s["reason"] != "already compact"] == [segs[0].name], out
