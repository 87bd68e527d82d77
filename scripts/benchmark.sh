#!/usr/bin/env bash
# The blob API benchmark of issue 4 §7 (also `npm run bench`). Builds, starts the real
# cluster (3 coordinators, 3 volumes, N=3, fsync on) with scripts/cluster-up.sh on free
# loopback ports under a temporary directory, and measures it with the peers' load
# generator (wrk through ../shared/peers/loadgen/blob-bench.sh and wrk-run.sh):
#   PUT then GET of 4 KiB objects at concurrency 16 and 64 (ops/s, p50/p99/p99.9),
#   PUT then GET of 64 MiB objects (MB/s),
# against http://127.0.0.1:<port>/v1/blobs/ on the Raft leader. The same run measures,
# with the same load and one system at a time, nginx serving plain files (peers/nginx),
# a 3-member etcd's 256-byte puts (peers/etcd), Swift with 3 replicas (peers/swift; 4 KiB
# only, SWIFT_COUNT ops per case: it does some 65 PUTs/s here) and the disk ceiling
# (peers/disk-ceiling.sh); then prints one table with the ratios of the goals (4 KiB PUT
# c64 vs etcd put and vs 25% of nginx PUT; 4 KiB GET c64 vs 33% of nginx GET; 64 MiB PUT vs
# 50% of the disk's fsynced sequential bandwidth / N) and minikv's rates against Swift's.
#
# usage: scripts/benchmark.sh [--skip-build] [--no-nginx] [--no-etcd] [--no-swift] [--no-disk]
#                             [--no-large] [--no-minikv] [--quick] [--results DIR]
#   --skip-build  use dist/ as it is
#   --quick       RUNS=1, 5000 small, 4 large and 500 Swift ops
#   --results DIR keep the JSONL results, the table and the minikv servers' logs (minikv-logs/)
#                 there (the temp dir is always removed)
# Environment: RUNS (3, interleaved runs per case), SMALL_COUNT (20000 ops per 4 KiB case),
#   LARGE_COUNT (16 ops per 64 MiB case), LARGE_CONC (4), SWIFT_COUNT (2000 ops per 4 KiB
#   Swift case), DISK_RUNS (RUNS),
#   BENCH_NICE (-10: servers and wrk at this nice, as the peers run), PEERS_DIR
#   (../shared/peers), QUIET_PCT/QUIET_MAX (wrk-run.sh waits for other load to stop).
# Needs about 20 GiB free under TMPDIR for the 64 MiB cases; checked before anything starts.
# Every process it starts is stopped by PID, and its temp dir removed, also on Ctrl-C or failure
# (with --results, what a failed run measured so far is kept).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEERS=${PEERS_DIR:-$ROOT/../shared/peers}
RUNS=${RUNS:-3} SMALL_COUNT=${SMALL_COUNT:-20000} LARGE_COUNT=${LARGE_COUNT:-16} LARGE_CONC=${LARGE_CONC:-4}
SWIFT_COUNT=${SWIFT_COUNT:-2000}
SMALL_SIZE=4096 LARGE_SIZE=$((64 * 1024 * 1024)) CONCS="16 64" REPLICAS=3
export BENCH_NICE=${BENCH_NICE:--10}
BUILD=1 NGINX=1 ETCD=1 SWIFT=1 DISK=1 LARGE=1 MINIKV=1 KEEP=""
while [ $# -gt 0 ]; do
  case $1 in
    --skip-build) BUILD=0 ;; --no-nginx) NGINX=0 ;; --no-etcd) ETCD=0 ;; --no-disk) DISK=0 ;;
    --no-swift) SWIFT=0 ;; --no-large) LARGE=0 ;; --no-minikv) MINIKV=0 ;;
    --quick) RUNS=1 SMALL_COUNT=5000 LARGE_COUNT=4 SWIFT_COUNT=500 ;;
    --results) KEEP=${2:?--results needs a directory}; shift ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "benchmark: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
DISK_RUNS=${DISK_RUNS:-$RUNS}
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ -d "$PEERS/loadgen" ] || die "no peer harness at $PEERS (set PEERS_DIR)"
need=(wrk curl /usr/bin/python3)
[ $NGINX = 1 ] && need+=(nginx)
[ $ETCD = 1 ] && need+=(etcd etcdctl)
[ $SWIFT = 1 ] && need+=(swift-proxy-server swift-object-server swift-ring-builder memcached)
[ $DISK = 1 ] && need+=(fio iperf3)
missing=$(for c in "${need[@]}"; do command -v "$c" >/dev/null || echo "$c"; done)
if [ -n "$missing" ]; then
  log "missing: $(echo $missing); running $PEERS/install.sh"
  "$PEERS/install.sh" >&2 || die "install.sh failed"
fi

