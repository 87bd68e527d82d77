#!/usr/bin/env bash
# Where a blob request's CPU goes: starts the real cluster (scripts/cluster-up.sh: 3
# coordinators, 3 volumes, N=3, fsync on) on free loopback ports under a temporary
# directory, runs 4 KiB PUTs and then GETs of the keys written at concurrency C against the
# Raft leader with the peers' wrk harness (../shared/peers/loadgen/wrk-run.sh), and prints
# for each phase the rate and the CPU time (user + system, all threads, from
# /proc/<pid>/stat) every server process spent per request.
#
# usage: scripts/cpu-per-op.sh [--puts N] [--gets N] [--concurrency C] [--size BYTES]
#   --puts N         PUTs (default 5000); their keys are the GETs' key space
#   --gets N         GETs (default 20000), cycling over the keys written
#   --concurrency C  connections (default 64)
#   --size BYTES     PUT body size (default 4096)
# Environment: PEERS_DIR (../shared/peers), BENCH_NICE (-10), MINIKV_NODE_ARGS (extra node
# flags, e.g. "--cpu-prof --cpu-prof-dir=DIR"), and any MINIKV_* server flag (e.g.
# MINIKV_LEASE_READS=off), which the servers read from the environment.
# Every process it starts is stopped by PID and its temp dir removed, also on failure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEERS=${PEERS_DIR:-$ROOT/../shared/peers}
PUTS=5000 GETS=20000 CONC=64 SIZE=4096
while [ $# -gt 0 ]; do
  case $1 in
    --puts) PUTS=${2:?}; shift 2 ;;
    --gets) GETS=${2:?}; shift 2 ;;
    --concurrency) CONC=${2:?}; shift 2 ;;
    --size) SIZE=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cpu-per-op: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$PUTS" "$GETS" "$CONC" "$SIZE"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "cpu-per-op: counts and sizes are positive integers" >&2; exit 2; }
done
[ -x "$PEERS/loadgen/wrk-run.sh" ] || { echo "cpu-per-op: no peer harness at $PEERS (set PEERS_DIR)" >&2; exit 1; }
[ -f "$ROOT/dist/coordinator/main.js" ] || { echo "cpu-per-op: dist/ is not built (npm run build)" >&2; exit 1; }
export BENCH_NICE=${BENCH_NICE:--10}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/minikv-cpu.XXXXXX")
cleanup() {
  [ -f "$TMP/cluster/pids" ] && "$ROOT/scripts/cluster-down.sh" --dir "$TMP/cluster" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# port_taken, free_base COUNT OFFSET
. "$ROOT/scripts/lib/free-ports.sh"
base=$(free_base 6 1000) || exit 1

"$ROOT/scripts/cluster-up.sh" --dir "$TMP/cluster" --base-port "$base" --nice "$BENCH_NICE" >"$TMP/up.log" 2>&1 ||
  { cat "$TMP/up.log" >&2; exit 1; }
leader="" leader_name=""
# The cluster answers once each process is up; an election may still be under way (50 tries).
for _ in $(seq 50); do
  for i in 1 2 3; do
    port=$((base + 2 * (i - 1)))
    if curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"role":"leader"'; then
      leader=$port leader_name=coord-$i
    fi
  done
  [ -n "$leader" ] && break
  sleep 0.2
done
[ -n "$leader" ] || { echo "cpu-per-op: no leader found within 10 s" >&2; exit 1; }

# cpu_ticks: "NAME TICKS" per server, TICKS = utime + stime of the whole process.
cpu_ticks() { while read -r pid name; do echo "$name $(awk '{print $14 + $15}' "/proc/$pid/stat")"; done <"$TMP/cluster/pids"; }
hz=$(getconf CLK_TCK)
export PEER_PIDFILES="$TMP/cluster/pids"
printf '| phase | requests/s | %s |\n' "$(awk -v leader="$leader_name" '{printf "%s%s%s µs/request", sep, $2, ($2 == leader ? " (leader)" : ""); sep=" | "}' "$TMP/cluster/pids")"
printf '|---|---|%s\n' "$(awk '{printf "---|"}' "$TMP/cluster/pids")"
prefix="cpu$(date +%s)-"
for phase in put get; do
  count=$PUTS
  [ $phase = get ] && count=$GETS
  cpu_ticks >"$TMP/before"
  "$PEERS/loadgen/wrk-run.sh" -m "$phase" -s "$SIZE" -n "$count" -k "$PUTS" -c "$CONC" -p "$prefix" \
    "http://127.0.0.1:$leader/v1/blobs/" >"$TMP/result.json" 2>"$TMP/wrk.log" ||
    { cat "$TMP/wrk.log" >&2; exit 1; }
  cpu_ticks >"$TMP/after"
  rate=$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.0f (%d ok, %d errors)" % (r["ok"] / r["secs"], r["ok"], r["err"]))' "$TMP/result.json")
  cells=$(paste "$TMP/before" "$TMP/after" | awk -v n="$count" -v hz="$hz" '{printf "%s%.0f", sep, ($4 - $2) * 1e6 / hz / n; sep=" | "}')
  printf '| %s %s c%s | %s | %s |\n' "$phase" "$SIZE" "$CONC" "$rate" "$cells"
done
echo "(load against the leader, $leader_name at 127.0.0.1:$leader; CPU from /proc/<pid>/stat, $hz ticks a second)"
