#!/usr/bin/env bash
# Stops the cluster scripts/cluster-up.sh started: exactly the PIDs in <dir>/pids (never by
# name). SIGTERM first (a graceful close), SIGKILL for what is still running after the bound.
# A PID whose command line is no longer the server we started (the PID was reused) is left
# alone. Data stays in <dir> (cluster-up.sh resumes with it) unless --wipe is given.
#
# usage: scripts/cluster-down.sh [--dir D] [--timeout S] [--wipe]
#   --dir D      the directory given to cluster-up.sh (default ./minikv-cluster)
#   --timeout S  seconds to wait after SIGTERM before SIGKILL (default 20)
#   --wipe       also delete the data, logs and the directory
set -euo pipefail
DIR=./minikv-cluster TIMEOUT_S=20 WIPE=0
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --dir) DIR=${2:?}; shift 2 ;;
    --timeout) TIMEOUT_S=${2:?}; shift 2 ;;
    --wipe) WIPE=1; shift ;;
    -h|--help) usage ;;
    *) echo "cluster-down: unknown argument $1" >&2; usage ;;
  esac
done
[[ "$TIMEOUT_S" =~ ^[0-9]+$ ]] || { echo "cluster-down: --timeout must be a whole number of seconds" >&2; exit 2; }
[ -d "$DIR" ] || { echo "cluster-down: no directory $DIR" >&2; exit 1; }
DIR="$(cd "$DIR" && pwd)"
PIDS=$DIR/pids

alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1; [ "$st" != Z ] && [ "$st" != X ]; }
# ours PID: still the node server cluster-up.sh started for this directory.
ours() { alive "$1" && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "$DIR/"; }

if [ -f "$PIDS" ]; then
  targets=()
  while read -r pid name; do
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    if ours "$pid"; then targets+=("$pid"); else echo "cluster-down: $name (pid $pid) is not running"; fi
  done <"$PIDS"
  for pid in "${targets[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$(($(date +%s) + TIMEOUT_S))
  for pid in "${targets[@]}"; do
    while ours "$pid" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
    if ours "$pid"; then
      echo "cluster-down: pid $pid still running after ${TIMEOUT_S}s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${targets[@]}"; do
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  done
  echo "cluster-down: stopped ${#targets[@]} process(es): ${targets[*]:-none}"
  rm -f "$PIDS"
else
  echo "cluster-down: no $PIDS (nothing to stop)"
fi
if [ "$WIPE" = 1 ]; then rm -rf "$DIR"; fi
