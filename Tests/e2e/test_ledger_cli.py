"""The ledger's command-line contract (issue 2), bad input, proofs, and agreement with the
independent verifier written from docs/LEDGER-FORMAT.md."""
import json
import os
import shutil

from ledger_fixtures import home, independent, lines, tally  # noqa: F401


def test_init_append_cat_checkpoint_verify(home):
    assert (home / "ledger.pub").read_text().count("+") >= 2
    r = tally("ledger", "append", "--home", home, input=lines(5), check=0)
    assert r.stdout.decode().splitlines()[-1] == "committed 5"
    r = tally("ledger", "append", "--home", home, input=lines(3, 5), check=0)
    assert r.stdout.decode().splitlines()[-1] == "committed 8"
    cat = [json.loads(l) for l in tally("ledger", "cat", "--home", home, check=0).stdout.decode().splitlines()]
    assert [e["seq"] for e in cat] == list(range(1, 9))
    assert cat[0]["type"] == "call.requested" and cat[0]["n"] == 0 and cat[0]["time"].endswith("Z")
    part = [json.loads(l)["seq"] for l in tally("ledger", "cat", "--home", home, "--from", 3, "--to", 4, check=0).stdout.decode().splitlines()]
    assert part == [3, 4]
    note = tally("ledger", "checkpoint", "--home", home, check=0).stdout.decode()
    body, sig = note.split("\n\n")
    assert body.split("\n")[1] == "8" and sig.startswith("\u2014 ")
    v = json.loads(tally("ledger", "verify", "--home", home, "--json", check=0).stdout)
    assert v["ok"] is True and v["records"] == 8 and v["problems"] == []
    assert tally("init", "--home", home).returncode == 2  # never overwrites a ledger


def test_bad_lines_commit_everything_before(home):
    good = lines(2)
    for bad, what in [(b"{not json}\n", "line 3"), (b"[1,2]\n", "line 3"), (b'{"no":"type"}\n', "line 3"),
                      (b'{"type":7}\n', "line 3"), (b'{"type":"a","type":"b"}\n', "line 3"), (b'"str"\n', "line 3")]:
        before = len(tally("ledger", "cat", "--home", home, check=0).stdout.splitlines())
        r = tally("ledger", "append", "--home", home, input=good + bad + lines(1, 99))
        assert r.returncode == 2, bad
        assert what in r.stderr.decode(), r.stderr
        after = len(tally("ledger", "cat", "--home", home, check=0).stdout.splitlines())
        assert after == before + 2
        assert r.stdout.decode().splitlines()[-1] == f"committed {after}"
    # Oversized line (limit 1 MiB).
    big = b'{"type":"big","pad":"' + b"x" * (1 << 20) + b'"}\n'
    r = tally("ledger", "append", "--home", home, input=lines(1) + big)
    assert r.returncode == 2 and "line 2" in r.stderr.decode() and "limit" in r.stderr.decode()
    tally("ledger", "verify", "--home", home, check=0)
    assert independent(home).returncode == 0


def test_unreadable_or_foreign_home(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "something.txt").write_text("hi")
    for cmd in (["ledger", "append"], ["ledger", "verify"], ["ledger", "cat"], ["ledger", "checkpoint"]):
        r = tally(*cmd, "--home", foreign, input=lines(1))
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert "not a Tally home" in r.stderr.decode()
    r = tally("ledger", "verify", "--home", tmp_path / "missing")
    assert r.returncode == 2 and "no Tally home" in r.stderr.decode()
    if os.geteuid() != 0:  # root can read anything
        locked = tmp_path / "locked"
        tally("init", "--home", locked, "--epochs", "2", check=0)
        os.chmod(locked, 0)
        try:
            assert tally("ledger", "cat", "--home", locked).returncode == 2
        finally:
            os.chmod(locked, 0o755)


def test_prove_and_verify_proof(home, tmp_path):
    tally("ledger", "append", "--home", home, input=lines(13), check=0)
    bundle = tally("ledger", "prove", "--home", home, "--seq", 6, check=0).stdout
    p = tmp_path / "proof.json"
    p.write_bytes(bundle)
    assert tally("ledger", "verify-proof", p, "--public-key", home / "ledger.pub").returncode == 0
    doc = json.loads(bundle)
    # Tampered record → invalid (exit 1).
    import base64
    rec = base64.b64decode(doc["record"]).replace(b'"n":5', b'"n":6')
    bad = dict(doc, record=base64.b64encode(rec).decode())
    p.write_text(json.dumps(bad))
    assert tally("ledger", "verify-proof", p, "--public-key", home / "ledger.pub").returncode == 1
    # Another ledger's key → invalid.
    other = tmp_path / "other"
    tally("init", "--home", other, "--epochs", "2", check=0)
    p.write_bytes(bundle)
    assert tally("ledger", "verify-proof", p, "--public-key", other / "ledger.pub").returncode == 1
    assert tally("ledger", "prove", "--home", home, "--seq", 99).returncode == 2
    # Consistency of the newest checkpoint with the first 5 records.
    c = tally("ledger", "prove", "--home", home, "--consistency-from", 5, check=0).stdout
    p.write_bytes(c)
    assert tally("ledger", "verify-proof", p, "--public-key", home / "ledger.pub").returncode == 0
    doc = json.loads(c)
    p.write_text(json.dumps(dict(doc, old_root=doc["inclusion" if "inclusion" in doc else "consistency"][0])))
    assert tally("ledger", "verify-proof", p, "--public-key", home / "ledger.pub").returncode == 1


