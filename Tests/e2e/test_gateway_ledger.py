"""What the gateway writes: a verifiable ledger with a requested/completed pair per forwarded call,
sessions and replay, no secret anywhere, and no forwarded call without a committed record (kill -9)."""
import json
import subprocess
import sys
import re
import threading
import time
import uuid

import pytest
import requests
from botocore.exceptions import ClientError, EndpointConnectionError

from pathlib import Path

from conftest import Gateway, kill9_under_load, run, tally_bin
from ledger_fixtures import verdicts


def test_pairs_verify_sessions_replay(gateway, agent):
    gateway.aws(agent, "sts", "get-caller-identity")
    gateway.aws(agent, "iam", "list-users")
    events = gateway.events(settle=True)
    requested = {e["callId"]: e for e in events if e.get("type") == "call.requested"}
    completed = {e["callId"]: e for e in events if e.get("type") == "call.completed"}
    assert requested and set(requested) == set(completed)
    for call_id, req in requested.items():
        assert req["_seq"] < completed[call_id]["_seq"]
        assert req["session"] == completed[call_id]["session"]
    issued = [e for e in events if e.get("type") == "credential.issued" and e.get("accessKeyId") == agent["AccessKeyId"]]
    assert len(issued) == 1 and issued[0]["principal"] == "agent-e2e"
    assert "SecretAccessKey" not in json.dumps(issued[0]) and agent["SecretAccessKey"] not in json.dumps(events)
    sts = [e for e in requested.values() if e.get("operation") == "GetCallerIdentity"]
    # GetCallerIdentity needs no IAM permission (the mapping says so explicitly, it is not "unmapped").
    assert sts[-1]["actions"] == [] and sts[-1]["mapped"] is True and sts[-1]["service"] == "sts"
    users = [e for e in requested.values() if e.get("operation") == "ListUsers"]
    assert users[-1]["actions"] == ["iam:ListUsers"] and users[-1]["resources"] == ["*"]
    # The upstream identity is the ARN of the gateway's own credential (STS GetCallerIdentity at startup).
    assert users[-1]["upstreamIdentity"] == "arn:aws:iam::123456789012:user/tally-gateway-admin"
    run([gateway.bin, "ledger", "verify", "--home", str(gateway.home)])

    sessions = json.loads(gateway.tally("sessions", "list", "--home", str(gateway.home), "--json").stdout)
    mine = next(s for s in sessions if s["session"] == agent["AccessKeyId"])
    assert mine["principal"] == "agent-e2e" and mine["calls"] >= 2 and mine["status"] == "active"
    replay = json.loads(gateway.tally("replay", agent["AccessKeyId"], "--home", str(gateway.home), "--json").stdout)
    seqs = [c["seq"] for c in replay]
    assert seqs == sorted(seqs)
    ops = [c.get("operation") for c in replay]
    assert "GetCallerIdentity" in ops and "ListUsers" in ops
    last = [c for c in replay if c.get("operation") == "ListUsers"][-1]
    assert last["decision"] == "allow" and last["status"] == 200 and last["outcome"] == "ok"
    assert last["latencyMs"] >= 0 and last["bytesOut"] > 0
    text = gateway.tally("replay", agent["AccessKeyId"], "--home", str(gateway.home)).stdout
    assert "ListUsers" in text
    missing = gateway.tally("replay", "ASIATLYNOSUCHSESSION", "--home", str(gateway.home), check=False)
    assert missing.returncode != 0 and "ASIATLYNOSUCHSESSION" in missing.stderr


def test_upstream_secret_canary_never_leaks(gateway, agent, moto, tmp_path):
    canary = moto.admin_secret
    bodies = []
    for args in (["sts", "get-caller-identity"], ["iam", "list-access-keys", "--user-name", "tally-gateway-admin"],
                 ["iam", "get-user", "--user-name", "no-such-user-" + uuid.uuid4().hex[:6]]):
        p = gateway.aws(agent, *args, "--debug", check=False)  # --debug prints full response bodies and headers
        bodies.append(p.stdout + p.stderr)
    assert all(canary not in b for b in bodies)
    assert canary not in gateway.log.read_text(errors="replace")
    for f in gateway.home.rglob("*"):
        if f.is_file():
            assert canary.encode() not in f.read_bytes(), f"canary in {f}"
    assert canary not in gateway.tally("ledger", "cat", "--home", str(gateway.home)).stdout


