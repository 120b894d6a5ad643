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


def _secret_v2(master: bytes, akid: str, expires_at: int, principal: str, role: str | None) -> str:
    """The credential secret as `tally credentials issue` derives it (tally-credential-v2)."""
    import base64
    import hashlib
    import hmac
    message = b"\0".join([b"tally-credential-v2", akid.encode(), str(expires_at).encode(), principal.encode(),
                          (role or "-").encode()])
    return base64.b64encode(hmac.new(master, message, hashlib.sha256).digest()).decode()[:40]


def test_a_registry_of_the_previous_version_keeps_working_and_is_upgraded(moto, tmp_path):
    """Migration: a credentials.json written before MACs existed (format tally-credentials-v1), whose credential.issued
    (recorded by the previous version, without `registryMAC`) is in the ledger, keeps working; the next
    `credentials issue` gives every entry a MAC; a legacy entry edited against the ledger is refused."""
    import subprocess
    from conftest import run, tally_bin
    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home)])
    now = int(time.time())
    akid, principal = "ASIATLYLEGACY2345672", "legacy-agent"
    issued = {"type": "credential.issued", "session": akid, "accessKeyId": akid, "principal": principal,
              "issuedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
              "expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))}
    p = subprocess.run([tally_bin(), "ledger", "append", "--home", str(home)], input=json.dumps(issued) + "\n",
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, home=home)  # creates the master key
    try:
        registry = home / "gateway" / "credentials.json"
        legacy = {"format": "tally-credentials-v1", "credentials": [
            {"accessKeyId": akid, "principal": principal, "issuedAt": now, "expiresAt": now + 3600, "secretVersion": 2}]}
        registry.write_text(json.dumps(legacy, indent=2))
        master = (home / "gateway" / "master.key").read_bytes()
        cred = {"AccessKeyId": akid, "SecretAccessKey": _secret_v2(master, akid, now + 3600, principal, None)}
        gw.aws(cred, "sts", "get-caller-identity")
        # the next issue (pending: the running gateway holds the ledger) upgrades the file: every entry gets a MAC
        new = gw.issue("new-agent")
        doc = json.loads(registry.read_text())
        assert doc["format"] == "tally-credentials-v2" and set(doc["macs"]) == {akid, new["AccessKeyId"]}
        gw.aws(cred, "sts", "get-caller-identity")
        gw.aws(new, "sts", "get-caller-identity")
        # a legacy-format entry whose principal disagrees with the ledger is refused (the whole registry: 503)
        legacy["credentials"][0]["principal"] = "someone-else"
        registry.write_text(json.dumps(legacy, indent=2))
        p = gw.aws(cred, "sts", "get-caller-identity", check=False, AWS_MAX_ATTEMPTS="1")
        assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
    finally:
        gw.stop()
