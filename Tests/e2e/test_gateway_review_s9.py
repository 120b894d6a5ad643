"""Session 9 review of the forwarding path: requests that Tally identified (and checked, and recorded) as one thing
while the upstream could act on another. Each is now refused, or recorded as the upstream sees it, and the refused
ones never change moto's state.

- Query protocol: Action in the form body, the IAM call's UserName in the query string. moto (like any upstream that
  merges the two) attached the policy to that user; Tally had seen no UserName (its own-identity guardrail let an
  AttachUserPolicy on the gateway's own user through, and the ledger said resource "*").
- S3 PutBucketAcl with a streamed body (here: over the 1 MiB buffered size) reached the upstream unread.
- S3 `PUT /bucket?policy&acl`: identified and checked as PutBucketAcl, run by moto as PutBucketPolicy (a public policy).
- S3 keys with empty segments (`/secret/data.txt`, `a//b`) were recorded as other keys (`secret/data.txt`, `a/b`)."""
import hashlib
import json
import urllib.error
import urllib.request
import uuid

from botocore.auth import SigV4Auth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION


def send(req: AWSRequest):
    p = req.prepare()
    body = p.body.encode() if isinstance(p.body, str) else p.body
    r = urllib.request.Request(p.url, data=body, headers=dict(p.headers), method=p.method)
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def creds(agent) -> Credentials:
    return Credentials(agent["AccessKeyId"], agent["SecretAccessKey"])


def test_query_parameters_split_between_url_and_body_are_refused(gateway, agent, moto):
    iam = gateway.client(agent, "iam")
    user = f"victim-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    arn = iam.create_policy(PolicyName=f"p-{uuid.uuid4().hex[:8]}", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Policy"]["Arn"]
    body = f"Action=AttachUserPolicy&Version=2010-05-08&PolicyArn={arn}"
    req = AWSRequest(method="POST", url=f"{gateway.url}/?UserName={user}", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(creds(agent), "iam", REGION).add_auth(req)
    status, text = send(req)
    assert status == 403 and "cannot identify exactly" in text and "apart from Action" in text, (status, text)
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == []
    # The same call with every parameter in the body goes through and is recorded with the user.
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]] == [arn]
    denied = [e for e in gateway.events() if e.get("type") == "call.denied" and "apart from Action" in e.get("reason", "")]
    assert len(denied) == 1, denied


def s3_put(gateway, agent, target: str, body: bytes):
    req = AWSRequest(method="PUT", url=gateway.url + target, data=body)
    signer = S3SigV4Auth(creds(agent), "s3", REGION)
    digest = hashlib.sha256(body).hexdigest()
    signer.payload = lambda _r: digest
    signer.add_auth(req)
    return send(req)


def public_acl(owner: str, group: str) -> str:
    """An AccessControlPolicy granting READ to the global group `group` (as written in the XML)."""
    return (f'<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>{owner}</ID></Owner>'
            '<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">'
            f'<URI>http://acs.amazonaws.com/groups/global/{group}</URI></Grantee><Permission>READ</Permission></Grant>'
            '</AccessControlList></AccessControlPolicy>')


def test_s3_acl_and_policy_tricks_are_refused(gateway, agent, moto):
    s3 = gateway.client(agent, "s3")
    bucket = f"acl-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    public = public_acl(s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"], "AllUsers")
    # Small: read and denied, as before.
    status, text = s3_put(gateway, agent, f"/{bucket}?acl", public.encode())
    assert status == 403 and "Tally guardrail denies s3:PutBucketAcl" in text, (status, text)
    # Padded past the buffered size: streamed, so refused unread.
    status, text = s3_put(gateway, agent, f"/{bucket}?acl", public.encode() + b" " * (1100 << 10))
    assert status == 403 and "streamed" in text, (status, text[:500])
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert not any("AllUsers" in json.dumps(g) for g in grants), grants
    # Two subresources: never identified.
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                                 "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    for target in (f"/{bucket}?policy&acl", f"/{bucket}?acl&policy", f"/{bucket}?policy&cors"):
        status, text = s3_put(gateway, agent, target, policy.encode())
        assert status == 403 and "fits both" in text, (target, status, text)
    try:
        s3.get_bucket_policy(Bucket=bucket)
        raise AssertionError("a bucket policy was set")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchBucketPolicy", e.response


