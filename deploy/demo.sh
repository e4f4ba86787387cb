#!/usr/bin/env bash
# Builds cloudlink and runs the whole stack on loopback with its embedded defaults, state in
# ./var: cloudlink-control (REST API), cloudlink-dataplane, a private OpenSSH sshd on a high
# port with deploy/sshd/cloudlink.conf, and a home: `cloudlink-home register`, `expose` and
# `run` in front of a demo HTTPS service (openssl s_server). curl then reaches the home
# service through dataplane -> sshd tunnel -> agent. Run as root (sshd, the system users
# `cloudlink` and `cloudlink-keys`, made when missing and left in place).
#   bash deploy/demo.sh          show one request flowing through, then stop
#   KEEP=1 bash deploy/demo.sh   leave it running until Ctrl-C
# Ports and folder: TLS_PORT (8443), CONTROL_PORT (8000), SSH_PORT (2222), BACKEND_PORT (9443),
# METRICS_PORT (9477), PORT_RANGE (20000-20099, the homes' tunnel ports), DATA (./var).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

tls_port=${TLS_PORT:-8443}
backend_port=${BACKEND_PORT:-9443}
metrics_port=${METRICS_PORT:-9477}
control_port=${CONTROL_PORT:-8000}
ssh_port=${SSH_PORT:-2222}
port_range=${PORT_RANGE:-20000-20099}
data=${DATA:-$root/var}
host=demo.localhost
user=demo
password=demo-password

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: run as root (it starts its own sshd and makes the system users it needs)" >&2
  exit 1
fi

bash deploy/install-deps.sh
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$root/build" cloudlink-dataplane cloudlink-control cloudlink-home
control="$root/build/control/cloudlink-control"
home_bin="$root/build/home-agent/cloudlink-home"

# Each run starts from an empty state: only a directory holding what a demo makes is emptied.
if [ -d "$data" ]; then
  for entry in "$data"/* "$data"/.[!.]*; do
    [ -e "$entry" ] || continue
    case "${entry##*/}" in
      .cloudlink-demo | state | routes | demo | home | sshd) ;;
      *) echo "demo: $data holds ${entry##*/}, not made by this demo; set DATA to another directory" >&2
         exit 1 ;;
    esac
  done
fi
rm -rf "$data"
mkdir -p "$data/demo" "$data/home" "$data/sshd"
touch "$data/.cloudlink-demo"

