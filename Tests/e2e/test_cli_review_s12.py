"""Session 12 walk-through of the README as a new user: each test fails on the build before its fix."""
import json
import subprocess

from conftest import run, tally_bin


def events(home):
    return [json.loads(line) for line in run([tally_bin(), "ledger", "cat", "--home", str(home)]).stdout.splitlines()]


def test_revoke_with_a_tampered_registry_records_the_ledgers_facts_only(tmp_path):
    """A registry whose MACs fail cannot be trusted: revoke recorded its edited principal, and revoked a key added to
    it that was never issued. Now the revocation takes the principal from the ledger's credential.issued, and a key
    the ledger never issued is not revoked."""
    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home)])
    cred = json.loads(run([tally_bin(), "credentials", "issue", "--home", str(home), "--principal", "ci-agent", "--json"]).stdout)
    registry = home / "gateway" / "credentials.json"
    good = registry.read_bytes()
    doc = json.loads(good)
    entry = next(c for c in doc["credentials"] if c["accessKeyId"] == cred["AccessKeyId"])
    entry["principal"] = "evil"
    forged = dict(entry, accessKeyId="ASIATLYFORGED0000000", principal="forged")
    doc["credentials"].append(forged)
    registry.write_text(json.dumps(doc, indent=2))
    p = run([tally_bin(), "credentials", "revoke", "--home", str(home), cred["AccessKeyId"]], check=False)
    assert p.returncode == 1 and "was recorded in the ledger" in p.stderr, p.stderr
    p = run([tally_bin(), "credentials", "revoke", "--home", str(home), "ASIATLYFORGED0000000"], check=False)
    assert p.returncode == 1 and "holds no credential.issued" in p.stderr, p.stderr
    revoked = [e for e in events(home) if e.get("type") == "credential.revoked"]
    assert [(e["accessKeyId"], e["principal"]) for e in revoked] == [(cred["AccessKeyId"], "ci-agent")], revoked
    # The backup restored: `credentials list` says revoked (the ledger's revocation holds), as `sessions list` does.
    registry.write_bytes(good)
    listed = json.loads(run([tally_bin(), "credentials", "list", "--home", str(home), "--json"]).stdout)
    assert [(c["accessKeyId"], c["status"]) for c in listed] == [(cred["AccessKeyId"], "revoked")], listed


def test_iam_coverage_takes_signing_names_and_refuses_unknown_services():
    p = run([tally_bin(), "iam", "coverage", "--service", "monitoring", "--json"])
    rows = json.loads(p.stdout)["services"]
    assert [r["service"] for r in rows] == ["cloudwatch"] and rows[0]["operations"] > 40, rows
    p = run([tally_bin(), "iam", "coverage", "--service", "nosuch"], check=False)
    assert p.returncode == 2 and "--service nosuch" in p.stderr, (p.returncode, p.stderr)


def test_a_command_waiting_for_the_ledger_lock_says_so(tmp_path):
    """`ledger append` on a home whose lock another process holds (a running gateway) was silent for up to 10 s."""
    import fcntl
    import threading
    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home)])
    fd = open(home / "ledger" / "lock", "a+")
    fcntl.flock(fd, fcntl.LOCK_EX)
    threading.Timer(1.0, lambda: (fcntl.flock(fd, fcntl.LOCK_UN), fd.close())).start()
    p = subprocess.run([tally_bin(), "ledger", "append", "--home", str(home)], input='{"type":"note"}\n',
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout.strip() == "committed 1", (p.returncode, p.stdout, p.stderr)
    assert "locked by another process" in p.stderr and "waiting up to 10" in p.stderr, p.stderr


def test_bad_inputs_are_named(tmp_path):
    p = run([tally_bin(), "init", "--home", str(tmp_path / "h"), "--epochs", "0"], check=False)
    assert p.returncode == 2 and "--epochs 0" in p.stderr, p.stderr
    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home)])
    p = run([tally_bin(), "credentials", "issue", "--home", str(home), "--principal", "a", "--ttl", "0s"], check=False)
    assert p.returncode == 2 and "between 1m and 366d" in p.stderr, p.stderr
    policy = tmp_path / "p.json"
    policy.write_text('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}')
    for flag, value in (("--resource", "notanarn"), ("--principal", "bogus")):
        args = ["--resource", "arn:aws:s3:::b/k"] if flag == "--principal" else []
        p = run([tally_bin(), "iam", "evaluate", "--policy", str(policy), "--action", "s3:GetObject", flag, value, *args],
                check=False)
        assert p.returncode == 2 and f"{flag} '{value}'" in p.stderr, (flag, p.returncode, p.stderr)
