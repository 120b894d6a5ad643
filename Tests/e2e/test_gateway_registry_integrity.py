"""Security review finding 12 (rest): a revocation survives a gateway restart and any edit of the credential
registry. The gateway reads every credential.revoked / credential.issued of the ledger at start; registry entries
carry an HMAC under a key derived from the master key; a registry whose MAC does not check (or that disagrees with
the ledger) is refused as a whole: every key gets 503 ServiceUnavailable, never forwarded, with an error log line
naming the file."""
import json
import time

from conftest import Gateway


def _moto_calls(moto) -> int:
    return moto.log_text().count("\n")


def test_revocation_survives_restart_with_a_rolled_back_registry_and_edits_are_refused(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret)
    home = gw.home
    registry = home / "gateway" / "credentials.json"
    try:
        a = gw.issue("agent-revoked")
        b = gw.issue("agent-kept")
        gw.aws(a, "sts", "get-caller-identity")
        gw.aws(b, "sts", "get-caller-identity")
        before_revoke = registry.read_bytes()  # valid MACs, a not revoked
        gw.tally("credentials", "revoke", "--home", str(home), a["AccessKeyId"])
        p = gw.aws(a, "sts", "get-caller-identity", check=False, AWS_MAX_ATTEMPTS="1")
        assert p.returncode != 0 and "InvalidClientTokenId" in p.stderr, p.stderr
        # the running gateway records the revocation (it holds the ledger): wait for it
        deadline = time.time() + 10
        while time.time() < deadline:
            registry_now = json.loads(registry.read_text())
            entry = next(c for c in registry_now["credentials"] if c["accessKeyId"] == a["AccessKeyId"])
            if entry.get("revocationRecorded") is not False:
                break
            time.sleep(0.2)
        assert entry.get("revocationRecorded") is not False
    finally:
        gw.stop()
    revoked = [e for e in gw.events() if e.get("type") == "credential.revoked" and e.get("accessKeyId") == a["AccessKeyId"]]
    assert len(revoked) == 1

    # Roll the registry back to before the revocation (its MACs are valid) and restart: still revoked.
    registry.write_bytes(before_revoke)
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, home=home)
    try:
        seen = _moto_calls(moto)
        p = gw.aws(a, "sts", "get-caller-identity", check=False, AWS_MAX_ATTEMPTS="1")
        assert p.returncode != 0 and "InvalidClientTokenId" in p.stderr, p.stderr
        gw.aws(b, "sts", "get-caller-identity")
        assert _moto_calls(moto) == seen + 1  # only b's call reached moto

        # An edit outside tally (here: a's revokedAt deleted, b's role raised in place) fails the MAC check:
        # every key is refused with 503, nothing is forwarded, and the log names the file.
        good = registry.read_bytes()
        doc = json.loads(good)
        for c in doc["credentials"]:
            if c["accessKeyId"] == b["AccessKeyId"]:
                c["role"] = "arn:aws:iam::123456789012:role/admin"
        registry.write_text(json.dumps(doc, indent=2))
        seen = _moto_calls(moto)
        p = gw.aws(b, "sts", "get-caller-identity", check=False, AWS_MAX_ATTEMPTS="1")
        assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
        assert _moto_calls(moto) == seen
        log = gw.log_tail(200)
        assert "credential registry refused" in log and str(registry) in log and "does not check" in log, log

        # Stripping the MACs (the format of the previous version) is refused too: the ledger says they existed.
        doc = json.loads(good)
        doc["format"] = "tally-credentials-v1"
        del doc["macs"]
        registry.write_text(json.dumps(doc, indent=2))
        p = gw.aws(b, "sts", "get-caller-identity", check=False, AWS_MAX_ATTEMPTS="1")
        assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr

        # `tally credentials issue` does not re-authenticate a tampered registry
        p = gw.tally("credentials", "issue", "--home", str(home), "--principal", "x", "--json", check=False)
        assert p.returncode != 0 and "MAC" in p.stderr, p.stderr

        registry.write_bytes(good)
        gw.aws(b, "sts", "get-caller-identity")
        denied = [e for e in gw.events() if e.get("type") == "call.denied" and e.get("accessKeyId") == b["AccessKeyId"]]
        assert len(denied) == 2 and all(e["status"] == 503 and "registry" in e["reason"] for e in denied)
    finally:
        gw.stop()