wait_for_port() {
  for _ in $(seq 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: nothing is listening on 127.0.0.1:$1 after 15 s" >&2
  return 1
}

# The same, without connecting: a probe through the tunnel would reach the home service.
wait_for_listener() {
  for _ in $(seq 150); do
    [ -n "$(ss -Hltn "sport = :$1")" ] && return 0
    sleep 0.1
  done
  echo "demo: nothing is listening on 127.0.0.1:$1 after 15 s" >&2
  return 1
}

for port in "$tls_port" "$control_port" "$ssh_port" "$backend_port" "$metrics_port" \
  "${port_range%-*}"; do
  if [ -n "$(ss -Hltn "sport = :$port")" ]; then
    echo "demo: 127.0.0.1:$port is in use already; move the demo with the *_PORT variables" >&2
    exit 1
  fi
done

pids=()
bin_dir=""
cleanup() {
  # The agent first, so that sshd's per-connection processes end with their connections.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$bin_dir" ] && rm -rf "$bin_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== system users cloudlink and cloudlink-keys (sshd's tunnel user and key-lookup user)"
for u in cloudlink cloudlink-keys; do
  id -u "$u" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$u"
done
usermod -p '*' cloudlink  # no password, but not locked: sshd without PAM refuses locked users

echo "== control: REST API on 127.0.0.1:$control_port, state in $data"
"$control" init --no-start --no-chown --data "$data"
printf '%s\n' "$password" | "$control" users add "$user" --password-stdin --data "$data" >/dev/null
"$control" serve --data "$data" --listen "127.0.0.1:$control_port" --ssh-host 127.0.0.1 \
  --ssh-port "$ssh_port" --port-range "$port_range" >"$data/demo/control.log" 2>&1 &
pids+=($!)
wait_for_port "$control_port"

echo "== sshd on 127.0.0.1:$ssh_port with deploy/sshd/cloudlink.conf"
# sshd runs AuthorizedKeysCommand only from a root-owned path no one else can write to.
bin_dir=$(mktemp -d /usr/local/lib/cloudlink-demo.XXXXXX)
chmod 755 "$bin_dir"
install -m 755 "$control" "$bin_dir/cloudlink-control"
# cloudlink-keys reads the state (and takes LMDB's reader lock): group access to ./var/state
# only. When a parent of ./var is closed to other users (/root is 0700), the lookup runs as
# root instead.
chgrp cloudlink-keys "$data" "$data/state" "$data/state"/*
chmod 750 "$data" && chmod 770 "$data/state" && chmod 660 "$data/state"/*
keys_user=cloudlink-keys
if ! runuser -u cloudlink-keys -- test -r "$data/state/data.mdb" 2>/dev/null; then
  keys_user=root
  echo "   ($data is not reachable for cloudlink-keys; the demo's key lookup runs as root)"
fi
ssh-keygen -q -t ed25519 -N '' -C demo-host -f "$data/sshd/host_key"
{
  printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\nUsePAM no\n' \
    "$ssh_port" "$data/sshd/host_key"
  printf 'AuthorizedKeysFile none\nAllowUsers cloudlink\n\n'
  sed -e "s|/usr/local/bin/cloudlink-control|$bin_dir/cloudlink-control|" \
    -e "s|--data /var/lib/cloudlink|--data $data|" \
    -e "s|AuthorizedKeysCommandUser cloudlink-keys|AuthorizedKeysCommandUser $keys_user|" \
    deploy/sshd/cloudlink.conf
} >"$data/sshd/sshd_config"
mkdir -p /run/sshd
/usr/sbin/sshd -t -f "$data/sshd/sshd_config"
/usr/sbin/sshd -D -e -f "$data/sshd/sshd_config" >"$data/demo/sshd.log" 2>&1 &
pids+=($!)
wait_for_port "$ssh_port"

echo "== dataplane on 127.0.0.1:$tls_port (metrics on 127.0.0.1:$metrics_port)"
"$root/build/dataplane/cloudlink-dataplane" --data "$data" --listen-tls "127.0.0.1:$tls_port" \
  --metrics "127.0.0.1:$metrics_port" --workers 2 >"$data/demo/access.log" &
pids+=($!)
wait_for_port "$metrics_port"

echo "== the home service: openssl s_server -www on 127.0.0.1:$backend_port"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj "/CN=$host" -addext "subjectAltName=DNS:$host" \
  -keyout "$data/demo/$host.key" -out "$data/demo/$host.crt" 2>/dev/null
openssl s_server -accept "127.0.0.1:$backend_port" -cert "$data/demo/$host.crt" \
  -key "$data/demo/$host.key" -www -quiet </dev/null >"$data/demo/backend.log" 2>&1 &
pids+=($!)
wait_for_port "$backend_port"

config="$data/home/cloudlink.yaml"
echo "== cloudlink-home keygen, register, expose"
"$home_bin" keygen --output "$data/home/id_ed25519" >/dev/null
printf '%s\n' "$password" | "$home_bin" register --server "http://127.0.0.1:$control_port" \
  --username "$user" --password-stdin --name demo --public-key "$data/home/id_ed25519.pub" \
  --private-key "$data/home/id_ed25519" --config "$config"
"$home_bin" expose "$host" --to "127.0.0.1:$backend_port" --config "$config"
"$control" routes list --data "$data"
tunnel_port=$(sed -n 's/.*tunnel_ports: *\[ *\([0-9]*\).*/\1/p' "$config" | head -n 1)

echo "== cloudlink-home run (the reverse tunnel through sshd)"
"$home_bin" --config "$config" run >"$data/demo/agent.log" 2>&1 &
pids+=($!)
wait_for_listener "$tunnel_port"

echo "== curl --resolve $host:$tls_port:127.0.0.1 https://$host:$tls_port/"
echo "   (curl -> dataplane :$tls_port -> sshd tunnel 127.0.0.1:$tunnel_port -> agent -> s_server)"
# The whole answer first, then its first lines: piping curl into head races head's exit
# against curl's last write (curl exits 23 when it loses).
answer=$(curl -sS --max-time 10 --cacert "$data/demo/$host.crt" \
  --resolve "$host:$tls_port:127.0.0.1" "https://$host:$tls_port/")
head -n 12 <<<"$answer"
echo "..."
echo "== cloudlink-home status"
# run rewrites its status file within 200 ms of a change; give it that moment.
sleep 0.5
for _ in $(seq 30); do
  "$home_bin" --config "$config" status >/dev/null 2>&1 && break
  sleep 0.1
done
"$home_bin" --config "$config" status || true
sleep 0.2
echo "== access log"
cat "$data/demo/access.log"

if [ -n "${KEEP:-}" ]; then
  echo "== running; try: curl --cacert $data/demo/$host.crt --resolve $host:$tls_port:127.0.0.1 https://$host:$tls_port/  (Ctrl-C stops)"
  wait
fi
echo "== stopping"
