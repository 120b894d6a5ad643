#!/usr/bin/env bash
# The Tally demo, on the shipped fixtures in fixtures/demo/:
#   1. a ledger round trip: init, append, verify, checkpoint, inclusion proof, tamper detection;
#   2. IAM: evaluate and lint the demo agent policy;
#   3. the gateway: an agent using the real AWS CLI through Tally against a local moto server.
# Everything happens in a temporary directory, which is removed at the end. TALLY_BIN=path runs a tally binary built
# already instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

need_setup=0
pkg-config --exists liblz4 2>/dev/null || need_setup=1
command -v moto_server >/dev/null 2>&1 || need_setup=1
command -v aws >/dev/null 2>&1 || need_setup=1
if [ "$need_setup" = 1 ]; then
    echo "== installing prerequisites (Tools/setup.sh)"
    Tools/setup.sh
fi

if [ -n "${TALLY_BIN:-}" ]; then
    # A binary built already (as the tests and Tools/bench-gateway.sh take it).
    [ -x "$TALLY_BIN" ] || { echo "TALLY_BIN=$TALLY_BIN is not an executable" >&2; exit 2; }
    TALLY="$TALLY_BIN"
else
    echo "== building tally"
    swift build --product tally 2>&1 | grep -E "error|Compiling|Build" || true
    TALLY="$(swift build --product tally --show-bin-path 2>/dev/null)/tally"
fi
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
H="$WORK/home"
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s#$TALLY#tally#g; s#$WORK#\$DEMO#g" >&2; "$@"; }

step "1. The ledger"
run "$TALLY" init --home "$H"
run "$TALLY" ledger append --home "$H" < fixtures/demo/events.jsonl | tail -1
run "$TALLY" ledger verify --home "$H"
run "$TALLY" ledger cat --home "$H" --from 10 --to 11
run "$TALLY" ledger checkpoint --home "$H" | tee "$WORK/witness.note"
run "$TALLY" ledger prove --home "$H" --seq 7 > "$WORK/proof.json"
run "$TALLY" ledger verify-proof "$WORK/proof.json" --public-key "$H/ledger.pub"

step "1b. An attacker edits one byte of a copy of the ledger"
cp -r "$H" "$WORK/tampered"
SEG="$(ls "$WORK/tampered/ledger/segments/" | head -1)"
python3 - "$WORK/tampered/ledger/segments/$SEG" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x20
open(p, "wb").write(b)
PY
set +e
run "$TALLY" ledger verify --home "$WORK/tampered"
echo "(exit code $?: 1 means damage was found and located)"
set -e

step "2. IAM: would the demo agent policy allow these calls?"
set +e
run "$TALLY" iam evaluate --policy fixtures/demo/agent-policy.json --boundary fixtures/demo/boundary.json \
    --action s3:GetObject --resource arn:aws:s3:::demo-artifacts/build/app.tar.gz --json
run "$TALLY" iam evaluate --policy fixtures/demo/agent-policy.json \
    --action iam:CreateUser --resource arn:aws:iam::123456789012:user/backdoor --json
echo "(exit code $?: 1 means denied)"
run "$TALLY" iam lint fixtures/demo/agent-policy.json
set -e

step "3. The gateway: an agent with a Tally credential, a local moto server as AWS"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOTO_PORT="$(free_port)"; GW_PORT="$(free_port)"
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
# The gateway holds the upstream credential; the agent never sees it.
AWS_ACCESS_KEY_ID=AKIAUPSTREAMDEMO0001 AWS_SECRET_ACCESS_KEY=upstream-secret-never-shown-to-agents \
    "$TALLY" gateway --home "$H" --listen "127.0.0.1:$GW_PORT" --upstream "http://127.0.0.1:$MOTO_PORT" \
    --config fixtures/demo/gateway-config.json >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
    if curl -fs "http://127.0.0.1:$GW_PORT/_tally/health" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1; then break; fi
    sleep 0.1
done
CRED="$("$TALLY" credentials issue --home "$H" --principal demo-agent --ttl 15m --json)"
echo "$ tally credentials issue --principal demo-agent --ttl 15m --json"
echo "$CRED" | python3 -c 'import json,sys; c=json.load(sys.stdin); c["SecretAccessKey"]=c["SecretAccessKey"][:4]+"…"; print(json.dumps(c, indent=2))'
export AWS_ACCESS_KEY_ID="$(echo "$CRED" | python3 -c 'import json,sys; print(json.load(sys.stdin)["AccessKeyId"])')"
export AWS_SECRET_ACCESS_KEY="$(echo "$CRED" | python3 -c 'import json,sys; print(json.load(sys.stdin)["SecretAccessKey"])')"
export AWS_DEFAULT_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE
SESSION="$(echo "$CRED" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("SessionId",""))')"
EP=(--endpoint-url "http://127.0.0.1:$GW_PORT")
echo "demo artifact" > "$WORK/app.txt"
run aws "${EP[@]}" sts get-caller-identity --output text
run aws "${EP[@]}" s3 mb s3://demo-artifacts
run aws "${EP[@]}" s3 cp "$WORK/app.txt" s3://demo-artifacts/build/app.txt
run aws "${EP[@]}" s3 ls s3://demo-artifacts/build/
run aws "${EP[@]}" dynamodb create-table --table-name jobs --attribute-definitions AttributeName=id,AttributeType=S \
    --key-schema AttributeName=id,KeyType=HASH --billing-mode PAY_PER_REQUEST --query TableDescription.TableName --output text
set +e
run aws "${EP[@]}" iam create-access-key --user-name root-ish
echo "(refused by the gateway's guardrail, recorded as call.denied, never forwarded)"
set -e
run "$TALLY" sessions list --home "$H"
if [ -n "$SESSION" ]; then run "$TALLY" replay "$SESSION" --home "$H"; fi
kill "${PIDS[1]}" 2>/dev/null || true
wait "${PIDS[1]}" 2>/dev/null || true
run "$TALLY" ledger verify --home "$H" --witness "$WORK/witness.note"
if grep -rq "upstream-secret-never-shown-to-agents" "$H" "$WORK/gateway.log"; then
    echo "FAIL: the upstream secret reached disk"; exit 1
fi
echo "the upstream secret appears in no ledger byte and no gateway log line"
echo
echo "demo complete"
