"""Inputs the session-9 review of the command line found taken, or crashing: each is now a usage error (exit 2) that
names the input, and leaves nothing behind."""
from conftest import run, tally_bin


def tally(*args):
    return run([tally_bin(), *map(str, args)], check=False)


def test_init_bounds_its_epoch_settings_and_leaves_no_half_made_home(tmp_path):
    for args, fragment in [(["--epochs", "50000000"], "--epochs 50000000"),
                           (["--epoch-seconds", "9223372036854775807"], "--epoch-seconds")]:
        home = tmp_path / f"h{len(fragment)}"
        p = tally("init", "--home", home, *args)
        assert p.returncode == 2 and fragment in p.stderr, (args, p.returncode, p.stderr[-800:])
        assert not home.exists(), f"{args} left {list(home.rglob('*'))}"
        assert tally("init", "--home", home).returncode == 0  # the same path still takes a proper init


def test_principal_and_role_are_checked(tmp_path):
    home = tmp_path / "h"
    assert tally("init", "--home", home).returncode == 0
    for principal in ["a\x1b[31mred\x1b[0m", "   ", "tab\there", "x" * 257]:
        p = tally("credentials", "issue", "--home", home, "--principal", principal, "--json")
        assert p.returncode == 2 and "--principal" in p.stderr and "\x1b" not in p.stderr, (principal, p.stderr)
    for role in ["arn:aws:iam::123:role/x", "arn:aws:iam::123456789012:user/x", "arn:aws:s3:::123456789012:role/x",
                 "arn:aws:iam::123456789012:role/"]:
        p = tally("credentials", "issue", "--home", home, "--principal", "ok", "--role", role, "--json")
        assert p.returncode == 2 and "--role" in p.stderr, (role, p.stderr)
    assert tally("credentials", "issue", "--home", home, "--principal", "Ωmega agent", "--role",
                 "arn:aws:iam::123456789012:role/path/reader", "--json").returncode == 0
    assert len(tally("ledger", "cat", "--home", home).stdout.splitlines()) == 1  # only the good issue was recorded


def test_prove_beyond_the_end_says_so(tmp_path):
    home = tmp_path / "h"
    assert tally("init", "--home", home).returncode == 0
    run([tally_bin(), "ledger", "append", "--home", str(home)], input='{"type":"note","n":1}\n')
    p = tally("ledger", "prove", "--home", home, "--seq", 5)
    assert p.returncode == 2 and "beyond the end of the ledger (1 records)" in p.stderr, p.stderr
