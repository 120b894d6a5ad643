#!/usr/bin/env bash
# Benchmark of `tally gateway` (release build, durable ledger on) against the same upstream called
# directly and through a separate nginx reverse-proxy process, all measured in the same run:
#   - latency at 1,000 req/s, two ways:
#     * steady: `tally-bench paced-load`, open loop, one request every 1 ms spread over 4 keep-alive connections,
#       latency from each request's scheduled send time (as wrk2 -R measures);
#     * bursts: wrk, 4 keep-alive connections each pacing itself with a 4 ms delay after its answer. The connections
#       fall into lockstep (a proxy answers the 4 requests of a burst together), so this is 4 concurrent calls
#       every 4 ms: a call waits for the others of its burst.
#   - throughput at 64 keep-alive connections
# Also measured, as the floor of any proxy built on the gateway's stack: `tally-bench passthrough-proxy`, a bare
# SwiftNIO HTTP/1.1 pass-through (same event-loop count as the gateway, no verification, no ledger, no re-signing),
# and the same with `--raw`: bytes relayed between the two connections, no HTTP parsing at all.
# Upstream: nginx answering 200 on loopback. The request is an S3 GET presigned (SigV4 query auth, 1 h)
# with a Tally credential, so every gateway call is verified, recorded (call.requested fsync'd before
# forwarding, call.completed after), re-signed with header auth and forwarded. Direct and nginx-proxied
# runs send the identical request line (nginx ignores the query).
#
# Usage: Tools/bench-gateway.sh [DURATION_SECONDS]   (env TALLY_BIN, default .build/release/tally;
#        TALLY_BENCH_BIN, default .build/release/tally-bench;
#        BENCH_HOME_DIR: where the ledger lives, default a temp dir under the repo's filesystem;
#        GATEWAY_THREADS: the gateway's event-loop threads, default 1;
#        PROXY_WORKERS: the nginx reverse proxy's worker_processes, default GATEWAY_THREADS, so both proxies get the
#        same number of threads)
# Needs: wrk, nginx, python3 with botocore.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
TALLY="${TALLY_BIN:-.build/release/tally}"
BENCH="${TALLY_BENCH_BIN:-.build/release/tally-bench}"
THREADS="${GATEWAY_THREADS:-1}"
PROXY_WORKERS="${PROXY_WORKERS:-$THREADS}"
[ -x "$TALLY" ] && [ -x "$BENCH" ] || { echo "build them first: swift build -c release --product tally && swift build -c release --product tally-bench" >&2; exit 2; }
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "needs wrk and nginx (apt-get install wrk nginx)" >&2; exit 2; }

WORK="$(mktemp -d "${BENCH_HOME_DIR:-$PWD}/.bench-gateway.XXXXXX")"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port); PX=$(free_port); GW=$(free_port); PT=$(free_port); RW=$(free_port)
mkdir -p "$WORK/up" "$WORK/px"
cat > "$WORK/up/nginx.conf" <<CONF
worker_processes 1; daemon off; error_log $WORK/up/error.log warn; pid $WORK/up/nginx.pid;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  client_body_temp_path $WORK/up; proxy_temp_path $WORK/up; fastcgi_temp_path $WORK/up; uwsgi_temp_path $WORK/up; scgi_temp_path $WORK/up;
  server { listen 127.0.0.1:$UP; location / { default_type text/plain; return 200 "ok\n"; } } }
