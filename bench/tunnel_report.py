"""Markdown tables for bench/tunnel.sh from its records (one JSON object a line)."""
import json
import os
import sys

PATHS = {
    "direct": "no tunnel (loadgen → backend)",
    "ssh-port": "no proxy (loadgen → sshd port)",
    "dataplane": "cloudlink-dataplane",
    "haproxy": "HAProxy",
    "nginx": "nginx",
    "ssh-R": "OpenSSH `ssh -R` (loadgen → sshd port)",
    "cloudlink-home": "cloudlink-home (loadgen → sshd port)",
    "compare": (os.environ.get("BENCH_HOME_COMPARE_LABEL") or "BENCH_HOME_COMPARE") +
    " (loadgen → sshd port)",
}
ORDER = list(PATHS)

records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]


def pick(section, scenario):
    rows = [r for r in records if r["section"] == section and r["scenario"] == scenario]
    return sorted(rows, key=lambda r: (ORDER.index(r["path"]), r["tunnels"]))


def other_cpu(r):
    own = (r["proxy_cpu_s"] + r["sshd_cpu_s"] + r["home_cpu_s"] + r["backend_cpu_s"]
           + r["loadgen"].get("cpu_s", 0))
    return max(0.0, r["machine_cpu_s"] - own)


def share(r, key):
    if not r["machine_cpu_s"] or (key == "proxy_cpu_s" and r["path"] not in
                                  ("dataplane", "haproxy", "nginx")):
        return "–"
    return f"{100 * r[key] / r['machine_cpu_s']:.0f} %"


def shares(r):
    if not r["tunnels"]:
        return ["–", "–", "–"]
    return [share(r, "proxy_cpu_s"), share(r, "sshd_cpu_s"), share(r, "home_cpu_s")]


def tunnels(r):
    return str(r["tunnels"]) if r["tunnels"] else "–"


SHARE_HEADER = ["proxy % of machine CPU", "sshd %", "cloudlink-home %"]


