#!/usr/bin/env bash
# Starts a minikv cluster as separate background processes on 127.0.0.1, with the
# commands and flags of DESIGN.md §3:
#   node dist/coordinator/main.js serve --id coord-i --bind ... --grpc ... --db ... --peers ...
#   node dist/volume/main.js serve --id vol-i --bind ... --grpc ... --data ... --wal ... --coordinators ...
#
# usage: scripts/cluster-up.sh [--dir D] [--coordinators 3] [--volumes 3] [--base-port 5000]
#                              [--volume-port P] [--replicas N] [--nice N] [--timeout S]
#   --dir D           data, logs and PIDs (default ./minikv-cluster); run again to resume its data
#   --coordinators N  coordinators, 1-7 (default 3); coord-i: HTTP base+2(i-1), gRPC the next port
#   --volumes N       volume servers, 1-64 (default 3)
#   --base-port P     first coordinator HTTP port (default 5000)
#   --volume-port P   first volume HTTP port (default base+1000); vol-i: HTTP P+2(i-1), gRPC the next
#   --replicas N      copies of each blob (default min(3, volumes))
#   --nice N          run the servers at this nice value, each in its own session with the
#                     session's autogroup nice set too (default 0; benchmarks use -10)
#   --timeout S       bound on the wait for every /health, a leader and every volume alive (default 60)
# Environment: MINIKV_NODE_ARGS, extra node flags for every server after the usual ones
# (common/node-flags.ts), split on spaces (e.g.
# "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them; profiles are written on stop).
#
# Writes <dir>/pids ("PID NAME" per line; scripts/cluster-down.sh stops exactly those),
# <dir>/logs/<name>.log, and <dir>/cluster.env (MINIKV_COORDINATOR=<HTTP URLs>, sourceable).
# Exits 0 once every process answers /health, a leader is elected and every volume is
# alive in every coordinator's /v1/cluster; on any failure it stops what it started and exits 1 (2: usage).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HOST=127.0.0.1
DIR=./minikv-cluster COORDS=3 VOLUMES=3 BASE=5000 VOLUME_PORT="" REPLICAS="" NICE=0 TIMEOUT_S=60

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "cluster-up: $*" >&2; exit 1; }
int_in() { # VALUE MIN MAX NAME
  [[ "$1" =~ ^-?[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ] ||
    { echo "cluster-up: $4 must be an integer in [$2, $3], got '$1'" >&2; exit 2; }
}
while [ $# -gt 0 ]; do
  case $1 in
    --dir) DIR=${2:?}; shift 2 ;;
    --coordinators) COORDS=${2:?}; shift 2 ;;
    --volumes) VOLUMES=${2:?}; shift 2 ;;
    --base-port) BASE=${2:?}; shift 2 ;;
    --volume-port) VOLUME_PORT=${2:?}; shift 2 ;;
    --replicas) REPLICAS=${2:?}; shift 2 ;;
    --nice) NICE=${2:?}; shift 2 ;;
    --timeout) TIMEOUT_S=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "cluster-up: unknown argument $1" >&2; usage ;;
  esac
done
int_in "$COORDS" 1 7 --coordinators
int_in "$VOLUMES" 1 64 --volumes
int_in "$BASE" 1024 65000 --base-port
[ -n "$VOLUME_PORT" ] || VOLUME_PORT=$((BASE + 1000))
int_in "$VOLUME_PORT" 1024 65000 --volume-port
[ -n "$REPLICAS" ] || REPLICAS=$((VOLUMES < 3 ? VOLUMES : 3))
int_in "$REPLICAS" 1 "$VOLUMES" --replicas
int_in "$NICE" -20 19 --nice
int_in "$TIMEOUT_S" 1 3600 --timeout
coord_last=$((BASE + 2 * COORDS - 1)) volume_last=$((VOLUME_PORT + 2 * VOLUMES - 1))
[ "$volume_last" -le 65535 ] || die "volume ports run past 65535"
if [ "$VOLUME_PORT" -le "$coord_last" ] && [ "$BASE" -le "$volume_last" ]; then
  die "coordinator ports $BASE-$coord_last overlap volume ports $VOLUME_PORT-$volume_last"
fi
for script in dist/coordinator/main.js dist/volume/main.js; do
  [ -f "$ROOT/$script" ] || die "$ROOT/$script is missing: run npm run build first"
done
command -v curl >/dev/null || die "curl is needed to wait for /health"

mkdir -p "$DIR/logs"
DIR="$(cd "$DIR" && pwd)"
PIDS=$DIR/pids
# alive PID: the process exists and is not a zombie (this VM's PID 1 may not reap orphans).
alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1; [ "$st" != Z ] && [ "$st" != X ]; }
if [ -f "$PIDS" ]; then
  while read -r pid _; do
    alive "$pid" && die "$PIDS lists running process $pid: run scripts/cluster-down.sh --dir $DIR first"
  done <"$PIDS"
  rm -f "$PIDS"
fi
port_taken() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
for port in $(seq "$BASE" "$coord_last") $(seq "$VOLUME_PORT" "$volume_last"); do
  port_taken "$port" && die "port $port on $HOST is already in use"
