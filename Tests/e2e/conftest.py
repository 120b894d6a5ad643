"""Shared fixtures for the end-to-end tests: moto_server with IAM auth on, the built `tally`
binary, a Tally home, a running `tally gateway` and an agent credential issued by it.

Environment: TALLY_BIN = path of the built `tally` (Tools/test.sh sets it; default
.build/debug/tally). Needs moto[server], boto3, awscli (Tests/e2e/requirements.txt) and openssl.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"


def tally_bin() -> str:
    path = os.environ.get("TALLY_BIN") or str(REPO / ".build" / "debug" / "tally")
    if not os.path.exists(path):
        pytest.fail(f"TALLY_BIN={path} does not exist: build it with `swift build --product tally`")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, proc=None, context=None, accept=None) -> None:
    """Waits until `url` answers below 500, or with an error `accept(HTTPError)` takes as an answer."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as r:
                if r.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if accept is not None and accept(e):
                return
            last = e
        except Exception as e:  # noqa: BLE001 - retry until the deadline
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s: {last}")


def clean_env(**extra) -> dict:
    """An environment with no ambient AWS configuration, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = "/dev/null"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    env["AWS_DEFAULT_REGION"] = REGION
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


class Moto:
    """A moto_server process; `log` holds its request log (one werkzeug line per request)."""

    def __init__(self, workdir: Path, auth: bool):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"moto-{self.port}.log"
        self._log_file = open(self.log, "wb")
        env = clean_env()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log_file, stderr=subprocess.STDOUT, env=env,
        )
        self.admin_key_id = None
        self.admin_secret = None
        try:
            wait_http(self.url + "/moto-api/", proc=self.proc)
            if auth:
                self._bootstrap_admin()
                req = urllib.request.Request(self.url + "/moto-api/reset-auth", data=b"0", method="POST",
                                             headers={"Content-Type": "text/plain"})
                with urllib.request.urlopen(req, timeout=10) as r:
                    assert r.status == 200
        except BaseException:
            self.stop()  # never leak a moto_server when setting it up fails
            raise

    def _bootstrap_admin(self) -> None:
        # While auth is still off: an admin user with an allow-all inline policy and an access key.
        iam = boto3.client("iam", endpoint_url=self.url, region_name=REGION,
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="tally-gateway-admin")
        iam.put_user_policy(UserName="tally-gateway-admin", PolicyName="admin", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="tally-gateway-admin")["AccessKey"]
        self.admin_key_id = key["AccessKeyId"]
        self.admin_secret = key["SecretAccessKey"]  # the canary: must never leave the gateway

    def log_text(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log_file.close()


class Gateway:
    """A running `tally gateway` in front of an upstream, with its own Tally home."""

    def __init__(self, workdir: Path, upstream: str, upstream_key: str, upstream_secret: str,
                 tls: bool = False, config: dict | None = None, home: Path | None = None,
                 preexec_fn=None, extra_args: list | None = None):
        self.bin = tally_bin()
        self.workdir = workdir
        self.home = home or (workdir / "home")
        if not (self.home / "ledger.pub").exists() and not self.home.exists():
            run([self.bin, "init", "--home", str(self.home)])
        self.port = free_port()
        self.tls = tls
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.log = workdir / f"gateway-{self.port}.log"
        self.ca_bundle = None
        args = [self.bin, "gateway", "--home", str(self.home), "--listen", f"127.0.0.1:{self.port}",
                "--upstream", upstream]
        if tls:
            cert, key = make_self_signed_cert(workdir)
            self.ca_bundle = str(cert)
            args += ["--tls-cert", str(cert), "--tls-key", str(key)]
        if config is not None:
            cfg = workdir / f"gateway-{self.port}.json"
            cfg.write_text(json.dumps(config))
            args += ["--config", str(cfg)]
        args += extra_args or []
        self.env = clean_env(AWS_ACCESS_KEY_ID=upstream_key, AWS_SECRET_ACCESS_KEY=upstream_secret)
        self._log_file = open(self.log, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log_file, stderr=subprocess.STDOUT, env=self.env,
                                     preexec_fn=preexec_fn)
        try:
            self.wait_ready()
        except BaseException:
            self.stop(signal.SIGKILL)  # never leak a gateway when it does not come up
            raise

    def wait_ready(self):
        import ssl
        ctx = None
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.ca_bundle)
        # Up, though maybe not ready: 503 "unavailable" while its credential registry cannot be read.
        wait_http(self.url + "/_tally/health", proc=self.proc, context=ctx,
                  accept=lambda e: e.code == 503 and b'"unavailable"' in e.read())

    def issue(self, principal: str, ttl: str | None = None, role: str | None = None) -> dict:
        args = [self.bin, "credentials", "issue", "--home", str(self.home), "--principal", principal, "--json"]
        if ttl:
            args += ["--ttl", ttl]
        if role:
            args += ["--role", role]
        return json.loads(run(args).stdout)

    def edit_registry(self, change) -> bytes:
        """Edits the credential registry by hand, as a person would, but never racing the gateway's own rewrites: waits
        until the gateway has recorded every pending issuance and revocation (its flusher rewrites the file once a
        second while one is pending, and a rewrite that read the file before this edit would undo it), then applies
        `change` to the parsed file under the registry's lock (flock on credentials.lock, as tally takes it).
        Returns the bytes before the edit, for restoring."""
        import fcntl
        registry = self.home / "gateway" / "credentials.json"
        deadline = time.time() + 15
        while True:
            entries = json.loads(registry.read_text())["credentials"]
            if all(c.get("issuanceRecorded") is not False and c.get("revocationRecorded") is not False for c in entries):
                break
            assert time.time() < deadline, f"the gateway did not record the pending credential events: {entries}"
            time.sleep(0.1)
        with open(self.home / "gateway" / "credentials.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                good = registry.read_bytes()
                doc = json.loads(good)
                change(doc)
                registry.write_text(json.dumps(doc))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return good

    def agent_env(self, cred: dict, **extra) -> dict:
        env = clean_env(AWS_ACCESS_KEY_ID=cred["AccessKeyId"], AWS_SECRET_ACCESS_KEY=cred["SecretAccessKey"],
                        AWS_SESSION_TOKEN=cred.get("SessionToken"), **extra)
        if self.ca_bundle:
            env["AWS_CA_BUNDLE"] = self.ca_bundle
        return env

    def aws(self, cred: dict, *args: str, check: bool = True, endpoint: str | None = None,
            **extra_env) -> subprocess.CompletedProcess:
        cmd = ["aws", "--endpoint-url", endpoint or self.url, "--output", "json", *args]
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.agent_env(cred, **extra_env), timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}\n"
                                 f"gateway log tail:\n{self.log_tail()}")
        return p

    def client(self, cred: dict, service: str, **config):
        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION,
            aws_access_key_id=cred["AccessKeyId"], aws_secret_access_key=cred["SecretAccessKey"],
            aws_session_token=cred.get("SessionToken"), verify=self.ca_bundle if self.tls else None,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
        )

    def tally(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([self.bin, *args], check=check)

    def events(self, settle: bool = False, timeout: float = 10.0) -> list[dict]:
        """Every ledger event, via `tally ledger cat` (one JSON record per line). With `settle`, first waits (up to
        `timeout`) until every `call.requested` has its `call.completed`: the gateway commits a call.completed a few
        milliseconds after the response, so a read right after a call may come before it."""
        deadline = time.time() + timeout
        while True:
            out = run([self.bin, "ledger", "cat", "--home", str(self.home)]).stdout
            events = [normalise_record(json.loads(line)) for line in out.splitlines() if line.strip()]
            if not settle or time.time() >= deadline:
                return events
            done = {e.get("callId") for e in events if e.get("type") == "call.completed"}
            if all(e.get("callId") in done for e in events if e.get("type") == "call.requested"):
                return events
            time.sleep(0.05)

    def log_tail(self, n: int = 40) -> str:
        self._log_file.flush()
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def stop(self, sig=signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode


class RawUpstream:
    """A raw HTTP upstream on 127.0.0.1, for tests that need control over the wire: a subclass's `serve(conn)` runs
    on a thread of its own for each accepted connection. Subclasses set their own state before calling
    `super().__init__()`, which starts accepting."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        raise NotImplementedError

    @staticmethod
    def read_head(conn, buf: bytes):
        """Reads from `conn` until `buf` holds a whole request head: (head, the bytes after it), or None at EOF."""
        while b"\r\n\r\n" not in buf:
            got = conn.recv(65536)
            if not got:
                return None
            buf += got
        head, _, rest = buf.partition(b"\r\n\r\n")
        return head, rest

    def close(self):
        self.sock.close()


