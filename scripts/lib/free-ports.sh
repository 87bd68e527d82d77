# Sourced by the benchmark scripts: free loopback ports.
# port_taken PORT: true when something listens on 127.0.0.1:PORT.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# free_base COUNT OFFSET: prints an even port P with P..P+COUNT-1 and P+OFFSET..P+OFFSET+COUNT-1
# free (at most 50 random tries); fails when none was found. Every port is below Linux's
# ephemeral range (32768-60999): one in it may be taken a moment later as the local port of an
# outgoing connection, and the server meant to bind it then fails with EADDRINUSE.
free_base() {
  local base p ok span=$(($1 + $2))
  for _ in $(seq 1 50); do
    base=$((20000 + 2 * (RANDOM % ((32768 - 20000 - span) / 2)))) ok=1
    for p in $(seq "$base" $((base + $1 - 1))) $(seq $((base + $2)) $((base + $2 + $1 - 1))); do
      port_taken "$p" && { ok=0; break; }
    done
    [ $ok = 1 ] && { echo "$base"; return 0; }
  done
  echo "no free port range found" >&2
  return 1
}