done

started=0
on_exit() {
  local rc=$?
  if [ "$rc" != 0 ] && [ "$started" = 1 ]; then
    echo "cluster-up: failed; stopping what was started" >&2
    "$ROOT/scripts/cluster-down.sh" --dir "$DIR" >&2 || true
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: in its own session (a Ctrl-C in this terminal does not reach it, and
# it leads its own process group) at nice NICE; "PID NAME" goes to the pid file. setsid
# does not fork here (a background job of a script is no group leader), so $! is the
# server's own PID once sh has exec'd it.
start() {
  local name=$1; shift
  setsid sh -c 'echo "$0" >/proc/self/autogroup 2>/dev/null || true; exec nice -n "$0" "$@"' "$NICE" \
    "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo "$! $name" >>"$PIDS"
  started=1
}

# The servers' V8 flags by role (common/node-flags.ts, SERVER_NODE_FLAGS), then the caller's.
read -ra COORDINATOR_NODE_ARGS <<<"--max-semi-space-size=8 --initial-old-space-size=128 ${MINIKV_NODE_ARGS:-}"
read -ra VOLUME_NODE_ARGS <<<"--max-semi-space-size=8 --initial-old-space-size=64 ${MINIKV_NODE_ARGS:-}"
# The servers' environment (common/node-flags.ts, SERVER_ENV).
export MALLOC_MMAP_THRESHOLD_=4194304
export MALLOC_TOP_PAD_=1048576
export MALLOC_ARENA_MAX=2
peers="" urls=""
for i in $(seq 1 "$COORDS"); do
  peers="${peers:+$peers,}coord-$i=$HOST:$((BASE + 2 * (i - 1) + 1))"
  urls="${urls:+$urls,}http://$HOST:$((BASE + 2 * (i - 1)))"
done
for i in $(seq 1 "$COORDS"); do
  http=$((BASE + 2 * (i - 1)))
  start "coord-$i" node "${COORDINATOR_NODE_ARGS[@]}" "$ROOT/dist/coordinator/main.js" serve --id "coord-$i" \
    --bind "$HOST:$http" --grpc "$HOST:$((http + 1))" --db "$DIR/coord-$i" \
    --peers "$peers" --replicas "$REPLICAS"
done
for i in $(seq 1 "$VOLUMES"); do
  http=$((VOLUME_PORT + 2 * (i - 1)))
  start "vol-$i" node "${VOLUME_NODE_ARGS[@]}" "$ROOT/dist/volume/main.js" serve --id "vol-$i" \
    --bind "$HOST:$http" --grpc "$HOST:$((http + 1))" \
    --data "$DIR/vol-$i/data" --wal "$DIR/vol-$i/wal" --coordinators "$urls"
done
printf 'MINIKV_COORDINATOR=%s\n' "$urls" >"$DIR/cluster.env"

deadline=$(($(date +%s) + TIMEOUT_S))
# wait_for DESCRIPTION COMMAND...: polls COMMAND until it succeeds, a server dies, or the deadline.
wait_for() {
  local what=$1; shift
  until "$@"; do
    while read -r pid name; do
      alive "$pid" || { tail -n 20 "$DIR/logs/$name.log" >&2; die "$name (pid $pid) exited; log: $DIR/logs/$name.log"; }
    done <"$PIDS"
    [ "$(date +%s)" -lt "$deadline" ] || die "timed out after ${TIMEOUT_S}s waiting for $what"
    sleep 0.2
  done
}
healthy() { curl -fsS -o /dev/null --max-time 2 "http://$HOST:$1/health" 2>/dev/null; }
for i in $(seq 1 "$COORDS"); do wait_for "coord-$i /health" healthy $((BASE + 2 * (i - 1))); done
for i in $(seq 1 "$VOLUMES"); do wait_for "vol-$i /health" healthy $((VOLUME_PORT + 2 * (i - 1))); done
# A leader, and every volume registered and alive, as one coordinator sees it (a follower
# sees liveness through the leader, up to a second later).
ready_at() {
  curl -fsS --max-time 2 "http://$HOST:$1/v1/cluster" 2>/dev/null | node -e '
    let text = "";
    process.stdin.on("data", (c) => (text += c)).on("end", () => {
      const cluster = JSON.parse(text || "{}");
      const alive = (cluster.volumes ?? []).filter((v) => v.state === "alive").length;
      process.exit(cluster.leader != null && alive >= Number(process.argv[1]) ? 0 : 1);
    });' "$VOLUMES"
}
for i in $(seq 1 "$COORDS"); do
  wait_for "a leader and $VOLUMES alive volumes in coord-$i's /v1/cluster" ready_at $((BASE + 2 * (i - 1)))
done
started=0

echo "minikv cluster up in $DIR ($COORDS coordinators, $VOLUMES volumes, $REPLICAS replicas)"
echo "  coordinators: $urls"
echo "  pids: $PIDS   logs: $DIR/logs/   stop: scripts/cluster-down.sh --dir $DIR"
