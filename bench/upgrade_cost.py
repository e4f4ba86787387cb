#!/usr/bin/env python3
"""What a dataplane upgrade (SIGHUP: a successor takes the listeners over, the old process
drains) costs: how long the old and the new process overlap, and their memory at the peak.

  bench/upgrade_cost.py BUILD_DIR [--workers N] [--connections N] [--drain-timeout D] [--rounds N]

Starts BUILD_DIR/dataplane/cloudlink-dataplane on free loopback ports (no routes needed),
optionally holds --connections client connections open on it (accepted, waiting for a
ClientHello, so the old process has something to drain until --drain-timeout cuts them), sends
SIGHUP, and samples /proc every 5 ms until the old process has exited:
  start -> ready   SIGHUP until the successor logged "took over" (it accepts from then on)
  overlap          the successor's first sample until the old process is gone
  peak RSS / PSS   the largest sum over both processes of VmRSS / Pss (smaps_rollup; shared
                   pages such as the binary's text counted once)
and, for comparison, one process's RSS and PSS before the upgrade. Prints a markdown table.
Every process it started is stopped on exit.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_kib(pid):
    """(rss, pss) in KiB, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))
        with open(f"/proc/{pid}/smaps_rollup") as f:
            pss = int(re.search(r"^Pss:\s+(\d+)", f.read(), re.M).group(1))
        return rss, pss
    except (FileNotFoundError, ProcessLookupError, AttributeError):
        return None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.005)


def one_round(binary, args, work):
    port, metrics = free_port(), free_port()
    err_path = os.path.join(work, "dataplane.stderr")
    err = open(err_path, "w")
    argv = [binary, "--data", os.path.join(work, "data"), "--listen-tls", f"127.0.0.1:{port}",
            "--metrics", os.environ.get("BENCH_METRICS", f"127.0.0.1:{metrics}"), "--workers", str(args.workers),
            "--hello-timeout", "600s", "--drain-timeout", args.drain_timeout]
    old = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    started = [old.pid]
    try:
        wait_for(lambda: "serving TLS" in open(err_path).read(), 30, "the dataplane to start")
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(args.connections)]
        time.sleep(0.5)  # let the workers accept them
        before = memory_kib(old.pid)
        t0 = time.monotonic()
        old.send_signal(signal.SIGHUP)
        new = None
        new_seen = ready = None
        peak = (0, 0)
        while True:
            if new is None:
                kids = children(old.pid)
                if kids:
                    new, new_seen = kids[0], time.monotonic()
                    started.append(new)
            if ready is None and "took over" in open(err_path).read():
                ready = time.monotonic()
            old_mem = memory_kib(old.pid) if old.poll() is None else None
            new_mem = memory_kib(new) if new else None
            total = [sum(m[i] for m in (old_mem, new_mem) if m) for i in (0, 1)]
            peak = (max(peak[0], total[0]), max(peak[1], total[1]))
            if old.poll() is not None:
                break
            time.sleep(0.005)
        gone = time.monotonic()
        if new is None or ready is None:
            sys.exit("no successor took over:\n" + open(err_path).read())
        after = memory_kib(new)
        for s in held:
            s.close()
        return {"ready_ms": (ready - t0) * 1e3, "overlap_ms": (gone - new_seen) * 1e3,
                "one_rss": before[0], "one_pss": before[1], "peak_rss": peak[0],
                "peak_pss": peak[1], "after_rss": after[0] if after else 0}
    finally:
        for pid in reversed(started):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        old.wait(10)
        for pid in started[1:]:
            wait_for(lambda: not alive(pid), 40, f"pid {pid} to stop")
        err.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("build")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--connections", type=int, default=0)
    p.add_argument("--drain-timeout", default="2s")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    binary = os.path.join(args.build, "dataplane", "cloudlink-dataplane")
    rows = []
    with tempfile.TemporaryDirectory(prefix="cloudlink-upgrade-bench.") as work:
        os.makedirs(os.path.join(work, "data"))
        for _ in range(args.rounds):
            rows.append(one_round(binary, args, work))
    mib = lambda kib: f"{kib / 1024:.1f}"
    med = lambda key: sorted(r[key] for r in rows)[len(rows) // 2]
    print(f"workers {args.workers}, {args.connections} open connections, drain timeout "
          f"{args.drain_timeout}, median of {args.rounds} rounds\n")
    print("| SIGHUP → successor accepts | overlap of old and new | one process RSS / PSS | "
          "peak of both RSS / PSS |")
    print("|---|---|---|---|")
    print(f"| {med('ready_ms'):.0f} ms | {med('overlap_ms'):.0f} ms | {mib(med('one_rss'))} / "
          f"{mib(med('one_pss'))} MiB | {mib(med('peak_rss'))} / {mib(med('peak_pss'))} MiB |")


if __name__ == "__main__":
    main()
