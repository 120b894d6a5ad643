"""Session 15 probe: requests whose meaning for the upstream lies where Tally's checks did not read. Each was forwarded
by the session-14 gateway (the effect shown in moto), and is now refused before it reaches the upstream and recorded
as call.denied."""
import gzip
import json
import urllib.parse
import urllib.request
import uuid
from xml.etree import ElementTree

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import REGION, Gateway
from test_gateway_review_s13 import denied_with, send_raw, signed_headers


def admin(moto, service):
    return boto3.client(service, endpoint_url=moto.url, region_name=REGION,
                        aws_access_key_id=moto.admin_key_id, aws_secret_access_key=moto.admin_secret)


def public_policy(arn: str) -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": arn}]})


def test_a_public_topic_policy_under_a_lower_case_attribute_name_is_refused(gateway, agent, moto):
    """The built-in sharing guardrail read SNS's `Policy` attribute case-sensitively; moto (with IAM auth on, as in
    every e2e test) takes `policy` for it, so a topic opened to everyone went through and was stored."""
    sns = gateway.client(agent, "sns")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    for name in ("policy", "POLICY"):
        with pytest.raises(ClientError) as e:
            sns.set_topic_attributes(TopicArn=topic, AttributeName=name, AttributeValue=public_policy(topic))
        assert e.value.response["Error"]["Code"] == "AccessDenied", e.value.response
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}", Attributes={"policy": public_policy("*")})
    assert e.value.response["Error"]["Code"] == "AccessDenied", e.value.response
    stored = json.loads(admin(moto, "sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    # moto's default topic policy (AWS principal * pinned by AWS:SourceOwner) is still the one in place
    assert not any(st.get("Principal") == "*" for st in stored["Statement"]), stored
    assert denied_with(gateway, "topic policy"), "the refusals are recorded as call.denied"
    # An attribute that is not a policy still passes under any case.
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="shown")


def test_an_s3_request_header_in_the_query_string_is_refused(gateway, agent, moto):
    """`PUT /bucket/key?x-amz-acl=public-read`: the header form of a public ACL is refused by the built-in guardrail,
    but the query form was taken for a query-authentication parameter, signed, re-signed and forwarded (S3 reads
    x-amz-* request headers from the query string too). The object must not be stored."""
    bucket = f"qacl-{uuid.uuid4().hex[:8]}"
    gateway.client(agent, "s3").create_bucket(Bucket=bucket)
    for query in ("x-amz-acl=public-read", f"x-amz-copy-source={bucket}%2Fother"):
        path = f"/{bucket}/k?{query}"
        headers = signed_headers(agent, "s3", "PUT", gateway.url + path, b"data",
                                 {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        status, text = send_raw(gateway, "PUT", path, headers | {"Content-Length": "4"}, b"data")
        assert status == 403 and "AccessDenied" in text and "query string" in text, (query, status, text)
    with pytest.raises(ClientError):
        admin(moto, "s3").head_object(Bucket=bucket, Key="k")
    assert denied_with(gateway, "is in the query string")
    # A presigned URL (its own X-Amz-* parameters) still works.
    s3 = gateway.client(agent, "s3", signature_version="s3v4", s3={"addressing_style": "path"})
    s3.put_object(Bucket=bucket, Key="fine", Body=b"ok")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "fine"}, ExpiresIn=300)
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == b"ok"


@pytest.fixture(scope="module")
def lenient(moto_noauth, tmp_path_factory):
    """A gateway in front of moto with IAM auth off: moto then runs what it parses, which shows what a lenient upstream
    would do with the parts of a request Tally did not read (with auth on, moto's own signature check stops these)."""
    gw = Gateway(tmp_path_factory.mktemp("gw-lenient"), moto_noauth.url, "AKIAUPSTREAM00000000", "upstream-secret",
                 config={"deny": [{"action": "iam:Create*"}, {"action": "sqs:DeleteQueue"}]})
    yield gw
    gw.stop()


def noauth(moto_noauth, service):
    return boto3.client(service, endpoint_url=moto_noauth.url, region_name=REGION,
                        aws_access_key_id="AKIAUPSTREAM00000000", aws_secret_access_key="upstream-secret")


def test_a_multipart_body_beside_a_query_action_is_refused(lenient, moto_noauth):
    """`POST /?Action=ListUsers` with a multipart/form-data body holding `Action=CreateUser`: Tally identified,
    checked and recorded iam:ListUsers (the body was not a URL-encoded form, so it went unread), moto ran the body's
    CreateUser past the deny rule on iam:Create*."""
    cred = lenient.issue("agent-multipart", ttl="1h")
    user = f"smuggled-{uuid.uuid4().hex[:8]}"
    body = (f"--b\r\nContent-Disposition: form-data; name=\"Action\"\r\n\r\nCreateUser\r\n"
            f"--b\r\nContent-Disposition: form-data; name=\"UserName\"\r\n\r\n{user}\r\n--b--\r\n").encode()
    path = "/?Action=ListUsers&Version=2010-05-08"
    headers = signed_headers(cred, "iam", "POST", lenient.url + path, body,
                             {"Content-Type": "multipart/form-data; boundary=b"})
    status, text = send_raw(lenient, "POST", path, headers | {"Content-Length": str(len(body))}, body)
    assert status == 403 and "AccessDenied" in text, (status, text)
    assert user not in json.dumps(noauth(moto_noauth, "iam").list_users()), "moto created the user"
    assert denied_with(lenient, "multipart/form-data")


def test_a_header_named_action_beside_a_json_target_is_refused(lenient, moto_noauth):
    """An SQS JSON request (X-Amz-Target ListQueues, empty body) with a signed header `Action: DeleteQueue`: moto
    falls back to reading the Action from the headers and deleted the queue past the deny rule on sqs:DeleteQueue,
    while Tally recorded ListQueues."""
    cred = lenient.issue("agent-header-action", ttl="1h")
    name = f"q-{uuid.uuid4().hex[:8]}"
    queue_url = noauth(moto_noauth, "sqs").create_queue(QueueName=name)["QueueUrl"]
    path = "/" + queue_url.split("://", 1)[1].split("/", 1)[1]
    headers = signed_headers(cred, "sqs", "POST", lenient.url + path, b"",
                             {"X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0",
                              "Action": "DeleteQueue"})
    status, text = send_raw(lenient, "POST", path, headers | {"Content-Length": "0"}, b"")
    assert status == 403 and "AccessDenied" in text, (status, text)
    assert name in json.dumps(noauth(moto_noauth, "sqs").list_queues()), "moto deleted the queue"
    assert denied_with(lenient, "next to an Action parameter")


def form_call(gateway, cred, service, params: dict, extra_headers: dict | None = None, encode=lambda b: b):
    """A query-protocol call as older SDKs send it to services whose model is JSON now (SQS, CloudWatch)."""
    body = encode(urllib.parse.urlencode(params).encode())
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"} | (extra_headers or {})
    signed = signed_headers(cred, service, "POST", gateway.url + "/", body, headers)
    return send_raw(gateway, "POST", "/", signed | {"Content-Length": str(len(body))}, body)


def test_sqs_over_the_query_protocol_creates_and_finds_queues(gateway, agent, moto):
    """AWS CLI / boto3 before botocore 1.31 call SQS with form bodies (e.g. Ubuntu 22.04's awscli package). CreateQueue
    and GetQueueUrl were refused as 'the JSON body could not be read' (a check meant for JSON bodies); the other SQS
    operations passed. With tags, CreateQueue is recorded as needing sqs:TagQueue too, as the JSON form is."""
    name = f"formq-{uuid.uuid4().hex[:8]}"
    status, text = form_call(gateway, agent, "sqs", {"Action": "CreateQueue", "QueueName": name, "Tag.1.Key": "team",
                                                      "Tag.1.Value": "a", "Version": "2012-11-05"})
    assert status == 200 and "<QueueUrl>" in text, (status, text)
    status, text = form_call(gateway, agent, "sqs", {"Action": "GetQueueUrl", "QueueName": name, "Version": "2012-11-05"})
    assert status == 200 and name in text, (status, text)
    assert name in json.dumps(admin(moto, "sqs").list_queues())
    created = [e for e in gateway.events() if e.get("type") == "call.requested" and e.get("operation") == "CreateQueue"
               and name in json.dumps(e)]
    assert created and sorted(created[-1]["actions"]) == ["sqs:CreateQueue", "sqs:TagQueue"], created


def test_a_compressed_query_body_is_refused_in_the_format_its_client_reads(gateway, agent, moto):
    """Older SDKs gzip CloudWatch PutMetricData form bodies of 10 KiB or more; the Action is inside the gzip, so the
    gateway cannot identify the call and refuses it. The refusal was JSON (CloudWatch's model is JSON now), which
    those clients could not parse ('invalid XML received'); it is XML now and says how to turn compression off."""
    params = {"Action": "PutMetricData", "Namespace": "tally-e2e", "Version": "2010-08-01",
              "MetricData.member.1.MetricName": "m", "MetricData.member.1.Value": "1"}
    status, text = form_call(gateway, agent, "monitoring", params, {"Content-Encoding": "gzip"}, encode=gzip.compress)
    assert status == 403 and text.lstrip().startswith("<"), (status, text)
    error = ElementTree.fromstring(text).find(".//Error")
    assert error is not None and error.findtext("Code") == "AccessDenied", text
    assert "disable_request_compression" in error.findtext("Message"), text
    assert denied_with(gateway, "gzip-encoded body")
    # Uncompressed, the same call goes through.
    status, text = form_call(gateway, agent, "monitoring", params)
    assert status == 200, (status, text)


def test_a_cbor_body_of_a_body_dependent_operation_is_still_refused(gateway, agent, moto):
    """The readability check for operations whose IAM actions depend on a body member (DynamoDB ExecuteStatement:
    the PartiQL verb) is skipped only for the query form of a query-compatible service (SQS above). A CBOR body was
    skipped too by this session's first version of that change (review finding): its top-level reader keeps the last
    of two duplicate keys, so a `Statement` could be read differently than by an upstream."""
    def text(s: str) -> bytes:
        b = s.encode()
        return (bytes([0x60 + len(b)]) if len(b) < 24 else bytes([0x78, len(b)])) + b
    body = bytes([0xA2]) + text("Statement") + text("SELECT * FROM t") + text("Statement") + text("DELETE FROM t WHERE k='a'")
    path = "/service/DynamoDB_20120810/operation/ExecuteStatement"
    headers = signed_headers(agent, "dynamodb", "POST", gateway.url + path, body,
                             {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"})
    status, _ = send_raw(gateway, "POST", path, headers | {"Content-Length": str(len(body))}, body)
    assert status == 403, status
    assert denied_with(gateway, "could not be read as one object")


def test_a_presigned_url_with_the_sdks_unsigned_payload_parameter_still_works(gateway, agent):
    """The JavaScript v3, PHP v3 and Go v1 presigners put `X-Amz-Content-Sha256=UNSIGNED-PAYLOAD` in every S3 URL.
    The x-amz-* query rule above refused them (review finding): that one parameter, with that value, is taken."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    bucket = f"jsv3-{uuid.uuid4().hex[:8]}"
    s3 = gateway.client(agent, "s3", signature_version="s3v4", s3={"addressing_style": "path"})
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"presigned like js v3")
    req = AWSRequest(method="GET", url=f"{gateway.url}/{bucket}/k", params={"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4QueryAuth(Credentials(agent["AccessKeyId"], agent["SecretAccessKey"]), "s3", REGION, expires=300).add_auth(req)
    url = req.prepare().url
    assert "X-Amz-Content-Sha256=UNSIGNED-PAYLOAD" in url
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == b"presigned like js v3"
