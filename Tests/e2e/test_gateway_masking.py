"""Response masking and forwarded-header allow-list (security review findings 3, 6 and 14).

The agent can call credential-minting operations through the gateway (IAM CreateAccessKey, STS GetSessionToken /
AssumeRole, ...): the call runs and parses in the client, but every secret in the answer is replaced, so the agent
never holds a usable upstream credential. Upstream error bodies are masked too. A fake upstream plants canary
secrets (and echoes the gateway's own upstream secret) so the tests can grep responses, the gateway log and the
ledger for them; moto shows the real CLI/boto3 flows."""
import gzip
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, Gateway

MASK = "TALLY-MASKED"


def completed(gw: Gateway, operation: str) -> list[dict]:
    return [e for e in gw.events(settle=True) if e.get("type") == "call.completed" and e.get("operation") == operation]


# ---------------------------------------------------------------- moto: the real clients


def test_iam_create_access_key_works_but_the_secret_is_masked(gateway, agent, moto):
    user = f"mask-{uuid.uuid4().hex[:8]}"
    gateway.aws(agent, "iam", "create-user", "--user-name", user)
    p = gateway.aws(agent, "iam", "create-access-key", "--user-name", user, "--debug")
    key = json.loads(p.stdout)["AccessKey"]
    assert key["UserName"] == user and key["SecretAccessKey"] == MASK and key["AccessKeyId"].startswith("AKIA")
    assert "<SecretAccessKey>TALLY-MASKED</SecretAccessKey>" in p.stderr  # the raw body (--debug) holds no secret
    # the key was really created upstream (the call ran), its secret never left the gateway
    iam = boto3.client("iam", endpoint_url=moto.url, region_name=REGION,
                       aws_access_key_id=moto.admin_key_id, aws_secret_access_key=moto.admin_secret)
    ids = [k["AccessKeyId"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]]
    assert ids == [key["AccessKeyId"]]
    done = completed(gateway, "CreateAccessKey")[-1]
    assert done["status"] == 200 and done["outcome"] == "ok" and done["masked"] == ["SecretAccessKey"]
    # the gateway's own user (probe1 of the review): refused outright, named or implied (no UserName = the caller)
    before = iam.list_access_keys(UserName="tally-gateway-admin")["AccessKeyMetadata"]
    for args in (["--user-name", "tally-gateway-admin"], []):
        p = gateway.aws(agent, "iam", "create-access-key", *args, check=False)
        assert p.returncode != 0 and "AccessDenied" in p.stderr and "own upstream identity" in p.stderr, p.stderr
    assert iam.list_access_keys(UserName="tally-gateway-admin")["AccessKeyMetadata"] == before


def test_sts_temporary_credentials_are_masked(gateway, agent, moto):
    p = gateway.aws(agent, "sts", "get-session-token", "--debug")
    creds = json.loads(p.stdout)["Credentials"]
    assert creds["SecretAccessKey"] == MASK and creds["SessionToken"] == MASK and creds["AccessKeyId"]
    assert completed(gateway, "GetSessionToken")[-1]["masked"] == ["SecretAccessKey", "SessionToken"]
    fed = gateway.client(agent, "sts").get_federation_token(Name="fed")["Credentials"]
    assert fed["SecretAccessKey"] == MASK and fed["SessionToken"] == MASK
    # AssumeRole (boto3): a role the gateway's upstream user may assume
    iam = boto3.client("iam", endpoint_url=moto.url, region_name=REGION,
                       aws_access_key_id=moto.admin_key_id, aws_secret_access_key=moto.admin_secret)
    name = f"mask-role-{uuid.uuid4().hex[:6]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
        "AWS": f"arn:aws:iam::{ACCOUNT}:user/tally-gateway-admin"}}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    got = gateway.client(agent, "sts").assume_role(RoleArn=arn, RoleSessionName="agent")["Credentials"]
    assert got["SecretAccessKey"] == MASK and got["SessionToken"] == MASK
    done = completed(gateway, "AssumeRole")[-1]
    assert done["status"] == 200 and done["masked"] == ["SecretAccessKey", "SessionToken"]


