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