def test_witness_fork_and_truncation(home, tmp_path):
    tally("ledger", "append", "--home", home, input=lines(4), check=0)
    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    tally("ledger", "append", "--home", home, input=lines(2, 100), check=0)
    tally("ledger", "append", "--home", copy, input=lines(2, 200), check=0)
    witness = tmp_path / "witness.note"
    witness.write_text(tally("ledger", "checkpoint", "--home", home, check=0).stdout.decode())
    assert tally("ledger", "verify", "--home", home, "--witness", witness).returncode == 0
    forked = json.loads(tally("ledger", "verify", "--home", copy, "--witness", witness, "--json").stdout)
    assert not forked["ok"] and any(p["kind"] == "witness-fork" for p in forked["problems"])
    assert independent(copy, "--witness", witness).returncode == 1
    # Truncation: the home rolled back to an earlier copy.
    short = tmp_path / "short"
    shutil.copytree(home, short)
    segs = sorted((short / "ledger" / "segments").iterdir())
    os.truncate(segs[-1], segs[-1].stat().st_size - 5)
    (short / "ledger" / "checkpoints.log").write_text("")
    r = json.loads(tally("ledger", "verify", "--home", short, "--witness", witness, "--json").stdout)
    assert any(p["kind"] == "witness-truncation" for p in r["problems"])


def test_independent_verifier_agrees_on_damage(home, tmp_path):
    for i in range(3):
        tally("ledger", "append", "--home", home, input=lines(40, 40 * i), check=0)
    assert independent(home).returncode == 0
    seg = sorted((home / "ledger" / "segments").iterdir())[0]
    original = seg.read_bytes()
    import random
    rng = random.Random(7)
    for _ in range(40):
        pos = rng.randrange(len(original))
        damaged = bytearray(original)
        damaged[pos] ^= 1 << rng.randrange(8)
        seg.write_bytes(bytes(damaged))
        ours = tally("ledger", "verify", "--home", home, "--json")
        theirs = independent(home, "--json")
        assert ours.returncode == 1 and theirs.returncode == 1, (pos, ours.stdout, theirs.stdout)
        ours_kinds = {p["kind"] for p in json.loads(ours.stdout)["problems"]}
        theirs_kinds = {p["kind"] for p in json.loads(theirs.stdout)["problems"]}
        assert ours_kinds & theirs_kinds, (pos, ours_kinds, theirs_kinds)
    seg.write_bytes(original)
    assert tally("ledger", "verify", "--home", home).returncode == 0
    assert independent(home).returncode == 0


def test_interactive_append_acknowledges_each_line(home):
    """A writer that waits for "committed N" before sending the next line is never left waiting."""
    import subprocess
    from ledger_fixtures import tally_path
    p = subprocess.Popen([tally_path(), "ledger", "append", "--home", str(home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        for i in range(1, 6):
            p.stdin.write(b'{"type":"interactive","i":%d}\n' % i)
            p.stdin.flush()
            assert p.stdout.readline().decode().strip() == f"committed {i}"
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    assert p.returncode == 0


def test_cat_skips_a_damaged_block_and_prints_the_rest(home):
    """Session 12 probe: `ledger cat` printed nothing past (or, buffered, even before) the first damaged block. Now
    every intact record in range is printed, the damage is named on stderr, and the exit code says it."""
    for i in range(3):
        tally("ledger", "append", "--home", home, input=lines(40, 40 * i), check=0)
    seg = sorted((home / "ledger" / "segments").iterdir())[0]
    data = bytearray(seg.read_bytes())
    starts = [i for i in range(len(data)) if data[i:i + 4] == b"TBLK"]
    assert len(starts) >= 3, starts
    middle = starts[len(starts) // 2]
    data[middle + 68 + 3] ^= 0x10  # inside the middle block's payload: its checksum fails
    seg.write_bytes(bytes(data))
    r = tally("ledger", "cat", "--home", home)
    seqs = [json.loads(l)["seq"] for l in r.stdout.decode().splitlines()]
    assert r.returncode == 1 and "skipped damaged ledger data" in r.stderr.decode() and f"byte {middle}" in r.stderr.decode()
    assert seqs and seqs[0] == 1 and seqs[-1] == 120 and len(seqs) < 120 and seqs == sorted(seqs), seqs
    # a range after the damage is read whole; a range inside it is empty
    after = [json.loads(l)["seq"] for l in tally("ledger", "cat", "--home", home, "--from", 118, "--to", 120).stdout.decode().splitlines()]
    assert after == [118, 119, 120]