def test_masking_can_be_turned_off_and_then_the_secret_works_upstream(moto, tmp_path):
    """Without masking (opt-out in the config) the agent gets a working upstream secret: the escape that
    masking closes (review finding 3, probe1)."""
    gw = Gateway(tmp_path, moto.url, moto.admin_key_id, moto.admin_secret, config={"maskResponses": False})
    try:
        cred = gw.issue("agent-unmasked")
        user = f"unmasked-{uuid.uuid4().hex[:8]}"
        gw.aws(cred, "iam", "create-user", "--user-name", user)
        key = json.loads(gw.aws(cred, "iam", "create-access-key", "--user-name", user).stdout)["AccessKey"]
        assert key["SecretAccessKey"] != MASK and len(key["SecretAccessKey"]) == 40
        assert "masked" not in completed(gw, "CreateAccessKey")[-1]
    finally:
        gw.stop()


# ---------------------------------------------------------------- a fake upstream with canaries

CANARY_SECRET = "CANARYsecret/" + uuid.uuid4().hex[:27]
CANARY_TOKEN = "CANARYtoken//" + uuid.uuid4().hex * 3
UPSTREAM_SECRET = "gateway-upstream-secret/" + uuid.uuid4().hex


class FakeUpstream:
    """Answers like AWS, with canary secrets; records every request's headers."""

    def __init__(self):
        self.requests = []
        self.gzip = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({k.lower(): v for k, v in self.headers.items()} | {"_body": body.decode()})
                target = self.headers.get("X-Amz-Target") or ""
                action = (parse_qs(body.decode()).get("Action") or [""])[0]
                status, ctype, text, extra = 200, "text/xml", "", {}
                if action == "GetCallerIdentity":
                    text = (f"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/fake"
                            "</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult>"
                            "</GetCallerIdentityResponse>")
                elif action == "CreateAccessKey":
                    text = ("<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey><UserName>u</UserName>"
                            f"<AccessKeyId>AKIACANARY0000000001</AccessKeyId><Status>Active</Status><SecretAccessKey>"
                            f"{CANARY_SECRET}</SecretAccessKey></AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>")
                elif action == "GetSessionToken":
                    text = ("<GetSessionTokenResponse><GetSessionTokenResult><Credentials><AccessKeyId>ASIACANARY</AccessKeyId>"
                            f"<SecretAccessKey>{CANARY_SECRET}</SecretAccessKey><SessionToken>{CANARY_TOKEN}</SessionToken>"
                            "<Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></GetSessionTokenResult>"
                            "</GetSessionTokenResponse>")
                elif action == "ListUsers":  # an error that echoes the upstream credential (real S3 does this)
                    status = 403
                    text = ("<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>"
                            f"bad signature for secret {UPSTREAM_SECRET}</Message><AWSAccessKeyId>AKIAUPSTREAMFAKE0001"
                            f"</AWSAccessKeyId><Token-0>{CANARY_TOKEN}</Token-0></Error></ErrorResponse>")
                elif target.endswith(".GetCredentialsForIdentity"):
                    ctype = "application/x-amz-json-1.1"
                    text = json.dumps({"IdentityId": "us-east-1:abc", "Credentials": {
                        "AccessKeyId": "ASIACANARY", "SecretKey": CANARY_SECRET, "SessionToken": CANARY_TOKEN,
                        "Expiration": 1.9e9}})
                data = text.encode()
                if outer.gzip:
                    data = gzip.compress(data)
                    extra["Content-Encoding"] = "gzip"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", "fake-1")
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fake():
    f = FakeUpstream()
    yield f
    f.close()


