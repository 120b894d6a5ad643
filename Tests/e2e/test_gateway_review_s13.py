"""Session 13 probe of SigV4 verification against AWS's rules: each test fails on the build before its fix."""
import http.client
import json
import uuid
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import REGION


def send_raw(gateway, method: str, path: str, headers: dict, body: bytes = b"") -> tuple[int, str]:
    """Sends the request line exactly as given (no client normalises the path)."""
    u = urlsplit(gateway.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders(body or None)
    r = conn.getresponse()
    text = r.read().decode(errors="replace")
    conn.close()
    return r.status, text


def signed_headers(cred: dict, service: str, method: str, url: str, body: bytes = b"", headers: dict | None = None) -> dict:
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), service, REGION).add_auth(req)
    return dict(req.headers.items()) | {"Host": urlsplit(url).netloc}


def denied_with(gateway, marker: str) -> list[dict]:
    return [e for e in gateway.events() if e.get("type") == "call.denied" and marker in json.dumps(e)]


def test_a_non_s3_path_with_dot_segments_is_refused_not_identified_as_sent(gateway, agent, moto):
    """The signature covers `/2015-03-31/functions/NAME` (botocore and AWS remove dot segments), but the path sent is
    `.../aliases/..`: it was identified and checked as DeleteAlias and forwarded as sent, so a deny rule on
    lambda:DeleteFunction did not see the call its signature was for."""
    name = f"victim-{uuid.uuid4().hex[:6]}"
    raw = f"/2015-03-31/functions/{name}/aliases/.."
    headers = signed_headers(agent, "lambda", "DELETE", gateway.url + raw)
    # botocore signed the normal form: the request is authentic, only its path is not in normal form
    assert "aliases" not in SigV4Auth(Credentials("a", "b"), "lambda", REGION).canonical_request(
        AWSRequest(method="DELETE", url=gateway.url + raw, headers={"X-Amz-Date": "20260101T000000Z"}))
    before = moto.log_text().count(name)
    status, text = send_raw(gateway, "DELETE", raw, headers)
    assert status == 400 and "normal form" in text, (status, text)
    denied = denied_with(gateway, name)
    assert denied and denied[-1]["stage"] == "identification", denied
    assert not [e for e in gateway.events() if e.get("type") == "call.requested" and name in json.dumps(e)]
    assert moto.log_text().count(name) == before  # never forwarded
    # the same call with its normal path is identified as what was signed
    with pytest.raises(ClientError):  # no such function; moto with auth on also fails bodiless Lambda calls' SigV4
        gateway.client(agent, "lambda").delete_function(FunctionName=name)
    asked = [e for e in gateway.events() if e.get("type") == "call.requested" and name in json.dumps(e)]
    assert [e["operation"] for e in asked] == ["DeleteFunction"], asked


def test_a_session_token_sent_with_a_tally_credential_is_refused(gateway, agent, moto):
    """Tally credentials have none: a token (an AWS_SESSION_TOKEN left in the agent's environment) was ignored; AWS
    refuses a token that is not the key's."""
    stray = dict(agent, SessionToken="stray-session-token-" + uuid.uuid4().hex)
    with pytest.raises(ClientError) as e:
        gateway.client(stray, "sts").get_caller_identity()
    err = e.value.response
    assert err["Error"]["Code"] == "InvalidClientTokenId" and err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "AWS_SESSION_TOKEN" in err["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        gateway.client(stray, "s3").list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidToken"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # a presigned URL carrying a token
    s3 = gateway.client(stray, "s3", signature_version="s3v4", s3={"addressing_style": "path"})
    url = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": "any-bucket"}, ExpiresIn=300)
    assert "X-Amz-Security-Token" in url
    u = urlsplit(url)
    status, text = send_raw(gateway, "GET", u.path + "?" + u.query, {"Host": u.netloc})
    assert status == 400 and "<Code>InvalidToken</Code>" in text, text
    denied = denied_with(gateway, "session token was sent")
    assert len(denied) >= 3 and all(d["stage"] == "authentication" for d in denied), denied
    assert stray["SessionToken"] not in json.dumps(gateway.events()) and stray["SessionToken"] not in moto.log_text()
    # without the token the same credential works
    assert gateway.client(agent, "sts").get_caller_identity()["Account"]


def test_the_s3_outposts_control_plane_signs_like_any_rest_json_api(gateway, agent):
    """botocore's s3outposts client (signing name s3-outposts) signs without x-amz-content-sha256, the body hashed:
    Tally gave it S3's rules, so every SDK call was refused, and one sent with UNSIGNED-PAYLOAD went through with a body
    its signature did not cover."""
    client = gateway.client(agent, "s3outposts")
    try:
        client.list_endpoints()
    except ClientError as e:  # moto does not implement S3 on Outposts: its answer is not the point
        assert e.response["Error"]["Code"] != "InvalidRequest", e.response
    asked = [e for e in gateway.events() if e.get("type") == "call.requested" and e.get("operation") == "ListEndpoints"]
    assert asked, "the SDK's call was not forwarded"
    # the body outside the signature (UNSIGNED-PAYLOAD) is refused as for every service but S3
    body = json.dumps({"OutpostId": "op-01234567890abcdef", "SubnetId": "subnet-1", "SecurityGroupId": "sg-1"}).encode()
    req = AWSRequest(method="POST", url=gateway.url + "/S3Outposts/CreateEndpoint", data=body,
                     headers={"Content-Type": "application/json", "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})

    class Unsigned(SigV4Auth):
        def payload(self, request):
            return "UNSIGNED-PAYLOAD"

    Unsigned(Credentials(agent["AccessKeyId"], agent["SecretAccessKey"]), "s3-outposts", REGION).add_auth(req)
    headers = dict(req.headers.items()) | {"Host": urlsplit(gateway.url).netloc}
    status, text = send_raw(gateway, "POST", "/S3Outposts/CreateEndpoint", headers, body.replace(b"sg-1", b"sg-9"))
    assert status == 400 and "only accepted for S3" in text, (status, text)
    assert not [e for e in gateway.events() if e.get("type") == "call.requested" and e.get("operation") == "CreateEndpoint"]