def kill9_under_load(gw: Gateway, load, workers: int = 4, after: float = 1.5) -> None:
    """Runs `load(worker, stop)` on `workers` threads (each calls through `gw` until the `stop` event is set),
    kills the gateway with SIGKILL after `after` seconds while they are still calling, then stops and joins them."""
    stop = threading.Event()
    threads = [threading.Thread(target=load, args=(w, stop)) for w in range(workers)]
    for t in threads:
        t.start()
    time.sleep(after)
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait()
    stop.set()
    for t in threads:
        t.join(30)


def normalise_record(rec: dict) -> dict:
    """Returns the event of a `ledger cat` record, with its seq, whatever the envelope's shape."""
    event = rec.get("event", rec)
    if isinstance(event, dict):
        event = dict(event)
        event.setdefault("_seq", rec.get("seq"))
    return event


def run(args, check: bool = True, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def make_self_signed_cert(workdir: Path):
    cert, key = workdir / "gateway-cert.pem", workdir / "gateway-key.pem"
    if not cert.exists():
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(key), "-out", str(cert)])
    return cert, key


@pytest.fixture(scope="session")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="tally-e2e-"))
    yield d
    if not os.environ.get("TALLY_E2E_KEEP"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def moto(workdir):
    m = Moto(workdir, auth=True)
    yield m
    m.stop()


@pytest.fixture(scope="session")
def moto_noauth(workdir):
    m = Moto(workdir, auth=False)
    yield m
    m.stop()


@pytest.fixture(scope="module")
def gateway(moto, tmp_path_factory):
    gw = Gateway(tmp_path_factory.mktemp("gw"), moto.url, moto.admin_key_id, moto.admin_secret)
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def tls_gateway(moto, tmp_path_factory):
    gw = Gateway(tmp_path_factory.mktemp("gwtls"), moto.url, moto.admin_key_id, moto.admin_secret, tls=True)
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def agent(gateway):
    return gateway.issue("agent-e2e", ttl="1h")
