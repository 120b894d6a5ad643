#!/usr/bin/env python3
"""Cross-validation corpus: requests with awkward paths, queries and header values, signed by botocore.

For each case the wire request (method, target as botocore would send it, headers including X-Amz-Date and
Authorization, body) and botocore's canonical request are written to botocore-vectors.json. The Swift test
(BotocoreVectorTests) rebuilds the canonical request from the wire form and verifies the signature.

Run: python3 Tests/TallyAWSTests/Fixtures/make-botocore-vectors.py   (botocore 1.43.11)
"""
import datetime, hashlib, json, os, random
from urllib.parse import quote
import botocore
from botocore.auth import SigV4Auth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SECRET = "botocore-vector-secret/+=="
KEY = "AKIAVECTORS000000001"
HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261126)

PATHS = ["/", "/a b/c", "/\u00fc/\u00df/\u2603", "/a+b=c&d", "/~user/(x)*!'", "/./a/../b", "//double//slash/",
         "/trailing/", "/k%2Fpre-encoded", "/dots/.../x", "/emoji/\U0001F600", "/semi;colon,comma",
         "/q?uestion", "/hash#tag", "/percent%", "/[brackets]", "/caf\u00e9.txt", "/a/b/c/d/e/f"]
QUERIES = [[], [("b", "2"), ("a", "1")], [("list-type", "2"), ("prefix", "a/b c"), ("delimiter", "/")],
           [("k", "")], [("x", "\u00fc+\u00df=&?")], [("A", "1"), ("a", "2"), ("_", "3"), ("~", "4")],
           [("dup", "2"), ("dup", "1")], [("uploads", "")], [("space key", "v v")], [("tag", "*'()!")]]
VALUES = ["plain", "  leading and trailing  ", "inner    spaces   folded", "tab\there", "utf8 \u00e9t\u00e9",
          "a,b , c", "quote \"x\""]

class Fixed(datetime.datetime):
    @classmethod
    def utcnow(cls): return datetime.datetime(2026, 11, 26, 14, 39, 0)
    @classmethod
    def now(cls, tz=None): return datetime.datetime(2026, 11, 26, 14, 39, 0, tzinfo=tz)

botocore.auth.datetime.datetime = Fixed
cases = []
for i in range(160):
    service = rng.choice(["s3", "s3", "sts", "lambda", "execute-api", "iam"])
    method = rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD"])
    raw_path = rng.choice(PATHS)
    path = quote(raw_path, safe="/~")     # what botocore's serializer puts on the wire
    query = rng.choice(QUERIES)
    qs = "&".join("%s=%s" % (quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in query)
    target = path + ("?" + qs if qs else "")
    headers = {"Host": "vectors.example.com:8443"}
    for n in rng.sample(["X-Amz-Meta-Note", "Content-Type", "X-Custom-Thing", "Range", "x-amz-acl"], rng.randint(0, 3)):
        headers[n] = rng.choice(VALUES)
    body = ("body %d \u00e9" % i).encode() if method in ("PUT", "POST") else b""
    req = AWSRequest(method=method, url="https://vectors.example.com:8443" + target, headers=headers, data=body)
    if service == "s3":
        signer = S3SigV4Auth(Credentials(KEY, SECRET), service, "eu-west-1")
        req.context["payload_signing_enabled"] = rng.choice([True, False])
    else:
        signer = SigV4Auth(Credentials(KEY, SECRET), service, "eu-west-1")
    signer.add_auth(req)
    authorization = req.headers["Authorization"]
    del req.headers["Authorization"]
    canonical = signer.canonical_request(req)
    req.headers["Authorization"] = authorization
    cases.append({
        "service": service, "method": method, "target": target,
        "headers": [[k, v] for k, v in req.headers.items()],
        "body": body.decode(), "canonicalRequest": canonical,
    })

out = {"generator": "botocore %s" % botocore.__version__, "secret": SECRET, "now": "20261126T143900Z", "cases": cases}
with open(os.path.join(HERE, "botocore-vectors.json"), "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
print("wrote %d cases" % len(cases))
