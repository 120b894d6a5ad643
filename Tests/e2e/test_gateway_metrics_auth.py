"""/_tally/metrics shares the agents' listener, so it needs a bearer token (security review finding 13): the
config's metricsToken, or the one the gateway writes to H/gateway/metrics.token (0600). metricsPublic opens it."""
import stat

import requests

from conftest import Gateway


def test_metrics_need_the_token_file_by_default(gateway, agent):
    gateway.aws(agent, "sts", "get-caller-identity")
    url = gateway.url + "/_tally/metrics"
    r = requests.get(url)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer") and "tally_gateway" not in r.text
    assert requests.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    # the agent's own (SigV4) credential is no metrics credential either
    assert requests.get(url, headers={"Authorization": f"Bearer {agent['SecretAccessKey']}"}).status_code == 401
    path = gateway.home / "gateway" / "metrics.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    assert len(token) == 64
    r = requests.get(url, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and 'tally_gateway_calls_total{service="sts",outcome="ok"}' in r.text
    # health stays open; a Bearer request elsewhere under /_tally/ is answered by the gateway, never forwarded
    assert requests.get(gateway.url + "/_tally/health").json()["status"] == "ok"
    assert requests.get(gateway.url + "/_tally/other", headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_configured_token_and_public_metrics(moto, tmp_path):
    token = "configured-metrics-token-0123456789"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    gw = Gateway(tmp_path / "a", moto.url, moto.admin_key_id, moto.admin_secret, config={"metricsToken": token})
    try:
        url = gw.url + "/_tally/metrics"
        assert requests.get(url).status_code == 401
        assert requests.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert not (gw.home / "gateway" / "metrics.token").exists()
    finally:
        gw.stop()
    gw = Gateway(tmp_path / "b", moto.url, moto.admin_key_id, moto.admin_secret, config={"metricsPublic": True})
    try:
        r = requests.get(gw.url + "/_tally/metrics")
        assert r.status_code == 200 and "tally_gateway_ledger_commit_seconds_count" in r.text
    finally:
        gw.stop()


def test_a_short_metrics_token_is_refused(tmp_path):
    import json
    import subprocess
    from conftest import run, tally_bin
    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home)])
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"metricsToken": "short"}))
    p = subprocess.run([tally_bin(), "gateway", "--home", str(home), "--listen", "127.0.0.1:0", "--upstream",
                        "http://127.0.0.1:9", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "metricsToken" in p.stderr