@pytest.fixture(scope="module")
def fake_gateway(fake, tmp_path_factory):
    gw = Gateway(tmp_path_factory.mktemp("gwmask"), fake.url, "AKIAUPSTREAMFAKE0001", UPSTREAM_SECRET)
    yield gw
    gw.stop()


def signed(gw: Gateway, cred: dict, service: str, body: str, headers: dict, unsigned: dict | None = None):
    """POSTs `body` to the gateway, SigV4-signed with the agent's credential over `headers`; `unsigned` headers are
    added after signing."""
    req = AWSRequest(method="POST", url=gw.url + "/", data=body.encode(), headers=headers)
    SigV4Auth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), service, REGION).add_auth(req)
    prepared = dict(req.headers.items()) | (unsigned or {})
    return requests.post(gw.url + "/", data=body.encode(), headers=prepared, timeout=30)


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def test_canaries_never_reach_the_agent_the_log_or_the_ledger(fake, fake_gateway):
    gw = fake_gateway
    cred = gw.issue("agent-canary")
    seen = []
    # XML: IAM CreateAccessKey and STS GetSessionToken, through the real clients
    key = gw.client(cred, "iam").create_access_key(UserName="u")["AccessKey"]
    assert key["SecretAccessKey"] == MASK and key["AccessKeyId"] == "AKIACANARY0000000001"
    p = gw.aws(cred, "sts", "get-session-token", "--debug")
    seen.append(p.stdout + p.stderr)
    assert json.loads(p.stdout)["Credentials"]["SessionToken"] == MASK
    # JSON (awsJson 1.1): cognito-identity GetCredentialsForIdentity (botocore sends it unsigned: sign it here)
    r = signed(gw, cred, "cognito-identity", json.dumps({"IdentityId": "us-east-1:abc"}), {
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSCognitoIdentityService.GetCredentialsForIdentity"})
    seen.append(r.text)
    assert r.status_code == 200 and r.json()["Credentials"]["SecretKey"] == MASK and r.json()["Credentials"]["SessionToken"] == MASK
    assert int(r.headers["Content-Length"]) == len(r.content)
    # an upstream error body that echoes the gateway's own secret, its access key id and a token
    with pytest.raises(ClientError) as e:
        gw.client(cred, "iam").list_users()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    r = signed(gw, cred, "iam", "Action=ListUsers&Version=2010-05-08", FORM)
    seen.append(r.text)
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    assert "AKIAUPSTREAMFAKE0001" not in r.text
    events = gw.events()
    by_op = {e["operation"]: e for e in events if e.get("type") == "call.completed"}
    assert by_op["CreateAccessKey"]["masked"] == ["SecretAccessKey"]
    assert by_op["GetCredentialsForIdentity"]["masked"] == ["SecretKey", "SessionToken"]
    assert set(by_op["ListUsers"]["masked"]) == {"AWSAccessKeyId", "Token-0", "upstream-secret"}
    assert by_op["ListUsers"]["errorCode"] == "SignatureDoesNotMatch"
    for canary in (CANARY_SECRET, CANARY_TOKEN, UPSTREAM_SECRET, CANARY_SECRET.replace("/", "\\/")):
        assert all(canary not in text for text in seen), canary
        assert canary not in gw.log.read_text(errors="replace")
        assert canary not in json.dumps(events)
        for f in gw.home.rglob("*"):
            if f.is_file():
                assert canary.encode() not in f.read_bytes(), f"canary in {f}"


def test_a_compressed_credential_answer_is_withheld(fake, fake_gateway):
    """The gateway asks for identity encoding; an upstream that compresses anyway cannot be masked, so the
    answer is withheld (fail closed) and the ledger says the call ran."""
    gw = fake_gateway
    cred = gw.issue("agent-gzip")
    before = len(fake.requests)
    fake.gzip = True
    try:
        r = signed(gw, cred, "iam", "Action=CreateAccessKey&UserName=u&Version=2010-05-08", FORM,
                   unsigned={"Accept-Encoding": "gzip"})
    finally:
        fake.gzip = False
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text and "withheld" in r.text
    assert CANARY_SECRET not in r.text and r.headers.get("Content-Encoding") is None
    assert fake.requests[before]["accept-encoding"] == "identity"
    done = completed(gw, "CreateAccessKey")[-1]
    assert done["outcome"] == "withheld" and done["status"] == 200 and "content-encoded" in done["detail"]


def test_a_compressed_answer_of_another_operation_passes_unchanged(fake, fake_gateway):
    """Session 12: every small non-S3 success is now buffered for the masking safety net; one the upstream compressed
    anyway (for an operation not known to hand out a credential) is passed on as it came, not withheld."""
    gw = fake_gateway
    cred = gw.issue("agent-gzip-other")
    fake.gzip = True
    try:
        r = signed(gw, cred, "sts", "Action=GetCallerIdentity&Version=2011-06-15", FORM, unsigned={"Accept-Encoding": "gzip"})
    finally:
        fake.gzip = False
    assert r.status_code == 200 and r.headers.get("Content-Encoding") == "gzip", (r.status_code, r.headers, r.text)
    assert "<Account>123456789012</Account>" in r.text  # requests decoded it
    done = completed(gw, "GetCallerIdentity")[-1]
    assert done["outcome"] == "ok" and "masked" not in done


def test_only_signed_and_transport_headers_reach_the_upstream(fake, fake_gateway):
    """Review finding 6: the forwarded request carries the headers the agent signed plus a transport allow-list;
    unsigned extras, proxy headers (signed or not) and the agent's own authentication never reach the upstream."""
    gw = fake_gateway
    cred = gw.issue("agent-headers")
    before = len(fake.requests)
    r = signed(gw, cred, "sts", "Action=GetCallerIdentity&Version=2011-06-15",
               FORM | {"X-Signed-Custom": "kept", "X-Forwarded-For": "10.9.9.9", "Via": "1.1 agent-proxy"},
               unsigned={"X-Unsigned-Custom": "dropped", "Forwarded": "for=10.1.1.1", "X-Forwarded-Host": "evil",
                         "Proxy-Authorization": "Basic Zm9vOmJhcg==", "Cache-Control": "no-cache",
                         "User-Agent": "agent-ua/1", "amz-sdk-request": "attempt=1"})
    assert r.status_code == 200, r.text
    got = fake.requests[before]
    assert got["x-signed-custom"] == "kept" and got["user-agent"] == "agent-ua/1" and got["amz-sdk-request"] == "attempt=1"
    for name in ("x-unsigned-custom", "forwarded", "x-forwarded-for", "x-forwarded-host", "via", "proxy-authorization",
                 "cache-control"):
        assert name not in got, f"{name} reached the upstream: {got}"
    # re-signed with the gateway's upstream credential, not the agent's
    assert "Credential=AKIAUPSTREAMFAKE0001/" in got["authorization"] and cred["AccessKeyId"] not in json.dumps(got)
    assert "x-amz-security-token" not in got  # (an agent's own token is refused: test_gateway_review_s13.py)


def test_small_answers_of_unidentified_operations_are_masked(fake, fake_gateway, tmp_path):
    """A service missing from Tally's model (here a made-up signing name) cannot be checked against the table of
    credential-minting operations. While the built-in guardrails are on it is refused (they cannot read it; session
    9); with them off it is forwarded and its small answers are masked for every known secret field."""
    cred = fake_gateway.issue("agent-unknown-service")
    r = signed(fake_gateway, cred, "tallyunknownsvc", "Action=CreateAccessKey&UserName=u", FORM)
    assert r.status_code == 403 and "not one Tally knows" in r.text, r.text
    gw = Gateway(tmp_path, fake.url, "AKIAUPSTREAMFAKE0001", UPSTREAM_SECRET, config={"builtinDeny": False})
    try:
        cred = gw.issue("agent-unknown-service")
        r = signed(gw, cred, "tallyunknownsvc", "Action=CreateAccessKey&UserName=u", FORM)
        assert r.status_code == 200, r.text
        assert CANARY_SECRET not in r.text and "<SecretAccessKey>TALLY-MASKED</SecretAccessKey>" in r.text
        done = [e for e in gw.events(settle=True) if e.get("type") == "call.completed" and e.get("service") == "tallyunknownsvc"]
        assert done and done[-1]["masked"] == ["SecretAccessKey"] and "operation" not in done[-1]
    finally:
        gw.stop()


# ---------------------------------------------------------------- session 12 probe: more doors, and parsing


def test_masked_blobs_still_parse_in_the_cli(gateway, agent, tmp_path):
    """A masked blob (the MFA seed, the QR code) is valid base64 of TALLY-MASKED: the CLI decodes it and succeeds
    (it failed with 'Incorrect padding' while the MFA device was created upstream)."""
    seed = tmp_path / "seed.txt"
    p = gateway.aws(agent, "iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", f"m-{uuid.uuid4().hex[:6]}",
                    "--outfile", str(seed), "--bootstrap-method", "Base32StringSeed")
    assert json.loads(p.stdout)["VirtualMFADevice"]["SerialNumber"].startswith(f"arn:aws:iam::{ACCOUNT}:mfa/")
    assert seed.read_bytes() == MASK.encode()
    done = completed(gateway, "CreateVirtualMFADevice")[-1]
    assert done["outcome"] == "ok" and "Base32StringSeed" in done["masked"]


def test_a_generated_key_pairs_private_key_is_masked(gateway, agent):
    ec2 = gateway.client(agent, "ec2")
    kp = ec2.create_key_pair(KeyName=f"kp-{uuid.uuid4().hex[:6]}")
    assert kp["KeyMaterial"] == MASK and kp["KeyFingerprint"]
    assert completed(gateway, "CreateKeyPair")[-1]["masked"] == ["keyMaterial"]
    # the agent's own key is refused (an SSH login of its own to instances and their role, outside the gateway)
    with pytest.raises(ClientError) as e:
        ec2.import_key_pair(KeyName="mine", PublicKeyMaterial=b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBVYbYl3f6eS4mGZ8k1g9cW5QJ3H5m0Yk1l8o9cGQ0Qh x")
    assert e.value.response["Error"]["Code"] in ("AccessDenied", "UnauthorizedOperation") and "built-in" in str(e.value)


def test_an_identity_pool_openid_token_is_masked(gateway, agent):
    ci = gateway.client(agent, "cognito-identity")
    pool = ci.create_identity_pool(IdentityPoolName=f"p{uuid.uuid4().hex[:6]}", AllowUnauthenticatedIdentities=False,
                                   DeveloperProviderName="login.tally.test")
    tok = ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool["IdentityPoolId"],
                                                      Logins={"login.tally.test": "user-1"})
    assert tok["Token"] == MASK and tok["IdentityId"]


def test_the_gateways_own_secret_is_masked_in_any_small_answer(gateway, agent, moto):
    """The gateway's own upstream secret, stored where the agent can read it (a Secrets Manager secret), reaches the
    agent as TALLY-MASKED; it went through untouched in a 200 answer."""
    sm = gateway.client(agent, "secretsmanager")
    name = f"ops/gateway-key-{uuid.uuid4().hex[:6]}"
    sm.create_secret(Name=name, SecretString=json.dumps({"id": moto.admin_key_id, "secret": moto.admin_secret}))
    got = sm.get_secret_value(SecretId=name)
    assert moto.admin_secret not in json.dumps(got, default=str)
    assert json.loads(got["SecretString"]) == {"id": moto.admin_key_id, "secret": MASK}
    done = completed(gateway, "GetSecretValue")[-1]
    assert done["outcome"] == "ok" and done["masked"] == ["upstream-secret"]
