"""The event-loop (plain) path writes its call events as canonical text directly: they must carry the same members
as the task path's (the first call of a fresh credential takes the task path, later ones the plain path), including
the agent's source address, and the ledger must verify."""
from conftest import run


def test_plain_path_events_match_the_task_path(gateway):
    cred = gateway.issue("agent-plain-events")
    sts = gateway.client(cred, "sts")
    for _ in range(4):
        assert sts.get_caller_identity()["Account"]
    events = [e for e in gateway.events(settle=True) if e.get("accessKeyId") == cred["AccessKeyId"]]
    requested = [e for e in events if e.get("type") == "call.requested"]
    completed = {e["callId"]: e for e in events if e.get("type") == "call.completed"}
    assert len(requested) == 4 and set(completed) == {e["callId"] for e in requested}
    timing = {"_seq", "seq", "time", "callId", "latencyMs", "upstreamLatencyMs", "upstreamRequestId"}
    first_keys = set(requested[0]) - timing
    for e in requested:
        assert e["sourceAddress"] == "127.0.0.1"
        assert e["operation"] == "GetCallerIdentity" and e["decision"] == "allow" and e["actions"] == []
        assert set(e) - timing == first_keys, (requested[0], e)
    done = [completed[e["callId"]] for e in requested]
    for c in done:
        assert c["status"] == 200 and c["outcome"] == "ok" and c["bytesOut"] > 0
        assert set(c) - timing == set(done[0]) - timing
    assert run([gateway.bin, "ledger", "verify", "--home", str(gateway.home)], check=False).returncode == 0