CONF
cat > "$WORK/px/nginx.conf" <<CONF
worker_processes $PROXY_WORKERS; daemon off; error_log $WORK/px/error.log warn; pid $WORK/px/nginx.pid;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  client_body_temp_path $WORK/px; proxy_temp_path $WORK/px; fastcgi_temp_path $WORK/px; uwsgi_temp_path $WORK/px; scgi_temp_path $WORK/px;
  upstream backend { server 127.0.0.1:$UP; keepalive 128; }
  server { listen 127.0.0.1:$PX; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
nginx -c "$WORK/up/nginx.conf" -p "$WORK/up" & PIDS+=($!)
nginx -c "$WORK/px/nginx.conf" -p "$WORK/px" & PIDS+=($!)
"$BENCH" passthrough-proxy --listen "127.0.0.1:$PT" --upstream "127.0.0.1:$UP" --threads "$THREADS" > /dev/null & PIDS+=($!)
PTPID=$!
"$BENCH" passthrough-proxy --listen "127.0.0.1:$RW" --upstream "127.0.0.1:$UP" --threads "$THREADS" --raw > /dev/null & PIDS+=($!)

"$TALLY" init --home "$WORK/home" >/dev/null
CRED="$("$TALLY" credentials issue --home "$WORK/home" --principal bench --ttl 2h --json)"
AWS_ACCESS_KEY_ID=AKIABENCHUPSTREAM000 AWS_SECRET_ACCESS_KEY=bench-upstream-secret NIO_SINGLETON_GROUP_LOOP_COUNT="$THREADS" \
  "$TALLY" gateway --home "$WORK/home" --listen "127.0.0.1:$GW" --upstream "http://127.0.0.1:$UP" --log-level warning \
  2> "$WORK/gateway.log" & PIDS+=($!)
GWPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$GW/_tally/health" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PX/" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PT/" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$RW/" >/dev/null 2>&1 && break; sleep 0.1; done

TARGET="$(CRED="$CRED" GW="$GW" python3 - <<'PY'
import json, os
import botocore.session
from botocore.config import Config
c = json.loads(os.environ["CRED"])
s = botocore.session.get_session()
s3 = s.create_client("s3", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{os.environ['GW']}",
                     aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                     config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
url = s3.generate_presigned_url("get_object", Params={"Bucket": "bench", "Key": "object"}, ExpiresIn=3600)
print(url.split(f"127.0.0.1:{os.environ['GW']}", 1)[1])
PY
)"
# Sanity: the gateway accepts the presigned request and the upstream answers through it.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW$TARGET")
[ "$code" = 200 ] || { echo "gateway answered $code for the benchmark request:"; tail -5 "$WORK/gateway.log"; exit 1; }

cat > "$WORK/pace.lua" <<'LUA'
function delay() return 4 end
LUA
# CPU time (user + system, all threads) the gateway process has used, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
gw_ticks() { ticks "$GWPID"; }
TICK=$(getconf CLK_TCK)
steady() { # PORT -> "p50 p99 p99.9" (ms) at a steady 1,000 req/s
  "$BENCH" paced-load --connect "127.0.0.1:$1" --target "$TARGET" --rate 1000 --duration "$DURATION" --connections 4 |
    awk '{print $3, $5, $6}'
}
latency() { # URL -> "req/s p50 p99 requests" (ms)
  wrk -t1 -c4 -d"${DURATION}s" --latency -s "$WORK/pace.lua" "$1" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    / 50%/ {p50=ms($2)} / 99%/ {p99=ms($2)} /Requests\/sec/ {rps=$2} /requests in/ {n=$1}
    END {printf "%.0f %.3f %.3f %d\n", rps, p50, p99, n}'
}
throughput() { # URL -> "req/s requests"
  wrk -t2 -c64 -d"${DURATION}s" "$1" | awk '/Requests\/sec/ {r=$2} /requests in/ {n=$1} END {printf "%.0f %d\n", r, n}'; }
cpu_per_call() { awk -v a="$1" -v b="$2" -v n="$3" -v t="$TICK" 'BEGIN {printf "%.0f", (b - a) / t / n * 1e6}'; }

# The physical floor of a durable record on the ledger's filesystem, paced like the latency run (one every ~1 ms,
# 3 s each), so that the disk's occasional stalls show up in p99.9 and max: 512 bytes written over zeros written
# ahead + fdatasync (as the gateway writes its records: docs/LEDGER-FORMAT.md §4.5), and appended + fdatasync.
FSYNC="$(WORK="$WORK" python3 - <<'PY'
import os, time
def probe(over_zeros):
    path = os.path.join(os.environ["WORK"], "fsync-probe")
    if os.path.exists(path): os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    if over_zeros:
        os.write(fd, bytes(8 << 20)); os.fsync(fd)
    lat, off = [], 0
    end = time.monotonic() + 3
    while time.monotonic() < end:
        t = time.perf_counter(); os.pwrite(fd, b"x" * 512, off); os.fdatasync(fd); lat.append((time.perf_counter() - t) * 1000)
        off += 512
        time.sleep(0.001)
    os.close(fd); os.unlink(path); lat.sort(); n = len(lat)
    return f"{lat[n//2]:.3f} {lat[int(n*0.99)]:.3f} {lat[int(n*0.999)]:.3f} {lat[-1]:.3f} {n}"
print(probe(True), probe(False))
PY
)"
read -r f_p50 f_p99 f_p999 f_max f_n a_p50 a_p99 a_p999 a_max a_n <<<"$FSYNC"
echo "tally gateway benchmark: ${DURATION}s per measurement, $(nproc) cores, gateway event-loop threads $THREADS (nginx proxy: $PROXY_WORKERS worker(s), upstream nginx: 1), ledger in $WORK/home ($(df -T "$WORK" | awk 'NR==2 {print $2}')); $(uptime | sed 's/.*load/load/')"
read -r sd_p50 sd_p99 sd_p999 <<<"$(steady "$UP")"
read -r sn_p50 sn_p99 sn_p999 <<<"$(steady "$PX")"
read -r sp_p50 sp_p99 sp_p999 <<<"$(steady "$PT")"
read -r sr_p50 sr_p99 sr_p999 <<<"$(steady "$RW")"
read -r st_p50 st_p99 st_p999 <<<"$(steady "$GW")"
printf '%-40s %10s %10s %10s\n' "latency @ steady 1,000 req/s (paced-load)" "p50 ms" "p99 ms" "p99.9 ms"
printf '%-40s %10s %10s %10s\n' "direct (nginx 200)" "$sd_p50" "$sd_p99" "$sd_p999"
printf '%-40s %10s %10s %10s\n' "nginx reverse proxy" "$sn_p50" "$sn_p99" "$sn_p999"
printf '%-40s %10s %10s %10s\n' "NIO pass-through (floor)" "$sp_p50" "$sp_p99" "$sp_p999"
printf '%-40s %10s %10s %10s\n' "NIO raw byte relay" "$sr_p50" "$sr_p99" "$sr_p999"
printf '%-40s %10s %10s %10s\n' "tally gateway" "$st_p50" "$st_p99" "$st_p999"
awk -v a="$st_p50" -v b="$sd_p50" -v c="$st_p99" -v d="$sd_p99" -v e="$sn_p50" -v f="$sn_p99" 'BEGIN {
  printf "added latency at a steady rate, tally vs direct: p50 %.3f ms (target <= 0.3), p99 %.3f ms (target <= 1)\n", a-b, c-d
  printf "added latency at a steady rate, nginx proxy vs direct: p50 %.3f ms, p99 %.3f ms\n", e-b, f-d }'
