#!/usr/bin/env bash
# Load benchmark: cloudlink-dataplane (copy, splice and BPF sockmap relays) against HAProxy and nginx, each
# an SNI-routing TCP proxy with one worker on loopback, driven by cloudlink-loadgen in three
# scenarios (bulk download, ping-pong, connection churn) towards cloudlink-bench-backend.
#
#   bench/run.sh [BUILD_DIR]        (default BUILD_DIR: build-bench in the checkout)
#
# Environment:
#   BENCH_DURATION   measured seconds per run (default 10)
#   BENCH_WARMUP     seconds before measuring (default 2)
#   BENCH_PROXIES    subset of "dataplane-copy dataplane-splice dataplane-sockmap haproxy nginx"
#   BENCH_SCENARIOS  subset of "bulk pingpong churn"
#   BENCH_SKIP_BUILD=1  use the binaries already in BUILD_DIR
#   BENCH_JOBS       ninja -j (default 2)
#   BENCH_CMAKE_ARGS extra arguments for the cmake configure step
#   BENCH_OUT        markdown output (default bench/results-latest.md)
#
# Prints every command it runs ("$ ..."), then the markdown tables; everything listens on
# 127.0.0.1 ports picked at start, and every process it started is stopped on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-bench}
case $build in /*) ;; *) build=$PWD/$build ;; esac
duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-2}
proxies=${BENCH_PROXIES:-dataplane-copy dataplane-splice dataplane-sockmap haproxy nginx}
scenarios=${BENCH_SCENARIOS:-bulk pingpong churn}
out=${BENCH_OUT:-$root/bench/results-latest.md}
sni=bench.test

# Load shape per scenario. Bulk is a download (backend -> client): the client counts what it
# received, so the byte count is exact.
declare -A load_args=(
  [bulk]="--mode bulk --direction down --connections 4"
  [pingpong]="--mode pingpong --connections 16 --size 512"
  [churn]="--mode churn --connections 32 --size 128"
)

work=$(mktemp -d /tmp/cloudlink-bench.XXXXXX)
commands=$work/commands.txt
records=$work/records.jsonl
: >"$commands"
: >"$records"
started_pids=()

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

cleanup() {
  stop_started
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Dependencies and build.
run bash "$root/deploy/install-deps.sh"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  # shellcheck disable=SC2086  # BENCH_CMAKE_ARGS may hold several arguments
  run cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${BENCH_CMAKE_ARGS:-} \
    >/dev/null
  run ninja -C "$build" -j "${BENCH_JOBS:-2}" cloudlink-loadgen cloudlink-bench-backend >/dev/null
  if ! run ninja -C "$build" -j "${BENCH_JOBS:-2}" cloudlink-dataplane cloudlink-control \
    >"$work/dataplane-build.log" 2>&1; then
    say "cloudlink-dataplane did not build (tail of the log follows); its rows are skipped"
    tail -n 5 "$work/dataplane-build.log" >&2
  fi
fi
loadgen=$build/bench/load/cloudlink-loadgen
backend_bin=$build/bench/load/cloudlink-bench-backend
dataplane_bin=$build/dataplane/cloudlink-dataplane
control_bin=$build/control/cloudlink-control
for bin in "$loadgen" "$backend_bin"; do
  [ -x "$bin" ] || { say "missing $bin"; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
# The backend every proxy relays to, for the whole run.
backend_port=$(free_port)
start_bg "$work/backend.log" "$work/backend.log" "$backend_bin" --listen "127.0.0.1:$backend_port" --lifetime 1800
backend_pid=$bg_pid
wait_listening "$backend_port" "$backend_pid" || { say "backend did not start"; exit 1; }

dataplane_routes_written=0
write_dataplane_routes() {
  [ $dataplane_routes_written = 1 ] && return 0
  run "$control_bin" init --no-start --no-chown --data "$work/dataplane-data" >/dev/null
  run "$control_bin" routes add "$sni" "127.0.0.1:$backend_port" --data "$work/dataplane-data" \
    >/dev/null
  dataplane_routes_written=1
}

# Starts one proxy on $1; sets proxy_pid (the process that relays) and proxy_main_pid (the one
# to stop). Returns 1 if the proxy cannot run here.
start_proxy() {
  local name=$1 port=$2
  case $name in
    dataplane-copy | dataplane-splice | dataplane-sockmap)
      write_dataplane_routes
      # The access log (one line per connection on stdout) goes to /dev/null; HAProxy and nginx
      # log nothing either. sockmap with --require-bpf: where BPF cannot load, the row is
      # skipped rather than measured as a silent fallback to copy.
      local bpf_flag=()
      [ "$name" = dataplane-sockmap ] && bpf_flag=(--require-bpf)
      metrics_port=$(free_port)
      start_bg /dev/null "$work/$name.log" "$dataplane_bin" --data "$work/dataplane-data" \
        --listen-tls "127.0.0.1:$port" --metrics "127.0.0.1:$metrics_port" --workers 1 \
        --relay "${name#dataplane-}" "${bpf_flag[@]}"
      proxy_main_pid=$bg_pid
      proxy_pid=$bg_pid
      ;;
    haproxy)
      write_haproxy_config "$port" "127.0.0.1:$backend_port"
      start_bg "$work/haproxy.log" "$work/haproxy.log" haproxy -db -f "$work/haproxy.cfg"
      proxy_main_pid=$bg_pid
      proxy_pid=$bg_pid
      ;;
    nginx)
      write_nginx_config "$port" "127.0.0.1:$backend_port"
      start_bg "$work/nginx.log" "$work/nginx.log" nginx -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf"
      proxy_main_pid=$bg_pid
      ;;
  esac
  wait_listening "$port" "$proxy_main_pid" || return 1
  if [ "$name" = nginx ]; then
    # The master only supervises; the one worker process does the relaying.
    find_nginx_worker "$proxy_main_pid" || return 1
    proxy_pid=$nginx_worker
  fi
  return 0
}

proxy_available() {
  case $1 in
    dataplane-*) [ -x "$dataplane_bin" ] && [ -x "$control_bin" ] ;;
    haproxy) command -v haproxy >/dev/null ;;
    nginx) command -v nginx >/dev/null && [ -e /usr/lib/nginx/modules/ngx_stream_module.so ] ;;
  esac
}

# Runs one scenario against a freshly started proxy and appends one JSON record.
measure() {
  local name=$1 scenario=$2 port cpu0 cpu1 p0 p1 b0 b1 t0 t1 result rss
  port=$(free_port)
  if ! start_proxy "$name" "$port"; then
    say "$name did not start on 127.0.0.1:$port; skipped. Its log:"
    tail -n 5 "$work/$name.log" >&2 2>/dev/null || true
    stop_pid "$proxy_main_pid"
    return 0
  fi
  sleep 0.3
  cpu0=$(machine_ticks); p0=$(process_ticks "$proxy_pid"); b0=$(process_ticks "$backend_pid")
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086  # load_args holds several flags on purpose
  result=$(run timeout --signal=KILL $((${warmup%.*} + ${duration%.*} + 30)) "$loadgen" \
    --target "127.0.0.1:$port" --sni "$sni" ${load_args[$scenario]} \
    --warmup "$warmup" --duration "$duration" | tail -n 1) || true
  t1=$(date +%s.%N)
  cpu1=$(machine_ticks); p1=$(process_ticks "$proxy_pid"); b1=$(process_ticks "$backend_pid")
  rss=$(peak_rss_kb "$proxy_pid")
  # sockmap: how often a direction left the kernel for the copy lane (its reader was slower
  # than its writer for a moment); the report prints it under the tables.
  lane_moves=0
  if [ "$name" = dataplane-sockmap ]; then
    lane_moves=$(curl -s "http://127.0.0.1:$metrics_port/metrics" |
      awk '/^cloudlink_sockmap_backpressure_total/{s+=$2} END{print s+0}') || lane_moves=0
  fi
  stop_pid "$proxy_main_pid"
  case $result in
    \{*) ;;
    *) result='{"errors":1,"first_error":"loadgen produced no result"}' ;;
  esac
  echo "$result" >&2
  printf '{"proxy":"%s","scenario":"%s","machine_cpu_s":%s,"proxy_cpu_s":%s,"backend_cpu_s":%s,"wall_s":%s,"peak_rss_kb":%s,"lane_moves":%s,"loadgen":%s}\n' \
    "$name" "$scenario" \
    "$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$(getconf CLK_TCK)" 'BEGIN{print (b-a)/hz}')" \
    "$(awk -v a="$p0" -v b="$p1" -v hz="$(getconf CLK_TCK)" 'BEGIN{print (b-a)/hz}')" \
    "$(awk -v a="$b0" -v b="$b1" -v hz="$(getconf CLK_TCK)" 'BEGIN{print (b-a)/hz}')" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "${rss:-0}" "${lane_moves:-0}" "$result" >>"$records"
  sleep 1  # let the previous run's sockets finish closing
}

available=()
for name in $proxies; do
  if proxy_available "$name"; then
    available+=("$name")
    continue
  fi
  case $name in
    dataplane-*) say "skipping $name: $dataplane_bin or $control_bin is missing" ;;
    *) say "skipping $name: not installed" ;;
  esac
  echo "# skipped $name: not available" >>"$commands"
done
# Proxies take turns within a scenario, so a burst of other work on the machine skews
# neighbouring rows alike rather than one proxy's whole column.
for scenario in $scenarios; do
  for name in "${available[@]}"; do
    say "== $scenario / $name"
    measure "$name" "$scenario"
  done
done

# ---------------------------------------------------------------------------------------------
# Report.
{
  echo "# cloudlink load benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  machine_lines
  echo "- ${warmup} s warm-up + ${duration} s measured per run; every proxy restarted per run;" \
    "one worker/thread each; load generator and backend one thread each"
  echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  python3 - "$records" <<'EOF'
import json, sys

records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
by = {(r["proxy"], r["scenario"]): r for r in records}
order = [p for p in ["dataplane-copy", "dataplane-splice", "dataplane-sockmap", "haproxy", "nginx"]
         if any(k[0] == p for k in by)]

def ratio(value, base, lower_is_better=False):
    if not value or not base:
        return "–"
    return f"{value / base:.2f}×"

def mib(kb):
    return f"{kb / 1024:.1f}"

def other_cpu(r):
    own = r["proxy_cpu_s"] + r["backend_cpu_s"] + r["loadgen"].get("cpu_s", 0)
    return max(0.0, r["machine_cpu_s"] - own)

def table(scenario, title, header, row):
    rows = [(p, by[(p, scenario)]) for p in order if (p, scenario) in by]
    if not rows:
        return
    base = by.get(("haproxy", scenario))
    print(f"### {title}\n")
    print("| proxy | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    for p, r in rows:
        print(f"| {p} | " + " | ".join(row(r, base)) + " |")
    print()

def bulk_row(r, base):
    g = r["loadgen"]
    gb = g.get("total_bytes", 0) / 1e9
    cpu_gb = r["machine_cpu_s"] / gb if gb else 0
    proxy_gb = r["proxy_cpu_s"] / gb if gb else 0
    b = base["loadgen"] if base else {}
    bgb = b.get("total_bytes", 0) / 1e9 if base else 0
    base_cpu_gb = base["machine_cpu_s"] / bgb if bgb else 0
    return [f"{g.get('gbit_per_s', 0):.2f}", ratio(g.get("gbit_per_s"), b.get("gbit_per_s")),
            f"{cpu_gb:.3f}", ratio(cpu_gb, base_cpu_gb), f"{proxy_gb:.3f}",
            mib(r["peak_rss_kb"]), f"{other_cpu(r):.1f}", str(g.get("errors", "?"))]

def per_op_us(cpu_s, r, rate):
    return cpu_s / r["wall_s"] / rate * 1e6 if rate and r["wall_s"] else 0

def rr_row(key):
    def row(r, base):
        g = r["loadgen"]
        b = base["loadgen"] if base else {}
        rate = g.get(key, 0)
        return [f"{rate:,.0f}", ratio(rate, b.get(key)), f"{g.get('p50_us', 0):.0f}",
                f"{g.get('p99_us', 0):.0f}", ratio(g.get("p99_us"), b.get("p99_us")),
                f"{per_op_us(r['machine_cpu_s'], r, rate):.1f}",
                f"{per_op_us(r['proxy_cpu_s'], r, rate):.1f}", mib(r["peak_rss_kb"]),
                f"{other_cpu(r):.1f}",
                str(g.get("errors", "?"))]
    return row

def args(scenario):
    r = next((r for (p, s), r in by.items() if s == scenario), None)
    g = r["loadgen"] if r else {}
    return f"{g.get('connections', '?')} connections, {g.get('size', '?')}-byte messages"

table("bulk", f"Bulk download (backend → client, {by and next((r['loadgen'].get('connections') for (p, s), r in by.items() if s == 'bulk'), '?')} connections)",
      ["Gbit/s", "vs HAProxy", "machine CPU s/GB", "vs HAProxy", "proxy CPU s/GB",
       "proxy peak RSS MiB", "other CPU s", "errors"], bulk_row)
table("pingpong", f"Ping-pong ({args('pingpong')})",
      ["requests/s", "vs HAProxy", "p50 µs", "p99 µs", "p99 vs HAProxy",
       "machine CPU µs/req", "proxy CPU µs/req", "proxy peak RSS MiB", "other CPU s", "errors"],
      rr_row("requests_per_s"))
table("churn", f"Connection churn ({args('churn')}, connect → hello → request → reply → close)",
      ["connections/s", "vs HAProxy", "p50 µs", "p99 µs", "p99 vs HAProxy",
       "machine CPU µs/conn", "proxy CPU µs/conn", "proxy peak RSS MiB", "other CPU s", "errors"],
      rr_row("connections_per_s"))
moves = [f"{s} {by[('dataplane-sockmap', s)].get('lane_moves', 0):.0f}"
         for s in ["bulk", "pingpong", "churn"] if ("dataplane-sockmap", s) in by]
if moves:
    print("dataplane-sockmap moves of a direction to the copy lane "
          "(cloudlink_sockmap_backpressure_total): " + ", ".join(moves) + ".\n")
print("`vs HAProxy`: value ÷ HAProxy's (above 1 is better for rates, worse for CPU and "
      "latency). `other CPU s`: machine CPU during the run not used by the proxy, the load "
      "generator or the backend (other work on the machine; large values mean noisy numbers).")
EOF
  echo
  echo "<details><summary>Commands run</summary>"
  echo
  echo '```'
  cat "$commands"
  echo '```'
  echo
  for f in haproxy.cfg sni.map nginx.conf; do
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
