"""Security review finding 10: when the credential registry changes but cannot be read, the gateway refuses
every key (503 ServiceUnavailable, recorded as call.denied, never forwarded) instead of serving a stale cache
that may still hold a key revoked just before; once the registry reads again, valid keys work again."""

import requests

from conftest import Gateway


def test_unreadable_registry_refuses_every_key_until_it_reads(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret)
    try:
        cred = gw.issue("agent-registry")
        gw.aws(cred, "sts", "get-caller-identity")
        registry = gw.home / "gateway" / "credentials.json"
        good = registry.read_bytes()
        registry.write_text("{ this is not the registry " + "x" * 64)
        p = gw.aws(cred, "sts", "get-caller-identity", check=False, AWS_MAX_ATTEMPTS="1")
        assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
        # session 13: the health check and the metrics say so (health said "ok"; the denial counted as "authentication")
        health = requests.get(gw.url + "/_tally/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable", health.text
        assert "credentials.json" not in health.text  # open endpoint: no file, no error text
        token = (gw.home / "gateway" / "metrics.token").read_text().strip()
        metrics = requests.get(gw.url + "/_tally/metrics", headers={"Authorization": f"Bearer {token}"}).text
        assert 'tally_gateway_denials_total{reason="registry"} 1' in metrics, metrics
        registry.write_bytes(good)
        assert requests.get(gw.url + "/_tally/health").json()["status"] == "ok"
        gw.aws(cred, "sts", "get-caller-identity")
        denied = [e for e in gw.events() if e.get("type") == "call.denied" and e.get("accessKeyId") == cred["AccessKeyId"]]
        assert len(denied) == 1 and denied[0]["status"] == 503 and "registry" in denied[0]["reason"]
        ok = [e for e in gw.events(settle=True) if e.get("type") == "call.completed" and e.get("session") == cred["AccessKeyId"]]
        assert len(ok) == 2 and all(e["status"] == 200 for e in ok)
    finally:
        gw.stop()
