"""The credential scope's region and service are the agent's to choose (the agent signs with its own key), and with
`--upstream aws` they name the upstream host: `https://{service}.{region}.amazonaws.com`. A region such as
`x@127.0.0.1:PORT#` made that URL's host the agent's choice, so the gateway sent the re-signed call (the upstream
key id and session token in its headers) and any role's AssumeRole to a server of the agent's, and a region with a
space crashed the gateway (review finding, session 9). Now only names AWS could use (lower-case letters, digits and
'-') get through; anything else is refused as a malformed authorization, recorded, and never forwarded.

A plain TCP listener stands in for the agent's server: with the bug, the gateway connected to it."""
import time
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import Gateway, RawUpstream

BODY = "Action=GetCallerIdentity&Version=2011-06-15"


class Listener(RawUpstream):
    """Counts the connections made to it (a TLS client hello is enough to count)."""

    def __init__(self):
        self.connections = 0
        super().__init__()
        self.port = self.sock.getsockname()[1]

    def serve(self, conn):
        self.connections += 1
        conn.close()


def send(gw: Gateway, cred: dict, region: str, service: str = "sts"):
    req = AWSRequest(method="POST", url=gw.url + "/", data=BODY,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), service, region).add_auth(req)
    p = req.prepare()
    r = urllib.request.Request(p.url, data=p.body.encode() if isinstance(p.body, str) else p.body,
                               headers=dict(p.headers), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=20) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def presigned(gw: Gateway, cred: dict, region: str) -> tuple[int, str]:
    req = AWSRequest(method="GET", url=gw.url + "/bucket/key")
    S3SigV4QueryAuth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), "s3", region, expires=300).add_auth(req)
    try:
        with urllib.request.urlopen(req.prepare().url, timeout=20) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_scope_names_that_are_not_aws_names_are_refused(tmp_path):
    sink = Listener()
    gw = Gateway(tmp_path, "aws", "AKIASCOPEUPSTREAM001", "scope-upstream-secret")
    try:
        cred = gw.issue("scope-agent")
        cases = [
            ("region", f"x@127.0.0.1:{sink.port}#", "sts"),
            ("region", "us east-1", "sts"),
            ("region", "US-EAST-1", "sts"),
            ("region", "-us-east-1", "sts"),
            ("service", "us-east-1", f"sts@127.0.0.1:{sink.port}#"),
            ("service", "us-east-1", "sts.evil"),
            ("service", "us-east-1", "a" * 65),
        ]
        for what, region, service in cases:
            status, text = send(gw, cred, region, service)
            assert status == 400 and "AuthorizationHeaderMalformed" in text, (region, service, status, text)
            assert f"is not a {what} name" in text, text
            assert gw.proc.poll() is None, f"the gateway died on region {region!r}:\n{gw.log_tail()}"
        status, text = presigned(gw, cred, f"x@127.0.0.1:{sink.port}#")
        assert status == 400 and "AuthorizationQueryParametersError" in text, (status, text)
        # Names of the right shape that would still pick a host AWS customers own: `{service}.{region}.amazonaws.com`
        # with region `s3` is the S3 bucket named by the service (session 9 re-probe). Only model services and
        # AWS-shaped regions go out with --upstream aws.
        for region, service, why in [("s3", "sts", "not an AWS region name"), ("s3-accelerate", "sts", "not an AWS region name"),
                                     ("s3", "attackerbucket", "not one Tally knows"), ("us-east-1", "attackerbucket", "not one Tally knows")]:
            status, text = send(gw, cred, region, service)
            assert status == 403 and why in text, (region, service, status, text)
        time.sleep(0.5)
        assert sink.connections == 0, "the gateway connected to a host named by the agent"
        denied = [e for e in gw.events() if e.get("type") == "call.denied"]
        assert len(denied) == len(cases) + 5, denied
        with urllib.request.urlopen(gw.url + "/_tally/health", timeout=10) as resp:
            assert resp.status == 200
        # Real region and service names still pass the scope check (they then fail on upstream reachability or
        # identification here, never as a malformed authorization).
        for region, service in [("us-gov-west-1", "sts"), ("cn-north-1", "sts"), ("eu-central-1", "execute-api")]:
            status, text = send(gw, cred, region, service)
            assert "AuthorizationHeaderMalformed" not in text, (region, service, status, text)
    finally:
        gw.stop()
        sink.close()
