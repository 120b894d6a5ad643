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


def test_verify_says_it_cannot_read_a_file_instead_of_reporting_damage(tmp_path):
    """A segment verify may not read (mode 000, as another user) is an I/O error (exit 2) naming the file; it was
    reported as a missing segment plus every checkpoint 'truncated' (exit 1), as if the ledger were damaged."""
    import os
    import shutil
    import stat
    import subprocess
    import tempfile
    base = tempfile.mkdtemp(prefix="tally-verify-perm-")
    try:
        os.chmod(base, 0o755)
        binary = os.path.join(base, "tally")
        shutil.copy(tally_bin(), binary)
        os.chmod(binary, 0o755)
        home = os.path.join(base, "h")
        assert tally("init", "--home", home).returncode == 0
        run([tally_bin(), "ledger", "append", "--home", home], input='{"type":"note"}\n')
        for root, dirs, files in os.walk(home):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        os.chmod(home, 0o755)
        seg = os.path.join(home, "ledger", "segments", "seg-00000001.tseg")
        os.chmod(seg, 0)
        cmd = [binary, "ledger", "verify", "--home", home]
        if os.geteuid() == 0:  # root reads anything: verify as nobody
            assert shutil.which("setpriv"), "setpriv (util-linux) is needed to run this check as root"
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "cannot read" in p.stderr and "seg-00000001.tseg" in p.stderr, (p.returncode, p.stdout, p.stderr)
        assert "DAMAGE" not in p.stdout
        os.chmod(seg, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        assert subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_credentials_list_is_one_json_array_and_never_shows_a_changed_registry_as_valid(tmp_path):
    import json
    home = tmp_path / "h"
    assert tally("init", "--home", home).returncode == 0
    assert json.loads(tally("credentials", "list", "--home", home, "--json").stdout) == []
    assert tally("credentials", "list", "--home", tmp_path / "nope", "--json").returncode == 2
    cred = json.loads(tally("credentials", "issue", "--home", home, "--principal", "a", "--json").stdout)
    listed = json.loads(tally("credentials", "list", "--home", home, "--json").stdout)
    assert [c["accessKeyId"] for c in listed] == [cred["AccessKeyId"]] and listed[0]["status"] == "active"
    # Someone moves the expiry on by hand: credentials list refuses the file (its MAC), sessions list shows the
    # ledger's expiry and marks the session (it listed the edited expiry as valid before).
    registry = home / "gateway" / "credentials.json"
    doc = json.loads(registry.read_text())
    doc["credentials"][0]["expiresAt"] += 10 ** 8
    registry.write_text(json.dumps(doc))
    p = tally("credentials", "list", "--home", home, "--json")
    assert p.returncode == 1 and "does not check" in p.stderr and p.stdout == "", (p.returncode, p.stdout, p.stderr)
    sessions = json.loads(tally("sessions", "list", "--home", home, "--json").stdout)
    assert sessions[0]["status"] == "registry-differs" and sessions[0]["expiration"] == cred["Expiration"], sessions
    assert sessions[0]["registryDiffers"] == ["expiration"]


def test_small_cli_contract_fixes(tmp_path):
    """Usage errors after parsing say what is wrong without the root usage text; an empty range, a second revoke, a
    non-home and an invalid proof under --json each say so (session 9 review)."""
    import json
    home = tmp_path / "h"
    assert tally("init", "--home", home).returncode == 0
    p = tally("credentials", "issue", "--home", home, "--principal", "a", "--ttl", "0")
    assert p.returncode == 2 and "--ttl 0" in p.stderr and "Usage:" not in p.stderr, p.stderr
    # Decimal digits and one unit only (Double() also read hex, exponents, signs, inf and nan; session 11 probe).
    for bad in ("0x10m", "1e3s", "+1h", "inf", "nan", "1.h", ".5h", "1h1", "1 h", "1hh"):
        p = tally("credentials", "issue", "--home", home, "--principal", "a", f"--ttl={bad}")
        assert p.returncode == 2 and f"--ttl {bad}" in p.stderr, (bad, p.stderr)
    p = tally("credentials", "issue", "--home", home, "--principal", "a", "--ttl", "1.5h", "--json")
    assert p.returncode == 0, p.stderr
    (tmp_path / "plain").mkdir()
    p = tally("credentials", "issue", "--home", tmp_path / "plain", "--principal", "a")
    assert p.returncode == 2 and "not a Tally home" in p.stderr and list((tmp_path / "plain").iterdir()) == [], p.stderr
    run([tally_bin(), "ledger", "append", "--home", str(home)], input='{"type":"note"}\n{"type":"note"}\n')
    p = tally("ledger", "cat", "--home", home, "--from", 2, "--to", 1)
    assert p.returncode == 2 and "before --from" in p.stderr, p.stderr
    key = json.loads(tally("credentials", "issue", "--home", home, "--principal", "a", "--json").stdout)["AccessKeyId"]
    first = json.loads(tally("credentials", "revoke", "--home", home, key, "--json").stdout)
    second = json.loads(tally("credentials", "revoke", "--home", home, key, "--json").stdout)
    assert first["alreadyRevoked"] is False and second["alreadyRevoked"] is True and second["revokedAt"] == first["revokedAt"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"format":"tally-proof/v1"}')
    p = tally("ledger", "verify-proof", bad, "--public-key", home / "ledger.pub", "--json")
    assert p.returncode == 1 and json.loads(p.stdout)["valid"] is False, (p.stdout, p.stderr)