def test_s3_keys_with_empty_segments_are_recorded_as_sent(gateway, agent, moto):
    s3 = gateway.client(agent, "s3")
    bucket = f"keys-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for key in ("/secret/data.txt", "a//b", "a/b"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert listed == sorted(["/secret/data.txt", "a//b", "a/b"]), listed
    puts = [e for e in gateway.events() if e.get("type") == "call.requested" and e.get("operation") == "PutObject"
            and bucket in json.dumps(e.get("resources"))]
    resources = sorted(r for e in puts for r in e["resources"])
    assert resources == sorted(f"arn:aws:s3:::{bucket}/{k}" for k in ("/secret/data.txt", "a//b", "a/b")), resources


def iam_post(gateway, agent, body: str):
    req = AWSRequest(method="POST", url=f"{gateway.url}/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(creds(agent), "iam", REGION).add_auth(req)
    return send(req)


def test_the_gateways_own_user_cannot_be_reached_by_other_spellings(gateway, agent, moto):
    """Session 9 re-probe: an empty `UserName=` or only `UserName.1=...` (the upstream then acts on the caller, the
    gateway itself), a case variant of its name, and group membership (AddUserToGroup names the user as a parameter,
    its resource is the group) all reached the gateway's own user."""
    own = "tally-gateway-admin"
    iam = gateway.client(agent, "iam")
    group = f"g-{uuid.uuid4().hex[:8]}"
    iam.create_group(GroupName=group)
    for body in (f"Action=UpdateAccessKey&Version=2010-05-08&UserName=&AccessKeyId={moto.admin_key_id}&Status=Active",
                 f"Action=UpdateAccessKey&Version=2010-05-08&UserName.1=x&AccessKeyId={moto.admin_key_id}&Status=Active",
                 "Action=DeleteLoginProfile&Version=2010-05-08",
                 f"Action=AddUserToGroup&Version=2010-05-08&GroupName={group}&UserName={own}",
                 f"Action=AddUserToGroup&Version=2010-05-08&GroupName={group}&UserName={own.upper()}"):
        status, text = iam_post(gateway, agent, body)
        assert status == 403 and "is not the agent&apos;s to change" in text, (body, status, text)
    assert iam.get_group(GroupName=group)["Users"] == []


def test_more_s3_spellings_are_refused(gateway, agent, moto):
    """Session 9 re-probe: an ACL body hiding AllUsers in a character reference, a bucket segment with an encoded
    '/', and an UploadPart query with a subresource next to it."""
    s3 = gateway.client(agent, "s3")
    bucket = f"spell-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="secret", Body=b"SMALL-SECRET")
    public = public_acl(s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"], "All&#85;sers")
    status, text = s3_put(gateway, agent, f"/{bucket}?acl", public.encode())
    assert status == 403 and "public group" in text, (status, text)
    assert not any("AllUsers" in json.dumps(g) for g in s3.get_bucket_acl(Bucket=bucket)["Grants"])
    req = AWSRequest(method="GET", url=f"{gateway.url}/{bucket}%2Fsecret")
    signer = S3SigV4Auth(creds(agent), "s3", REGION)
    signer.payload = lambda _r: hashlib.sha256(b"").hexdigest()
    signer.add_auth(req)
    status, text = send(req)
    assert status == 403 and "an encoded %2F" in text, (status, text)
    status, text = s3_put(gateway, agent, f"/{bucket}/loot?uploadId=U&partNumber=1&acl", b"")
    assert status == 403 and "fits both" in text, (status, text)
