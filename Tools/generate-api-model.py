#!/usr/bin/env python3
"""Writes Sources/TallyAWS/Resources/api-model.json: Tally's own compact API model, derived from botocore's
service models, for OperationIdentifier (service / operation / top-level parameter identification).

Usage: python3 Tools/generate-api-model.py   (needs `pip install botocore==1.43.11`; covers every botocore service)

Schema (JSON, keys sorted, one service per line-ish):
{
  "source": "botocore 1.43.11",
  "services": {
    "<botocore service name>": {
      "signingName": "monitoring",          # SigV4 credential-scope service (metadata.signingName, else endpointPrefix)
      "endpointPrefix": "monitoring",       # host prefix (<prefix>.<region>.amazonaws.com)
      "protocol": "query" | "ec2" | "json" | "rest-json" | "rest-xml",   # first of metadata.protocols we support
      "apiVersion": "2010-08-01",
      "targetPrefix": "GraniteServiceVersion20100801",   # json only (X-Amz-Target "<prefix>.<Operation>")
      "jsonVersion": "1.0",                 # json only
      "queryCompatible": true,              # awsQueryCompatible (errors also carry x-amzn-query-error)
      "operations": {
        "<Operation>": {
          "method": "PUT", "uri": "/{Bucket}/{Key+}?uploads",       # http.method, http.requestUri
          # rest protocols only: top-level input members bound to the request line / headers
          "members": {"Bucket": "uri:Bucket", "Key": "uri:Key", "VersionId": "querystring:versionId",
                      "CopySource": "header:x-amz-copy-source"},
          "required": ["querystring:uploadId", "header:x-amz-copy-source"],  # required query/header members
          "payload": "Payload"             # the member that is the whole body (blob/structure): no JSON body members
        }
      }
    }
  }
}
Query/json operations carry only method and uri ("/"): their parameters come from the form / JSON body.
"""
import json, os, sys
import botocore
from botocore.loaders import Loader

SUPPORTED = ["rest-xml", "rest-json", "json", "query", "ec2"]


def convert(loader, name):
    m = loader.load_service_model(name, "service-2")
    meta = m["metadata"]
    protocols = meta.get("protocols") or [meta["protocol"]]
    proto = next((p for p in protocols if p in SUPPORTED), None)
    if proto is None:
        return None
    svc = {
        "signingName": meta.get("signingName") or meta["endpointPrefix"],
        "endpointPrefix": meta["endpointPrefix"],
        "protocol": proto,
        "apiVersion": meta.get("apiVersion", ""),
    }
    if proto == "json":
        svc["targetPrefix"] = meta.get("targetPrefix", "")
        svc["jsonVersion"] = meta.get("jsonVersion", "1.0")
    if "awsQueryCompatible" in meta:
        svc["queryCompatible"] = True
    ops = {}
    shapes = m["shapes"]
    for op_name, op in m["operations"].items():
        http = op.get("http", {})
        entry = {"method": http.get("method", "POST"), "uri": http.get("requestUri", "/")}
        if proto in ("rest-json", "rest-xml") and "input" in op:
            shape = shapes[op["input"]["shape"]]
            required = set(shape.get("required", []))
            members, req = {}, []
            for mname, member in shape.get("members", {}).items():
                loc = member.get("location")
                if loc in ("uri", "querystring", "header"):
                    where = "%s:%s" % (loc, member.get("locationName", mname))
                    members[mname] = where
                    if mname in required and loc != "uri":
                        req.append(where)
            if members:
                entry["members"] = members
            if req:
                entry["required"] = sorted(req)
            if "payload" in shape:
                entry["payload"] = shape["payload"]
        ops[op_name] = entry
    svc["operations"] = ops
    return svc


def main():
    loader = Loader()
    names = sorted(loader.list_available_services("service-2"))
    out = {"source": "botocore %s" % botocore.__version__, "services": {}}
    for name in names:
        svc = convert(loader, name)
        if svc:
            out["services"][name] = svc
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "Sources", "TallyAWS", "Resources", "api-model.json")
    with open(path, "w") as f:
        f.write("{\"source\": %s, \"services\": {\n" % json.dumps(out["source"]))
        items = sorted(out["services"].items())
        for i, (name, svc) in enumerate(items):
            f.write("%s: %s%s\n" % (json.dumps(name), json.dumps(svc, sort_keys=True, separators=(",", ":")),
                                    "," if i + 1 < len(items) else ""))
        f.write("}}\n")
    ops = sum(len(s["operations"]) for s in out["services"].values())
    print("wrote %s: %d services, %d operations, %d bytes (%s)" % (path, len(out["services"]), ops,
                                                                 os.path.getsize(path), out["source"]))


if __name__ == "__main__":
    main()
