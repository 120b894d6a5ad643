"""Config "maxConnections": at the limit the gateway accepts no further connection until one closes (the new one
waits in the listen backlog, then is served); a bad value is refused at start with exit code 2."""
import socket
import subprocess
import time

from conftest import Gateway, clean_env, free_port, run, tally_bin

HEALTH = b"GET /_tally/health HTTP/1.1\r\nHost: gw\r\n\r\n"


def health_over(sock: socket.socket, timeout: float) -> bytes:
    """Sends a health request on `sock` and returns what arrives within `timeout` seconds (b"" if nothing)."""
    sock.settimeout(timeout)
    sock.sendall(HEALTH)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


def test_the_connection_over_the_limit_waits_until_one_closes(moto, tmp_path):
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, config={"maxConnections": 2})
    try:
        first = socket.create_connection(("127.0.0.1", gw.port))
        second = socket.create_connection(("127.0.0.1", gw.port))
        assert health_over(first, 10).startswith(b"HTTP/1.1 200")
        assert health_over(second, 10).startswith(b"HTTP/1.1 200")
        # The third connects (the kernel's backlog takes it) but is not accepted: no answer while two are open.
        third = socket.create_connection(("127.0.0.1", gw.port))
        assert health_over(third, 1.5) == b"", "a third connection was served with maxConnections 2"
        first.close()
        # Once one closes, the waiting connection is accepted and its request answered.
        third.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = third.recv(4096)
            assert chunk, "the waiting connection was closed instead of served"
            data += chunk
        assert data.startswith(b"HTTP/1.1 200")
        second.close()
        third.close()
    finally:
        gw.stop()


def test_a_bad_max_connections_is_refused_with_exit_code_2(tmp_path):
    home = tmp_path / "home"
    run([tally_bin(), "init", "--home", str(home)])
    for bad in ['0', '-3', '"many"', '1.5', '2000000']:
        cfg = tmp_path / "cfg.json"
        cfg.write_text('{"maxConnections": %s}' % bad)
        p = subprocess.run([tally_bin(), "gateway", "--home", str(home), "--listen", f"127.0.0.1:{free_port()}",
                            "--upstream", "http://127.0.0.1:9", "--config", str(cfg)],
                           capture_output=True, env=clean_env(AWS_ACCESS_KEY_ID="AKIAX", AWS_SECRET_ACCESS_KEY="x"),
                           timeout=30)
        assert p.returncode == 2, (bad, p.returncode, p.stderr)
        assert b"maxConnections" in p.stderr and str(cfg).encode() in p.stderr, p.stderr