# The 64 MiB cases write some 10 GB of minikv replicas and 3 GB of nginx files (one system at a time).
if [ $LARGE = 1 ]; then
  free_gib=$(df -Pk "${TMPDIR:-/tmp}" | awk 'NR == 2 {print int($4 / 1048576)}')
  [ "${free_gib:-0}" -ge 20 ] ||
    die "${TMPDIR:-/tmp} has ${free_gib:-0} GiB free; the 64 MiB cases need about 20 (or --no-large)"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/minikv-bench.XXXXXX")
RES=$TMP/results
mkdir -p "$RES" "$TMP/minikv"
# The load generator's foreign-load detector counts the servers in these pid files as ours.
export PEER_PIDFILES="$TMP/*/pids" RESULTS_DIR=$RES
export NGINX_BASE=$TMP/nginx ETCD_BASE=$TMP/etcd SWIFT_BASE=$TMP/swift
STAGE_PID=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$STAGE_PID" ] && kill -0 "$STAGE_PID" 2>/dev/null; then
    # The stage leads its own process group (setsid); wrk-run.sh stops its wrk on TERM.
    kill -TERM -- "-$STAGE_PID" 2>/dev/null || true
    wait "$STAGE_PID" 2>/dev/null || true
  fi
  [ -f "$TMP/cluster/pids" ] && "$ROOT/scripts/cluster-down.sh" --dir "$TMP/cluster" >&2 || true
  [ -f "$NGINX_BASE/pids" ] && "$PEERS/nginx/stop.sh" >&2 || true
  [ -f "$ETCD_BASE/pids" ] && "$PEERS/etcd/stop.sh" >&2 || true
  [ -f "$SWIFT_BASE/pids" ] && "$PEERS/swift/stop.sh" >&2 || true
  # A run that failed part-way still keeps what it measured.
  if [ "$rc" != 0 ] && [ -n "$KEEP" ] && compgen -G "$RES/*.jsonl" >/dev/null; then
    mkdir -p "$KEEP" && cp "$RES"/*.jsonl "$KEEP"/ && log "results so far kept in $KEEP"
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# stage CMD...: runs CMD in its own session and waits, so cleanup can stop all of it by group.
stage() {
  setsid "$@" &
  STAGE_PID=$!
  local rc=0
  wait "$STAGE_PID" || rc=$?
  STAGE_PID=""
  return "$rc"
}

# port_taken, free_base COUNT OFFSET
. "$ROOT/scripts/lib/free-ports.sh"

blob_bench() { # TAG URL SIZE:COUNT CONCS
  stage "$PEERS/loadgen/blob-bench.sh" -T "$1" -r "$RUNS" -c "$4" -S "$3" -o "$RES/$1.jsonl" "$2" \
    >>"$TMP/$1-summary.md"
}

T0=$(date +%s)
if [ $BUILD = 1 ]; then
  log "building"
  (cd "$ROOT" && npm run --silent build) >&2 || die "build failed"
fi
[ -f "$ROOT/dist/scripts/bench/blob-table.js" ] || die "dist/ is not built (drop --skip-build)"

if [ $DISK = 1 ]; then
  log "disk ceiling ($DISK_RUNS runs)"
  DISK_DIR=$TMP/disk OUT=$RES/disk.jsonl RUNS=$DISK_RUNS stage "$PEERS/disk-ceiling.sh" >"$TMP/disk-summary.md"
fi

if [ $MINIKV = 1 ]; then
  base=$(free_base 6 1000) || die "no free port range for the cluster"
  log "minikv: 3 coordinators, 3 volumes, N=$REPLICAS, ports $base.. and $((base + 1000)).."
  "$ROOT/scripts/cluster-up.sh" --dir "$TMP/cluster" --coordinators 3 --volumes 3 --replicas "$REPLICAS" \
    --base-port "$base" --nice "$BENCH_NICE" --timeout 120 >&2
  awk '{print $1}' "$TMP/cluster/pids" >"$TMP/minikv/pids"
  # Load goes to the leader, as etcd's does: a follower would add a forwarding hop to each write.
  leader_url=$(curl -fsS "http://127.0.0.1:$base/v1/cluster" | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)
print(next((x.get("httpUrl") for x in c["coordinators"] if x["id"] == c["leader"] and x.get("httpUrl")), ""))')
  URL=${leader_url:-http://127.0.0.1:$base}/v1/blobs/
  log "minikv: target $URL"
  # One PUT and GET first: a cluster that cannot store a blob would only produce a table of errors.
  head -c "$SMALL_SIZE" /dev/urandom >"$TMP/probe.bin"
  answer=$(curl -sS -X PUT --data-binary @"$TMP/probe.bin" -w '\n%{http_code}' "${URL}bench-probe" || true)
  [ "${answer##*$'\n'}" = 201 ] || die "minikv PUT probe failed: ${answer//$'\n'/ }"
  curl -fsS "${URL}bench-probe" | cmp -s - "$TMP/probe.bin" || die "minikv GET probe did not return the bytes it stored"
  # After a leader change the load goes to a follower, which forwards each write's Raft
  # entry and each read's index request to the leader: say how many changes there were,
  # and how many by the end of the 4 KiB cases (the rest came during the 64 MiB ones).
  leader_changes() {
    local total=0 i n
    for i in 0 1 2; do
      n=$(curl -fsS "http://127.0.0.1:$((base + 2 * i))/metrics" 2>/dev/null |
        awk '$1 ~ /^minikv_raft_leader_changes_total($|\{)/ {n += $2} END {print n + 0}' || true)
      total=$((total + ${n:-0}))
    done
    echo "$total"
  }
  blob_bench minikv "$URL" "$SMALL_SIZE:$SMALL_COUNT" "$CONCS"
  small_changes=$(leader_changes)
  [ $LARGE = 1 ] && blob_bench minikv "$URL" "$LARGE_SIZE:$LARGE_COUNT" "$LARGE_CONC"
  changes=$(leader_changes)
  MINIKV_LEADER_CHANGES="$changes (3 = the first election only; $small_changes by the end of the 4 KiB cases)"
  log "minikv: leader changes seen by the 3 coordinators over the run: $MINIKV_LEADER_CHANGES"
  "$ROOT/scripts/cluster-down.sh" --dir "$TMP/cluster" >&2
  # The servers' logs say why a leader changed (slow fsyncs, elections): kept with the results.
  if [ -n "$KEEP" ]; then mkdir -p "$KEEP/minikv-logs" && cp "$TMP/cluster/logs/"*.log "$KEEP/minikv-logs/"; fi
  # Its data (some 10 GB of replicas, WALs and Raft logs by now) would leave the peers short of disk.
  rm -rf "$TMP/cluster"
fi

if [ $NGINX = 1 ]; then
  port=$(free_base 1 0) || die "no free port for nginx"
  log "nginx on port $port"
  NGINX_PORT=$port "$PEERS/nginx/start.sh" >&2
  blob_bench nginx "http://127.0.0.1:$port/blobs/" "$SMALL_SIZE:$SMALL_COUNT" "$CONCS"
  [ $LARGE = 1 ] && blob_bench nginx "http://127.0.0.1:$port/blobs/" "$LARGE_SIZE:$LARGE_COUNT" "$LARGE_CONC"
  "$PEERS/nginx/stop.sh" >&2
fi

if [ $ETCD = 1 ]; then
  for p in 2379 2380 2479 2480 2579 2580; do port_taken "$p" && die "etcd's port $p is in use (--no-etcd to skip)"; done
  log "etcd: 3 members, 256-byte puts"
  OUT=$RES/etcd.jsonl N=$SMALL_COUNT CONCS=$CONCS stage "$PEERS/etcd/bench.sh" >"$TMP/etcd-summary.md"
fi

if [ $SWIFT = 1 ]; then
  for p in 8080 11211 6210 6211 6212 6220 6221 6222 6230 6231 6232; do
    port_taken "$p" && die "Swift's port $p is in use (--no-swift to skip)"
  done
  log "swift: 3 replicas, 4 KiB x $SWIFT_COUNT ops per case"
  SIZES="$SMALL_SIZE:$SWIFT_COUNT" CONCS=$CONCS stage "$PEERS/swift/bench.sh" -o "$RES/swift.jsonl" \
    >"$TMP/swift-summary.md"
fi

TABLE=$TMP/table.md
{
  echo "minikv blob benchmark, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "${BENCH_COMMIT:-?}")"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -sr); node $(node --version)"
  echo "load: wrk (peers/loadgen), $RUNS interleaved runs per case (median, min–max), 4 KiB x $SMALL_COUNT ops" \
    "at c16/c64 (Swift: x $SWIFT_COUNT), 64 MiB x $LARGE_COUNT ops at c$LARGE_CONC;" \
    "minikv: 3 coordinators, 3 volumes, N=$REPLICAS, fsync on"
  [ -n "${MINIKV_LEADER_CHANGES:-}" ] &&
    echo "minikv Raft leader changes over the run, summed over the coordinators: $MINIKV_LEADER_CHANGES"
  echo
  files=()
  for part in minikv nginx etcd swift disk; do [ -f "$RES/$part.jsonl" ] && files+=("$RES/$part.jsonl"); done
  node "$ROOT/dist/scripts/bench/blob-table.js" --replicas "$REPLICAS" --large-label "minikv put 64MiB c$LARGE_CONC" \
    "${files[@]}"
  echo
  echo "total $(( $(date +%s) - T0 )) s"
} >"$TABLE"
cat "$TABLE"
if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"
  cp "$RES"/*.jsonl "$TABLE" "$KEEP"/
  log "results kept in $KEEP"
fi