read -r d_rps d_p50 d_p99 _ <<<"$(latency "http://127.0.0.1:$UP$TARGET")"
read -r n_rps n_p50 n_p99 _ <<<"$(latency "http://127.0.0.1:$PX$TARGET")"
read -r p_rps p_p50 p_p99 _ <<<"$(latency "http://127.0.0.1:$PT$TARGET")"
read -r r_rps r_p50 r_p99 _ <<<"$(latency "http://127.0.0.1:$RW$TARGET")"
c0=$(gw_ticks)
read -r t_rps t_p50 t_p99 t_n <<<"$(latency "http://127.0.0.1:$GW$TARGET")"
t_cpu_lat=$(cpu_per_call "$c0" "$(gw_ticks)" "$t_n")
printf '%-28s %10s %10s %10s\n' "latency @ bursts of 4 / 4 ms" "req/s" "p50 ms" "p99 ms"
printf '%-28s %10s %10s %10s\n' "direct (nginx 200)" "$d_rps" "$d_p50" "$d_p99"
printf '%-28s %10s %10s %10s\n' "nginx reverse proxy" "$n_rps" "$n_p50" "$n_p99"
printf '%-28s %10s %10s %10s\n' "NIO pass-through (floor)" "$p_rps" "$p_p50" "$p_p99"
printf '%-28s %10s %10s %10s\n' "NIO raw byte relay" "$r_rps" "$r_p50" "$r_p99"
printf '%-28s %10s %10s %10s\n' "tally gateway" "$t_rps" "$t_p50" "$t_p99"
echo "physical floor on this disk: 512 bytes written over zeros + fdatasync p50 $f_p50 ms, p99 $f_p99 ms, p99.9 $f_p999 ms, max $f_max ms ($f_n writes; each gateway call waits for one group commit, written this way)"
echo "  (appended + fdatasync instead: p50 $a_p50 ms, p99 $a_p99 ms, p99.9 $a_p999 ms, max $a_max ms, $a_n appends)"
awk -v a="$t_p50" -v b="$d_p50" -v c="$t_p99" -v d="$d_p99" -v e="$n_p50" -v f="$n_p99" -v g="$p_p50" -v h="$p_p99" -v i="$r_p50" -v j="$r_p99" 'BEGIN {
  printf "added latency in bursts, tally vs direct: p50 %.3f ms (target <= 0.3), p99 %.3f ms (target <= 1)\n", a-b, c-d
  printf "added latency in bursts, nginx proxy vs direct: p50 %.3f ms, p99 %.3f ms\n", e-b, f-d
  printf "added latency in bursts, NIO pass-through vs direct: p50 %.3f ms, p99 %.3f ms\n", g-b, h-d
  printf "added latency in bursts, NIO raw byte relay vs direct: p50 %.3f ms, p99 %.3f ms\n", i-b, j-d }'
