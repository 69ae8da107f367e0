#!/usr/bin/env bash
# Side-by-side scale and load figures: `sanstls serve` against Debian's nginx (OpenSSL), same
# certificate (vectors/localhost-ecdsa-p256), same clients, same machine. Not part of the test
# run; see README.md ("sanstls serve") for the figures it printed here.
#
#   scripts/scale.sh                 # N=10000 held connections, 10 s load runs
#   N=2000 DURATION=5 scripts/scale.sh
#
# For each server:
#   1. memory: scripts/hold.py opens N TLS connections (Python ssl), fetches the page once on
#      each, holds them idle; we read the server's RSS (all its processes) before and after;
#   2. requests/s: wrk over CONNS keep-alive connections for DURATION seconds;
#   3. handshakes/s: the same with "Connection: close", so every request is a new TCP
#      connection and a full handshake (resumption is off on both servers).
# With wrk on the same cores the rates are bounded by the client too, so the script also
# prints the server's own CPU time per request and per handshake (from /proc), which does not
# depend on how busy the machine is.
# Needs: wrk, nginx, python3, curl (apt: wrk nginx python3 curl).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
THREADS=${THREADS:-$(nproc)}
PORT_SANSTLS=${PORT_SANSTLS:-18443}
PORT_NGINX=${PORT_NGINX:-18444}
CERT=$PWD/vectors/localhost-ecdsa-p256.pem
KEY=$PWD/vectors/localhost-ecdsa-p256.key
CA=$PWD/vectors/ca.pem
for tool in wrk nginx python3 curl; do
  command -v "$tool" >/dev/null || { echo "scale.sh: $tool is missing" >&2; exit 1; }
done
# N held connections plus the client's own ends, in separate processes.
ulimit -n $((N + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cargo build --release -q -p sanstls-cli
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/sanstls

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# RSS (KiB) of a process and its children (nginx's workers).
rss() {
  local total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")))
  done
  echo "$total"
}

wait_up() {
  for _ in $(seq 200); do
    curl -sf --cacert "$CA" --resolve "localhost:$1:127.0.0.1" "https://localhost:$1/" >/dev/null && return
    sleep 0.1
  done
  echo "scale.sh: nothing answers on $1" >&2; exit 1
}

# CPU time (clock ticks) used so far by a process and its children.
cpu_ticks() {
  local total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}

# Prints "requests/s server-CPU-µs-per-request" for one wrk run.
wrk_rate() { # port, extra wrk args...
  local port=$1; shift
  local before; before=$(cpu_ticks "$server_pid")
  wrk -t2 -c"$CONNS" -d"${DURATION}s" "$@" "https://127.0.0.1:$port/" >"$tmp/wrk.out"
  local after; after=$(cpu_ticks "$server_pid")
  grep -E "requests in|Requests/sec|errors" "$tmp/wrk.out" >&2 || true
  awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
    / requests in / { n = $1 }
    /Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.0f", rps, ticks / hz * 1e6 / n }' "$tmp/wrk.out"
}

measure() { # name, port
  local name=$1 port=$2
  wait_up "$port"
  sleep 0.5
  local idle; idle=$(rss "$server_pid")
  mkfifo "$tmp/hold.in"
  python3 scripts/hold.py 127.0.0.1 "$port" "$N" "$CA" <"$tmp/hold.in" >"$tmp/hold.out" &
  local hold_pid=$!
  exec 3>"$tmp/hold.in"
  while ! grep -q "^held" "$tmp/hold.out"; do
    kill -0 "$hold_pid" 2>/dev/null || { echo "scale.sh: hold.py failed against $name" >&2; exit 1; }
    sleep 0.5
  done
  sleep 1
  local held; held=$(rss "$server_pid")
  exec 3>&-
  wait "$hold_pid" || true
  rm -f "$tmp/hold.in" "$tmp/hold.out"
  sleep 2 # the server closes them
  echo "$name: keep-alive run" >&2
  local rps; rps=$(wrk_rate "$port")
  echo "$name: Connection: close run" >&2
  local hps; hps=$(wrk_rate "$port" -H "Connection: close")
  awk -v name="$name" -v idle="$idle" -v held="$held" -v n="$N" -v rps="$rps" -v hps="$hps" 'BEGIN {
    per = (held - idle) / n
    split(rps, r, " "); split(hps, h, " ")
    printf "%-8s %9d %10d %9.1f %10.0f %11d %9d %13d %9d\n", name, idle, held, per, 1024 / per, r[1], r[2], h[1], h[2]
  }' >>"$tmp/table"
}

echo "sanstls serve: --threads $THREADS" >&2
"$BIN" serve --listen "127.0.0.1:$PORT_SANSTLS" --cert "$CERT" --key "$KEY" --threads "$THREADS" \
  --tickets 0 --log warn --idle-timeout 600 --handshake-timeout 60 &
server_pid=$!
measure sanstls "$PORT_SANSTLS"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=

echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'): worker_processes $THREADS" >&2
mkdir -p "$tmp/nginx/logs"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes $THREADS;
worker_rlimit_nofile $((N + 4096));
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections $((N + 1024)); }
http {
  access_log off;
  keepalive_timeout 600s;
  keepalive_requests 100000000;
  ssl_session_cache off;
  ssl_session_tickets off;
  server {
    listen 127.0.0.1:$PORT_NGINX ssl;
    ssl_certificate $CERT;
    ssl_certificate_key $KEY;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      default_type text/html;
      return 200 "<!DOCTYPE html>\n<html><head><title>nginx</title></head><body>\n<h1>nginx</h1>\n<pre>\nversion=TLSv1.3 suite=TLS13_AES_128_GCM_SHA256 group=X25519 scheme=ecdsa_secp256r1_sha256\nsni=localhost\n</pre>\n</body></html>\n";
    }
  }
}
CONF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g "daemon off;" &
server_pid=$!
measure nginx "$PORT_NGINX"

echo
echo "$N idle TLS connections held; wrk -t2 -c$CONNS -d${DURATION}s; $(nproc) cores shared with the clients"
echo "(µs: server CPU time per request, user + system, all its threads or processes)"
printf "%-8s %9s %10s %9s %10s %11s %9s %13s %9s\n" server "idle KiB" "held KiB" "KiB/conn" "conns/MiB" \
  "requests/s" "µs/req" "handshakes/s" "µs/hs"
cat "$tmp/table"
