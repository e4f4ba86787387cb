# shellcheck shell=bash disable=SC2154,SC2034  # the caller sets work, commands, sni, root; reads nginx_worker
# Helpers shared by bench/run.sh and bench/tunnel.sh (sourced, not run). The caller sets
# $work (its temporary folder), $commands (the file every command is recorded in) and $sni, and
# declares started_pids=() before start_bg is used.

say() { echo "$*" >&2; }

# Prints (on stderr: stdout carries the report) and records a command, then runs it.
run() {
  echo "\$ $*" | tee -a "$commands" >&2
  "$@"
}

# Prints and records a command, then starts it in the background, stdout and stderr to the
# given files. The pid is left in $bg_pid.
start_bg() {
  local out=$1 err=$2
  shift 2
  echo "\$ $* >$(basename "$out") 2>$(basename "$err") &" | tee -a "$commands" >&2
  "$@" >"$out" 2>"$err" &
  bg_pid=$!
  started_pids+=("$bg_pid")
}

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Stops every process start_bg started, then waits for them.
stop_started() {
  local pid
  for pid in "${started_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${started_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_listening() {
  local port=$1 pid=$2 tries=${3:-100}
  for _ in $(seq "$tries"); do
    if ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# user+nice+system+irq+softirq over all CPUs, in clock ticks.
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8; exit}' /proc/stat; }
# utime+stime of a process (all its threads), in clock ticks; 0 once it is gone.
process_ticks() {
  awk '{sub(/^.*\) /, ""); print $12+$13}' "/proc/$1/stat" 2>/dev/null || echo 0
}
peak_rss_kb() { awk '/^VmHWM:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Clock ticks between two readings, in seconds.
ticks_to_s() { awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN{print (b-a)/hz}'; }

# The ClientHello-routing configurations of the two reference proxies: listen on 127.0.0.1:$1,
# send bench.test to the servers that follow ("127.0.0.1:PORT" each; several are balanced by
# least connections). Written to $work/haproxy.cfg (+ $work/sni.map) and $work/nginx.conf.
write_haproxy_config() {
  local port=$1 i=0 server
  shift
  echo "$sni bench_backend" >"$work/sni.map"
  cat >"$work/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4000

defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend tls_in
    bind 127.0.0.1:$port
    tcp-request inspect-delay 5s
    tcp-request content accept if { req.ssl_hello_type 1 }
    use_backend %[req.ssl_sni,lower,map($work/sni.map)]

backend bench_backend
EOF
  [ $# -gt 1 ] && echo "    balance leastconn" >>"$work/haproxy.cfg"
  for server in "$@"; do
    i=$((i + 1))
    echo "    server backend$i $server" >>"$work/haproxy.cfg"
  done
}

write_nginx_config() {
  local port=$1 servers="" server
  shift
  [ $# -gt 1 ] && servers="least_conn;"
  for server in "$@"; do
    servers="$servers${servers:+
        }server $server;"
  done
  cat >"$work/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
worker_rlimit_nofile 16384;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;

events {
    worker_connections 8000;
}

stream {
    map \$ssl_preread_server_name \$upstream {
        $sni bench_backend;
    }
    upstream bench_backend {
        $servers
    }
    server {
        listen 127.0.0.1:$port;
        ssl_preread on;
        proxy_pass \$upstream;
    }
}
EOF
}

# The process of an nginx master that relays: its one worker (set in $nginx_worker).
find_nginx_worker() {
  local master=$1
  nginx_worker=
  for _ in $(seq 50); do
    nginx_worker=$(pgrep -P "$master" | head -n 1) && return 0
    sleep 0.05
  done
  return 1
}

# The report's header lines about the machine and the software.
machine_lines() {
  echo "- machine: $(nproc) CPUs, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)," \
    "kernel $(uname -r)"
  echo "- $(haproxy -v 2>/dev/null | head -n 1 | cut -d' ' -f1-3), $(nginx -v 2>&1 | cut -d' ' -f3)," \
    "cloudlink $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "($(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo 'uncommitted changes' || echo clean))"
}
