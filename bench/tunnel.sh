#!/usr/bin/env bash
# Tunnel benchmark: the real path client -> cloudlink-dataplane -> OpenSSH sshd -> cloudlink-home
# -> cloudlink-bench-backend, on loopback, beside the same tunnel with HAProxy or nginx in front,
# with no proxy (the load generator straight to a port sshd holds) and with no tunnel at all;
# with 1, 2 and 4 SSH connections. Then, one connection at a time, new connections and one
# established flow through a plain OpenSSH `ssh -R` tunnel against cloudlink-home's.
#
#   bench/tunnel.sh [BUILD_DIR]     (default BUILD_DIR: build-bench in the checkout; run as root)
#
# Environment:
#   BENCH_DURATION   measured seconds per run (default 10)
#   BENCH_WARMUP     seconds before measuring (default 2)
#   BENCH_TUNNELS    SSH connection counts (default "1 2 4"; "" skips the load runs)
#   BENCH_PATHS      subset of "direct ssh-port dataplane haproxy nginx"
#   BENCH_SCENARIOS  subset of "bulk pingpong churn"
#   BENCH_SERIAL     subset of "direct ssh-R cloudlink-home dataplane" for the one-at-a-time
#                    runs ("" skips them); BENCH_SERIAL_DURATION seconds each (default 5)
#   BENCH_HOME_BIN   the cloudlink-home to run (default: the one in BUILD_DIR)
#   BENCH_HOME_COMPARE  another cloudlink-home binary, for the one-at-a-time row "compare"
#                    (add it to BENCH_SERIAL), e.g. a build from before a change;
#                    BENCH_HOME_COMPARE_LABEL names it in the table
#   BENCH_SKIP_BUILD=1  use the binaries already in BUILD_DIR
#   BENCH_JOBS       ninja -j (default 2)
#   BENCH_OUT        markdown output (default bench/tunnel-latest.md)
#
# Needs root: sshd runs on a free loopback port with its own host key, the config made of a few
# lines plus deploy/sshd/cloudlink.conf, and its AuthorizedKeysCommand pointing at a copy of
# cloudlink-control in a root-owned folder under /run with a temporary --data (one user, one
# home with a block of 10 ports). The `cloudlink` and `cloudlink-keys` system users are made
# when missing and removed again at exit. Prints every command it runs ("$ ..."), then the
# markdown tables; every process it started is stopped on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-bench}
case $build in /*) ;; *) build=$PWD/$build ;; esac
duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-2}
tunnel_counts=${BENCH_TUNNELS-1 2 4}
paths=${BENCH_PATHS-direct ssh-port dataplane haproxy nginx}
scenarios=${BENCH_SCENARIOS-bulk pingpong churn}
serial_rows=${BENCH_SERIAL-direct ssh-R cloudlink-home dataplane}
serial_duration=${BENCH_SERIAL_DURATION:-5}
serial_scenarios="serial-close serial-churn serial-pingpong"
out=${BENCH_OUT:-$root/bench/tunnel-latest.md}
sni=bench.test

# The same load shapes as bench/run.sh.
declare -A load_args=(
  [bulk]="--mode bulk --direction down --connections 4"
  [pingpong]="--mode pingpong --connections 16 --size 512"
  [churn]="--mode churn --connections 32 --size 128"
  [serial-close]="--mode churn --client-closes --connections 1 --size 128"
  [serial-churn]="--mode churn --connections 1 --size 128"
  [serial-pingpong]="--mode pingpong --connections 1 --size 128"
)

[ "$(id -u)" = 0 ] || { echo "bench/tunnel.sh runs sshd and must run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/cloudlink-tunnel-bench.XXXXXX)
commands=$work/commands.txt
records=$work/records.jsonl
: >"$commands"
: >"$records"
started_pids=()
made_users=()
bin_dir=

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

cleanup() {
  stop_started
  local user
  for user in "${made_users[@]}"; do
    userdel "$user" 2>/dev/null || true
  done
  [ -n "$bin_dir" ] && rm -rf "$bin_dir"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every process below the given one, and itself.
process_tree() {
  ps -e -o pid=,ppid= | awk -v top="$1" '
    { parent[$1] = $2 }
    END {
      keep[top] = 1; n = 1
      while (n) { n = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; n = 1 } }
      for (p in keep) print p
    }'
}
tree_ticks() {
  local total=0 pid
  for pid in $(process_tree "$1"); do
    total=$((total + $(process_ticks "$pid")))
  done
  echo "$total"
}

wait_port_free() {
  local port=$1
  for _ in $(seq 200); do
    ss -Hltn "sport = :$port" | grep -q . || return 0
    sleep 0.05
  done
  return 1
}

ensure_user() {
  local name=$1
  id "$name" >/dev/null 2>&1 && return 0
  run useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$name"
  made_users+=("$name")
}

# ---------------------------------------------------------------------------------------------
# Dependencies and build.
run bash "$root/deploy/install-deps.sh"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  run cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  run ninja -C "$build" -j "${BENCH_JOBS:-2}" cloudlink-loadgen cloudlink-bench-backend \
    cloudlink-dataplane cloudlink-control cloudlink-home >/dev/null
fi
loadgen=$build/bench/load/cloudlink-loadgen
backend_bin=$build/bench/load/cloudlink-bench-backend
dataplane_bin=$build/dataplane/cloudlink-dataplane
control_bin=$build/control/cloudlink-control
home_bin=${BENCH_HOME_BIN:-$build/home-agent/cloudlink-home}
for bin in "$loadgen" "$backend_bin" "$dataplane_bin" "$control_bin" "$home_bin" /usr/sbin/sshd; do
  [ -x "$bin" ] || { say "missing $bin"; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
# The VPS side: control state with one home, and sshd with the deploy drop-in.
ensure_user cloudlink
# '*': no password, but not a locked account (sshd without PAM refuses locked ones).
run usermod -p '*' cloudlink
ensure_user cloudlink-keys
keys_group=$(id -gn cloudlink-keys)

# sshd runs AuthorizedKeysCommand only from a path whose every folder is root's and not
# group/world-writable, so not from /tmp.
bin_dir=$(mktemp -d /run/cloudlink-tunnel-bench.XXXXXX)
chmod 755 "$bin_dir" "$work"
run cp "$control_bin" "$bin_dir/cloudlink-control"
control=$bin_dir/cloudlink-control

state=$work/state
run "$control" init --no-start --no-chown --data "$state" >/dev/null
echo bench-password | run "$control" users add bench --password-stdin --data "$state" >/dev/null
run ssh-keygen -q -t ed25519 -N '' -C bench-home -f "$work/home_key"
run ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$work/host_key"
port_base=$(python3 - <<'EOF'
import socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
for base in range(21000, 31000, 10):
    if all(free(p) for p in range(base, base + 10)):
        print(base); break
EOF
)
run "$control" homes create bench-home --owner bench --key "$(cut -d' ' -f1-2 "$work/home_key.pub")" \
  --port-range "$port_base-$((port_base + 9))" --port-block 10 --json --data "$state" \
  >"$work/home.json"
mapfile -t home_ports < <(python3 -c 'import json,sys; print(*json.load(open(sys.argv[1]))["ports"], sep="\n")' "$work/home.json")
# The data: root's, readable (and its lock files writable) by the key command's group.
chown -R "root:$keys_group" "$state"
find "$state" -type d -exec chmod 770 {} + -o -type f -exec chmod 660 {} +
chmod 750 "$state"

ssh_port=$(free_port)
{
  printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\nUsePAM no\n' \
    "$ssh_port" "$work/host_key"
  printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nAuthorizedKeysFile none\n'
  printf 'AllowUsers cloudlink\n\n'
  sed -e "s|/usr/local/bin/cloudlink-control|$control|" \
    -e "s|--data /var/lib/cloudlink|--data $state|" "$root/deploy/sshd/cloudlink.conf"
} >"$work/sshd_config"
mkdir -p /run/sshd
run /usr/sbin/sshd -t -f "$work/sshd_config"
start_bg "$work/sshd.log" "$work/sshd.log" /usr/sbin/sshd -D -e -f "$work/sshd_config"
sshd_pid=$bg_pid
wait_listening "$ssh_port" "$sshd_pid" || { say "sshd did not start:"; tail "$work/sshd.log" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# The home side: the backend (sink, source, echo) and the agent's config.
backend_port=$(free_port)
start_bg "$work/backend.log" "$work/backend.log" "$backend_bin" --listen "127.0.0.1:$backend_port" --lifetime 3600
backend_pid=$bg_pid
wait_listening "$backend_port" "$backend_pid" || { say "backend did not start"; exit 1; }

# cloudlink.yaml for a service with `count` connections on the given tunnel ports.
write_home_config() {
  local file=$1 count=$2
  shift 2
  local ports
  ports=$(IFS=,; echo "$*")
  cat >"$file" <<EOF
ssh:
  host: 127.0.0.1
  port: $ssh_port
  user: cloudlink
  private_key: $work/home_key
  known_host_key: "$(cut -d' ' -f1-2 "$work/host_key.pub")"
services:
  - hostname: $sni
    target: "127.0.0.1:$backend_port"
    tunnel_ports: [${ports//,/, }]
    connections: $count
EOF
}

home_pid=
home_ports_up=()
start_home() {
  local count=$1 bin=${2:-$home_bin} port
  write_home_config "$work/cloudlink.yaml" "$count" "${home_ports[@]:0:4}"
  home_ports_up=("${home_ports[@]:0:$count}")
  for port in "${home_ports_up[@]}"; do
    wait_port_free "$port" || { say "port $port is still held"; return 1; }
  done
  start_bg "$work/home.log" "$work/home.log" "$bin" --config "$work/cloudlink.yaml" run
  home_pid=$bg_pid
  for port in "${home_ports_up[@]}"; do
    wait_listening "$port" "$home_pid" 400 || { say "tunnel port $port not up:"; tail "$work/home.log" >&2; return 1; }
  done
}
stop_home() {
  [ -n "$home_pid" ] && stop_pid "$home_pid"
  home_pid=
}

# ---------------------------------------------------------------------------------------------
# Proxies in front of the tunnel ports, started fresh for each run.
routes_for=
write_dataplane_routes() {
  local targets
  targets=$(printf '127.0.0.1:%s,' "${home_ports_up[@]}")
  targets=${targets%,}
  [ "$routes_for" = "$targets" ] && return 0
  rm -rf "$work/routes"
  run "$control_bin" init --no-start --no-chown --data "$work/routes" >/dev/null
  run "$control_bin" routes add "$sni" "$targets" --data "$work/routes" >/dev/null
  routes_for=$targets
}

# Starts what the path needs in front of the tunnel; sets target_port, and proxy_pid /
# proxy_main_pid (empty when nothing is in front).
start_front() {
  local path=$1 port servers=()
  proxy_pid=
  proxy_main_pid=
  case $path in
    direct) target_port=$backend_port; return 0 ;;
    ssh-port | ssh-R | cloudlink-home | compare) target_port=${home_ports_up[0]}; return 0 ;;
  esac
  port=$(free_port)
  target_port=$port
  for p in "${home_ports_up[@]}"; do servers+=("127.0.0.1:$p"); done
  case $path in
    dataplane)
      write_dataplane_routes
      start_bg /dev/null "$work/dataplane.log" "$dataplane_bin" --data "$work/routes" \
        --listen-tls "127.0.0.1:$port" --metrics "127.0.0.1:$(free_port)" --workers 1 --relay copy
      proxy_main_pid=$bg_pid
      proxy_pid=$bg_pid
      ;;
    haproxy)
      write_haproxy_config "$port" "${servers[@]}"
      start_bg "$work/haproxy.log" "$work/haproxy.log" haproxy -db -f "$work/haproxy.cfg"
      proxy_main_pid=$bg_pid
      proxy_pid=$bg_pid
      ;;
    nginx)
      write_nginx_config "$port" "${servers[@]}"
      start_bg "$work/nginx.log" "$work/nginx.log" nginx -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf"
      proxy_main_pid=$bg_pid
      ;;
  esac
  wait_listening "$port" "$proxy_main_pid" || return 1
  if [ "$path" = nginx ]; then
    find_nginx_worker "$proxy_main_pid" || return 1
    proxy_pid=$nginx_worker
  fi
}

# Runs one load against the path and appends one JSON record.
measure() {
  local section=$1 path=$2 scenario=$3 tunnels=$4 seconds=$5
  local cpu0 cpu1 p0=0 p1=0 s0 s1 h0=0 h1=0 b0 b1 t0 t1 result
  if ! start_front "$path"; then
    say "$path did not start; skipped"
    [ -n "$proxy_main_pid" ] && stop_pid "$proxy_main_pid"
    return 0
  fi
  sleep 0.3
  cpu0=$(machine_ticks); s0=$(tree_ticks "$sshd_pid"); b0=$(process_ticks "$backend_pid")
  [ -n "$proxy_pid" ] && p0=$(process_ticks "$proxy_pid")
  [ -n "$home_pid" ] && h0=$(process_ticks "$home_pid")
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086  # load_args holds several flags on purpose
  result=$(run timeout --signal=KILL $((${warmup%.*} + ${seconds%.*} + 30)) "$loadgen" \
    --target "127.0.0.1:$target_port" --sni "$sni" ${load_args[$scenario]} \
    --warmup "$warmup" --duration "$seconds" | tail -n 1) || true
  t1=$(date +%s.%N)
  cpu1=$(machine_ticks); s1=$(tree_ticks "$sshd_pid"); b1=$(process_ticks "$backend_pid")
  [ -n "$proxy_pid" ] && p1=$(process_ticks "$proxy_pid")
  [ -n "$home_pid" ] && h1=$(process_ticks "$home_pid")
  [ -n "$proxy_main_pid" ] && stop_pid "$proxy_main_pid"
  case $result in
    \{*) ;;
    *) result='{"errors":1,"first_error":"loadgen produced no result"}' ;;
  esac
  echo "$result" >&2
  printf '{"section":"%s","path":"%s","scenario":"%s","tunnels":%s,"machine_cpu_s":%s,"proxy_cpu_s":%s,"sshd_cpu_s":%s,"home_cpu_s":%s,"backend_cpu_s":%s,"wall_s":%s,"loadgen":%s}\n' \
    "$section" "$path" "$scenario" "$tunnels" "$(ticks_to_s "$cpu0" "$cpu1")" \
    "$(ticks_to_s "$p0" "$p1")" "$(ticks_to_s "$s0" "$s1")" "$(ticks_to_s "$h0" "$h1")" \
    "$(ticks_to_s "$b0" "$b1")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" \
    "$result" >>"$records"
  sleep 1  # let the previous run's sockets finish closing
}

available() {
  case $1 in
    haproxy) command -v haproxy >/dev/null ;;
    nginx) command -v nginx >/dev/null && [ -e /usr/lib/nginx/modules/ngx_stream_module.so ] ;;
    *) true ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# The real path with 1, 2, 4 SSH connections. Paths take turns within a scenario, so a burst of
# other work on the machine skews neighbouring rows alike rather than one path's whole column.
for scenario in $scenarios; do
  for path in $paths; do
    [ "$path" = direct ] || continue
    say "== $scenario / direct (no tunnel)"
    measure load direct "$scenario" 0 "$duration"
  done
done
for tunnels in $tunnel_counts; do
  say "== cloudlink-home with $tunnels SSH connection(s)"
  start_home "$tunnels" || exit 1
  for scenario in $scenarios; do
    for path in $paths; do
      case $path in direct) continue ;; esac
      # Straight to a port sshd holds uses one SSH connection however many there are.
      [ "$path" = ssh-port ] && [ "$tunnels" != 1 ] && continue
      available "$path" || { say "skipping $path: not installed"; continue; }
      say "== $scenario / $path / $tunnels tunnel(s)"
      measure load "$path" "$scenario" "$tunnels" "$duration"
    done
  done
  stop_home
done

# ---------------------------------------------------------------------------------------------
# One connection at a time: new connections (connect, request, reply, close, repeat) and one
# established flow, through `ssh -R` (the command `cloudlink-home print-ssh-command` gives for a
# home without the agent) and through cloudlink-home, each with one SSH connection.
if [ -n "$serial_rows" ]; then
  for row in $serial_rows; do
    case $row in
      direct)
        for scenario in $serial_scenarios; do
          measure serial direct "$scenario" 0 "$serial_duration"
        done
        ;;
      ssh-R)
        write_home_config "$work/ssh-R.yaml" 1 "${home_ports[9]}"
        ssh_line=$(run "$home_bin" --config "$work/ssh-R.yaml" print-ssh-command "$sni")
        start_bg "$work/ssh-R.log" "$work/ssh-R.log" bash -c "exec $ssh_line"
        ssh_pid=$bg_pid
        wait_listening "${home_ports[9]}" "$ssh_pid" 400 || { say "ssh -R did not come up"; tail "$work/ssh-R.log" >&2; exit 1; }
        home_ports_up=("${home_ports[9]}")
        for scenario in $serial_scenarios; do
          measure serial ssh-R "$scenario" 1 "$serial_duration"
        done
        stop_pid "$ssh_pid"
        ;;
      cloudlink-home | dataplane | compare)
        if [ "$row" = compare ]; then
          [ -x "${BENCH_HOME_COMPARE:-}" ] || { say "compare: set BENCH_HOME_COMPARE"; exit 1; }
          start_home 1 "$BENCH_HOME_COMPARE" || exit 1
        else
          start_home 1 || exit 1
        fi
        for scenario in $serial_scenarios; do
          measure serial "$row" "$scenario" 1 "$serial_duration"
        done
        stop_home
        ;;
    esac
  done
fi

# ---------------------------------------------------------------------------------------------
# Report.
{
  echo "# cloudlink tunnel benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  machine_lines
  echo "- $(/usr/sbin/sshd -V 2>&1 | head -n 1 | cut -d, -f1) (deploy/sshd/cloudlink.conf)," \
    "libssh $(dpkg-query -W -f '${Version}' libssh-4 2>/dev/null || echo '?')," \
    "cloudlink-home: ${BENCH_HOME_BIN:-built from this checkout}$([ -n "${BENCH_HOME_COMPARE:-}" ] && echo "; compare: $BENCH_HOME_COMPARE")"
  echo "- ${warmup} s warm-up + ${duration} s measured per run (one-at-a-time runs: ${serial_duration} s);" \
    "proxies restarted per run, one worker each (dataplane --relay copy);" \
    "cloudlink-home restarted per SSH connection count"
  echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  BENCH_HOME_COMPARE_LABEL=${BENCH_HOME_COMPARE_LABEL:-} python3 "$root/bench/tunnel_report.py" "$records"
  echo
  echo "<details><summary>Commands run</summary>"
  echo
  echo '```'
  cat "$commands"
  echo '```'
  echo
  for f in sshd_config cloudlink.yaml haproxy.cfg sni.map nginx.conf; do
    [ -e "$work/$f" ] || continue
    echo "$f:"
    echo
    echo '```'
    cat "$work/$f"
    echo '```'
    echo
  done
  echo "</details>"
} >"$work/report.md"
cat "$work/report.md"
cp "$work/report.md" "$out"
say "written to $out"
