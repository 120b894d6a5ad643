"""The preallocated zero tail (docs/LEDGER-FORMAT.md §4.5), as the three verifiers read it: `tally ledger verify`, the
independent verifier written from the format document, and the auditor's. A writer that stops with zeros written
ahead of its data leaves a ledger that verifies with no warning; a zero page before a later block in the newest
segment is an unsynced append (a torn tail: a warning); the same bytes in a sealed segment, or non-zero garbage,
are damage."""
from ledger_fixtures import home, lines, tally, verdicts  # noqa: F401 - `home` is a fixture


def segments(h):
    return sorted((h / "ledger" / "segments").glob("seg-*.tseg"))


def last_block(data: bytes) -> bytes:
    at = data.rfind(b"TBLK")
    return data[at:]


def test_a_zero_tail_is_not_data_and_not_damage(home):
    tally("ledger", "append", "--home", home, input=lines(20), check=0)
    seg = segments(home)[-1]
    seg.write_bytes(seg.read_bytes() + bytes(1 << 20))
    for name, ok, problems, warnings in verdicts(home):
        assert ok and not problems and "torn-tail" not in warnings, (name, problems, warnings)
    # The next writer appends where the data ends and keeps what it appended.
    tally("ledger", "append", "--home", home, input=lines(5, start=20), check=0)
    assert len(tally("ledger", "cat", "--home", home, check=0).stdout.splitlines()) == 25
    for name, ok, problems, warnings in verdicts(home):
        assert ok and not problems and "torn-tail" not in warnings, (name, problems, warnings)


def test_a_zero_page_before_a_later_block_in_the_newest_segment_is_a_torn_tail(home):
    tally("ledger", "append", "--home", home, input=lines(20), check=0)
    seg = segments(home)[-1]
    data = seg.read_bytes()
    seg.write_bytes(data + bytes(8192) + last_block(data))
    for name, ok, problems, warnings in verdicts(home):
        assert ok and not problems and "torn-tail" in warnings, (name, problems, warnings)
    r = tally("ledger", "append", "--home", home, input=lines(1, start=20), check=0)
    assert b"torn" in r.stderr, r.stderr
    assert len(seg.read_bytes()) < len(data) + 8192, "the unsynced append was cut off"
    for name, ok, problems, warnings in verdicts(home):
        assert ok and not problems, (name, problems, warnings)


def test_garbage_or_a_sealed_segment_is_still_damage(home, tmp_path):
    tally("ledger", "append", "--home", home, input=lines(20), check=0)
    seg = segments(home)[-1]
    data = seg.read_bytes()
    seg.write_bytes(data + b"\x5a" * 8192 + last_block(data))
    for name, ok, problems, _ in verdicts(home):
        assert not ok and "damaged-block" in problems, (name, problems)
    assert tally("ledger", "append", "--home", home, input=lines(1, start=20)).returncode != 0

    # A zero page in a sealed segment (one with a segment after it) is damage too: no writer appends there.
    sealed_home = tmp_path / "sealed"
    tally("init", "--home", sealed_home, "--epochs", "24", "--segment-bytes", "16384", check=0)
    for i in range(8):
        tally("ledger", "append", "--home", sealed_home, input=lines(500, start=500 * i), check=0)
    segs = segments(sealed_home)
    assert len(segs) >= 2
    first = segs[0].read_bytes()
    blocks = [i for i in range(len(first)) if first.startswith(b"TBLK", i)]
    assert len(blocks) >= 2
    at = blocks[-1]
    page = (at // 4096 + 1) * 4096
    # Zero the last block's header and the rest of its page, and move the block after it: a sealed segment
    # whose bytes look like an unsynced append.
    segs[0].write_bytes(first[:at] + bytes(page - at + 4096) + first[at:])
    for name, ok, problems, _ in verdicts(sealed_home):
        assert not ok and problems, (name, problems)