read -r d_tp _ <<<"$(throughput "http://127.0.0.1:$UP$TARGET")"
read -r n_tp _ <<<"$(throughput "http://127.0.0.1:$PX$TARGET")"
p0=$(ticks "$PTPID")
read -r p_tp p_n <<<"$(throughput "http://127.0.0.1:$PT$TARGET")"
p_cpu_tp=$(cpu_per_call "$p0" "$(ticks "$PTPID")" "$p_n")
read -r r_tp _ <<<"$(throughput "http://127.0.0.1:$RW$TARGET")"
c0=$(gw_ticks)
read -r t_tp t_n <<<"$(throughput "http://127.0.0.1:$GW$TARGET")"
t_cpu_tp=$(cpu_per_call "$c0" "$(gw_ticks)" "$t_n")
printf '%-28s %10s\n' "throughput @ 64 connections" "req/s"
printf '%-28s %10s\n' "direct (nginx 200)" "$d_tp" "nginx reverse proxy" "$n_tp" "NIO pass-through (floor)" "$p_tp" "NIO raw byte relay" "$r_tp" "tally gateway" "$t_tp"
echo "gateway CPU per call (all its threads, user + system): $t_cpu_lat us at ~1,000 req/s offered, $t_cpu_tp us at 64 connections (NIO pass-through: $p_cpu_tp us)"
awk -v t="$t_tp" -v n="$n_tp" -v d="$d_tp" -v p="$p_tp" -v r="$r_tp" 'BEGIN {
  printf "tally / nginx proxy: %.2f (target >= 0.5); tally / direct: %.2f\n", t/n, t/d
  printf "NIO pass-through / nginx proxy: %.2f (no Tally work: the stack'"'"'s own cost); tally / NIO pass-through: %.2f\n", p/n, t/p
  printf "NIO raw byte relay / nginx proxy: %.2f (no HTTP parsing either)\n", r/n }'
metrics="$(curl -s -H "Authorization: Bearer $(cat "$WORK/home/gateway/metrics.token")" "http://127.0.0.1:$GW/_tally/metrics")"
echo "$metrics" | awk '/^tally_gateway_ledger_commit_seconds_(sum|count)/ {v[$1]=$2} /^tally_gateway_upstream_duration_seconds_(sum|count)/ {v[$1]=$2}
  END { printf "mean ledger commit wait %.3f ms, mean upstream time %.3f ms (gateway metrics over the whole run)\n",
        1000*v["tally_gateway_ledger_commit_seconds_sum"]/v["tally_gateway_ledger_commit_seconds_count"],
        1000*v["tally_gateway_upstream_duration_seconds_sum"]/v["tally_gateway_upstream_duration_seconds_count"] }'
records=$("$TALLY" ledger cat --home "$WORK/home" 2>/dev/null | wc -l || echo "?")
echo "ledger records written during the run: $records (call.requested + call.completed per call, durable)"
echo "load at the end: $(uptime | sed 's/.*load/load/')"
