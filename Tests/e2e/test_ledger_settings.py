"""Checkpoint frequency and block/segment sizes are chosen at `tally init` and kept in
H/ledger/settings.json for every writer of the home (issue 2: "configurable; defaults 10,000 and 1 s")."""
import json
import re

from ledger_fixtures import lines, tally


def checkpoint_sizes(home):
    text = (home / "ledger" / "checkpoints.log").read_text()
    return [int(m) for m in re.findall(r"^[^\n]+\n(\d+)\n[A-Za-z0-9+/=]+\n\n\u2014 ", text, flags=re.M)]


def test_defaults_are_written_at_init(tmp_path):
    h = tmp_path / "h"
    tally("init", "--home", h, "--epochs", 4, check=0)
    s = json.loads((h / "ledger" / "settings.json").read_text())
    assert s == {"block_max_bytes": 4 << 20, "checkpoint_every_records": 10000,
                 "checkpoint_interval_seconds": 1, "segment_max_bytes": 8 << 20}


def test_checkpoint_every_n_records_is_honoured_by_append(tmp_path):
    h = tmp_path / "h"
    tally("init", "--home", h, "--epochs", 4, "--checkpoint-every", 3, "--checkpoint-interval", 3600, check=0)
    r = tally("ledger", "append", "--home", h, input=lines(10), check=0)
    assert r.stdout.decode().splitlines()[-1] == "committed 10"
    sizes = checkpoint_sizes(h)
    # One batch: every 3 records inside it, and the close covers the rest.
    assert sizes == [3, 6, 9, 10], sizes
    v = json.loads(tally("ledger", "verify", "--home", h, "--json", check=0).stdout)
    assert v["ok"] and v["checkpoints"] == 4


def test_small_segments_roll_over(tmp_path):
    h = tmp_path / "h"
    tally("init", "--home", h, "--epochs", 4, "--block-bytes", 4096, "--segment-bytes", 8192, check=0)
    tally("ledger", "append", "--home", h, input=lines(3000), check=0)
    assert len(list((h / "ledger" / "segments").iterdir())) > 2
    assert json.loads(tally("ledger", "verify", "--home", h, "--json", check=0).stdout)["ok"]


def test_bad_settings_are_refused(tmp_path):
    for args, word in [(["--checkpoint-every", 0], "checkpoint every"), (["--checkpoint-interval", 0], "interval"),
                       (["--block-bytes", 10], "block size"), (["--segment-bytes", 100], "segment size")]:
        h = tmp_path / ("h%d" % len(word))
        r = tally("init", "--home", h, "--epochs", 4, *args)
        assert r.returncode == 2 and word in r.stderr.decode(), r.stderr
        assert not (h / "ledger.pub").exists()
    # A damaged settings file is named in the error; nothing is appended.
    h = tmp_path / "damaged"
    tally("init", "--home", h, "--epochs", 4, check=0)
    (h / "ledger" / "settings.json").write_text('{"checkpoint_every_records": "many"}')
    r = tally("ledger", "append", "--home", h, input=lines(2))
    assert r.returncode == 2 and "settings.json" in r.stderr.decode()
    assert tally("ledger", "cat", "--home", h, check=0).stdout == b""