def table(title, header, rows, row):
    if not rows:
        return
    print(f"### {title}\n")
    print("| path | SSH connections | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 2) + "|")
    for r in rows:
        print(f"| {PATHS[r['path']]} | {tunnels(r)} | " + " | ".join(row(r)) + " |")
    print()


def bulk_row(r):
    g = r["loadgen"]
    gb = g.get("total_bytes", 0) / 1e9
    return ([f"{g.get('gbit_per_s', 0):.2f}", f"{r['machine_cpu_s'] / gb if gb else 0:.2f}"]
            + shares(r) + [f"{other_cpu(r):.1f}", str(g.get("errors", "?"))])


def rr_row(key):
    def row(r):
        g = r["loadgen"]
        rate = g.get(key, 0)
        per_op = r["machine_cpu_s"] / r["wall_s"] / rate * 1e6 if rate and r["wall_s"] else 0
        return ([f"{rate:,.0f}", f"{g.get('p50_us', 0):.0f}", f"{g.get('p99_us', 0):.0f}",
                 f"{per_op:.0f}"] + shares(r) + [f"{other_cpu(r):.1f}",
                                                 str(g.get("errors", "?"))])
    return row


def loads(scenario):
    r = next(iter(pick("load", scenario)), None)
    g = r["loadgen"] if r else {}
    return f"{g.get('connections', '?')} connections, {g.get('size', '?')}-byte messages"


table(f"Bulk download (backend → client, {loads('bulk').split(',')[0]})",
      ["Gbit/s", "machine CPU s/GB"] + SHARE_HEADER + ["other CPU s", "errors"],
      pick("load", "bulk"), bulk_row)
table(f"Ping-pong ({loads('pingpong')})",
      ["requests/s", "p50 µs", "p99 µs", "machine CPU µs/req"] + SHARE_HEADER +
      ["other CPU s", "errors"], pick("load", "pingpong"), rr_row("requests_per_s"))
table(f"Connection churn ({loads('churn')}, connect → hello → request → reply → close)",
      ["connections/s", "p50 µs", "p99 µs", "machine CPU µs/conn"] + SHARE_HEADER +
      ["other CPU s", "errors"], pick("load", "churn"), rr_row("connections_per_s"))

# Gain from more SSH connections: each path's rate with N connections over its rate with one.
RATE = {"bulk": "gbit_per_s", "pingpong": "requests_per_s", "churn": "connections_per_s"}
counts = sorted({r["tunnels"] for r in records if r["section"] == "load" and r["tunnels"]})
if len(counts) > 1:
    print("### Gain from more SSH connections (rate with N ÷ rate with 1)\n")
    print("| path | scenario | " + " | ".join(f"{n} conn." for n in counts) + " | " +
          " | ".join(f"{n} vs 1" for n in counts[1:]) + " |")
    print("|---" * (2 + 2 * len(counts) - 1) + "|")
    for path in ("dataplane", "haproxy", "nginx"):
        for scenario, key in RATE.items():
            by = {r["tunnels"]: r["loadgen"].get(key, 0) for r in pick("load", scenario)
                  if r["path"] == path}
            if not by:
                continue
            fmt = (lambda v: f"{v:.2f}") if scenario == "bulk" else (lambda v: f"{v:,.0f}")
            base = by.get(1)
            print(f"| {PATHS[path]} | {scenario} | "
                  + " | ".join(fmt(by[n]) if n in by else "–" for n in counts) + " | "
                  + " | ".join(f"{by[n] / base:.2f}×" if n in by and base else "–"
                               for n in counts[1:]) + " |")
    print()

# One at a time.
closes = {r["path"]: r["loadgen"] for r in pick("serial", "serial-close")}
churn = {r["path"]: r["loadgen"] for r in pick("serial", "serial-churn")}
flow = {r["path"]: r["loadgen"] for r in pick("serial", "serial-pingpong")}
if closes or churn or flow:
    print("### One at a time: new connections back to back, and one established flow\n")
    print("One SSH connection. *Client closes*: `--mode churn --client-closes --connections 1 "
          "--size 128` (connect, hello + request + 128 bytes, read the 128-byte echo, close, "
          "repeat). *Backend closes*: `--mode churn --connections 1 --size 128` (the backend "
          "replies 128 bytes and closes first). *Flow*: `--mode pingpong --connections 1 "
          "--size 128` on one established connection. \"added p50\": p50 minus the p50 without "
          "a tunnel; \"vs `ssh -R`\": connections/s over OpenSSH's, client closes.\n")
    print("| path | client closes: conn/s | p50 µs | p99 µs | added p50 µs | vs `ssh -R` | "
          "backend closes: conn/s | p50 µs | p99 µs | flow p50 µs | flow p99 µs | errors |")
    print("|---" * 12 + "|")
    base = closes.get("direct", {}).get("p50_us")
    ssh_rate = closes.get("ssh-R", {}).get("connections_per_s")
    for path in ("direct", "ssh-R", "compare", "cloudlink-home", "dataplane"):
        if path not in closes and path not in churn and path not in flow:
            continue
        c, b, f = closes.get(path, {}), churn.get(path, {}), flow.get(path, {})
        rate = c.get("connections_per_s", 0)
        added = f"{c.get('p50_us', 0) - base:,.0f}" if base is not None and path != "direct" \
            else "–"
        vs = f"{rate / ssh_rate:.1f}×" if ssh_rate and rate and path != "direct" else "–"
        errors = sum(x.get("errors", 0) for x in (c, b, f))
        name = PATHS[path] if path != "dataplane" else "cloudlink-dataplane → sshd → cloudlink-home"
        print(f"| {name} | {rate:,.0f} | {c.get('p50_us', 0):,.0f} | "
              f"{c.get('p99_us', 0):,.0f} | {added} | {vs} | "
              f"{b.get('connections_per_s', 0):,.0f} | {b.get('p50_us', 0):,.0f} | "
              f"{b.get('p99_us', 0):,.0f} | {f.get('p50_us', 0):,.0f} | "
              f"{f.get('p99_us', 0):,.0f} | {errors} |")
    print()

print("Machine CPU: `/proc/stat`, all CPUs, during the load generator's run (warm-up "
      "included), per GB moved or per request/connection. The % columns are each part's "
      "utime+stime over that machine CPU: the proxy process (nginx: its worker), every sshd "
      "process (listener, per-connection monitors and session processes), cloudlink-home. "
      "`other CPU s`: machine CPU not used by those, the load generator or the backend (other "
      "work on the machine; large values mean noisy numbers).")