@pytest.mark.parametrize("segment_bytes", [None, 16384])  # the default, and segments that roll over every few calls
def test_kill9_under_load_leaves_no_unrecorded_upstream_call(moto, tmp_path, segment_bytes):
    if segment_bytes:
        run([tally_bin(), "init", "--home", str(tmp_path / "home"), "--segment-bytes", str(segment_bytes)])
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret)
    cred = gw.issue("agent-crash", ttl="1h")
    bucket = f"crash-{uuid.uuid4().hex[:8]}"
    gw.client(cred, "s3").create_bucket(Bucket=bucket)
    home = gw.home
    for round_ in range(3):
        def load(worker: int, stop: threading.Event):
            s3 = gw.client(cred, "s3")
            i = 0
            while not stop.is_set():
                try:
                    s3.put_object(Bucket=bucket, Key=f"r{round_}-w{worker}-{i}", Body=b"x" * 512)
                except Exception:  # noqa: BLE001 - the gateway dies mid-call
                    if stop.is_set():
                        return
                    time.sleep(0.05)
                i += 1

        kill9_under_load(gw, load)
        # The gateway writes its records over zeros written ahead (docs/LEDGER-FORMAT.md §4.5): killed, it leaves
        # them, and all three verifiers take them for what they are (a torn last record may be warned about).
        newest = sorted((home / "ledger" / "segments").glob("seg-*.tseg"))[-1].read_bytes()
        assert newest.endswith(bytes(4096)), "the killed gateway left its preallocated zeros"
        for name, ok, problems, warnings in verdicts(home):
            assert ok and not problems, (round_, name, problems, warnings)
        gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, home=home)
    gw.stop()
    upstream = set(re.findall(rf"PUT /{bucket}/(r\d-w\d-\d+) HTTP", moto.log_text()))
    assert upstream, "the load reached moto"
    recorded = {e["path"].rsplit("/", 1)[-1] for e in gw.events()
                if e.get("type") == "call.requested" and e.get("path", "").startswith(f"/{bucket}/")}
    assert upstream <= recorded, f"forwarded without a record: {sorted(upstream - recorded)[:5]}"
    run([gw.bin, "ledger", "verify", "--home", str(home)])
    if segment_bytes:
        assert len(list((home / "ledger" / "segments").glob("seg-*.tseg"))) >= 3, "the load rolled segments over"


def test_gateway_compacts_sealed_segments_and_the_auditor_agrees(moto, tmp_path):
    """The gateway commits a record or two per block; each segment it seals is compacted in the background
    (small blocks merged, LZ4HC). With 16 KiB segments, a few hundred calls seal several: after a graceful
    stop every sealed segment is listed in compacted.list and holds one block, and Tally's verifier and the
    auditor's independent one both accept the ledger with every call recorded."""
    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home), "--segment-bytes", "16384"])
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, home=home)
    cred = gw.issue("agent-compact", ttl="1h")
    sts = gw.client(cred, "sts")
    for _ in range(300):
        sts.get_caller_identity()
    gw.stop()
    segments = sorted((home / "ledger" / "segments").glob("seg-*.tseg"))
    assert len(segments) >= 4, [p.name for p in segments]
    listed = dict(line.split() for line in (home / "ledger" / "compacted.list").read_text().splitlines())
    assert set(listed) == {p.name for p in segments[:-1]}, (listed, [p.name for p in segments])
    for p in segments[:-1]:
        data = p.read_bytes()
        assert data.count(b"TBLK") == 1, f"{p.name}: {data.count(b'TBLK')} block magics after compaction"
        assert int(listed[p.name]) == len(data)
    v = json.loads(run([gw.bin, "ledger", "verify", "--home", str(home), "--json"]).stdout)
    assert v["ok"] is True
    calls = [e for e in gw.events() if e.get("type") == "call.requested" and e.get("operation") == "GetCallerIdentity"]
    assert len(calls) == 300
    auditor = Path(__file__).parent / "auditor" / "verify_ledger.py"
    a = subprocess.run([sys.executable, str(auditor), str(home)], capture_output=True, timeout=600)
    assert a.returncode == 0, a.stdout + a.stderr
    assert json.loads(a.stdout)["records"] == v["records"]
