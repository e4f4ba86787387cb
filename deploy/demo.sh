#!/usr/bin/env bash
# Builds cloudlink and runs the relay locally on its embedded defaults: routes in ./var,
# everything on loopback. A TLS backend (openssl s_server) stands in for a home service;
# cloudlink-control writes the route; cloudlink-dataplane routes curl's request to it by SNI.
#   bash deploy/demo.sh          show one request flowing through, then stop
#   KEEP=1 bash deploy/demo.sh   leave it running until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

tls_port=${TLS_PORT:-8443}
backend_port=${BACKEND_PORT:-9443}
metrics_port=${METRICS_PORT:-9477}
data=${DATA:-$root/var}

bash deploy/install-deps.sh
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$root/build" cloudlink-dataplane cloudlink-control

mkdir -p "$data/demo"
if [ ! -f "$data/demo/app.test.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=app.test" \
    -addext "subjectAltName=DNS:app.test" \
    -keyout "$data/demo/app.test.key" -out "$data/demo/app.test.crt" 2>/dev/null
fi

wait_for_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: nothing is listening on 127.0.0.1:$1 after 10 s" >&2
  return 1
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

echo "== backend: openssl s_server on 127.0.0.1:$backend_port (the 'home service')"
openssl s_server -accept "127.0.0.1:$backend_port" -cert "$data/demo/app.test.crt" \
  -key "$data/demo/app.test.key" -www -quiet </dev/null >"$data/demo/backend.log" 2>&1 &
pids+=($!)
wait_for_port "$backend_port"

echo "== route: app.test -> 127.0.0.1:$backend_port"
"$root/build/control/cloudlink-control" routes add app.test "127.0.0.1:$backend_port" --data "$data"
"$root/build/control/cloudlink-control" routes list --data "$data"

echo "== dataplane on 127.0.0.1:$tls_port (metrics on 127.0.0.1:$metrics_port)"
"$root/build/dataplane/cloudlink-dataplane" --data "$data" --listen-tls "127.0.0.1:$tls_port" \
  --metrics "127.0.0.1:$metrics_port" --workers 2 >"$data/demo/access.log" &
pids+=($!)

# Listeners are bound before /metrics answers, so waiting on metrics does not put a probe
# connection in the access log.
wait_for_port "$metrics_port"

echo "== curl https://app.test:$tls_port/ through the dataplane"
# The whole answer first, then its first lines: piping curl into head races head's exit
# against curl's last write (curl exits 23 when it loses).
answer=$(curl -sS --max-time 10 --resolve "app.test:$tls_port:127.0.0.1" -k "https://app.test:$tls_port/")
head -n 12 <<<"$answer"
echo "..."
echo "== an unknown name gets a TLS alert (unrecognized_name)"
curl -sS --max-time 10 --resolve "nope.test:$tls_port:127.0.0.1" -k "https://nope.test:$tls_port/" \
  2>&1 | head -n 2 || true
sleep 0.2
echo "== access log"
cat "$data/demo/access.log"
echo "== metrics (excerpt)"
curl -sS "http://127.0.0.1:$metrics_port/metrics" | grep -E '^cloudlink_(connections|relay_bytes)' || true

if [ -n "${KEEP:-}" ]; then
  echo "== running; try: curl --resolve app.test:$tls_port:127.0.0.1 -k https://app.test:$tls_port/  (Ctrl-C stops)"
  wait
fi
