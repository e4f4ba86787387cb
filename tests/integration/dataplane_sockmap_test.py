#!/usr/bin/env python3
"""cloudlink-dataplane --relay sockmap: the kernel relays established flows (BPF sockhash).

Every copy-mode relay test (dataplane_relay_test.RelayTests) runs again in sockmap mode, plus
checks that only this mode needs: no map entry or fd left after many flows, and the fallback to
copy (with one log line naming the reason) when CAP_BPF is dropped. Skipped, with the reason
the dataplane's own probe gives, where BPF cannot load.
"""
import os
import shutil
import socket
import subprocess
import threading
import unittest

import harness as h
from dataplane_relay_test import RelayTests


def probe_sockmap():
    """None if the dataplane can run --relay sockmap here, else why not (its own log line)."""
    work = h.tempfile.mkdtemp(prefix="cloudlink-sockmap-probe.")
    try:
        h.init_data(work)  # creates the routes environment
        argv = [h.DATAPLANE, "--data", work, "--metrics", "off", "--relay", "sockmap",
                "--require-bpf", "--listen-tls", f"127.0.0.1:{h.free_port()}", "--workers", "1"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            _, err = proc.communicate(timeout=2)
            return err.strip() or f"exit status {proc.returncode}"
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.communicate(timeout=h.WAIT)
            return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


_PROBE = {}


def sockmap_unavailable():
    if "reason" not in _PROBE:
        h.require_binaries()
        _PROBE["reason"] = probe_sockmap()
    return _PROBE["reason"]


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class RelaySockmapTest(RelayTests, unittest.TestCase):
    RELAY = "sockmap"

    @classmethod
    def setUpClass(cls):
        reason = sockmap_unavailable()
        if reason:
            raise unittest.SkipTest(f"BPF sockmap cannot load here: {reason}")
        super().setUpClass()

    def test_runs_in_sockmap_mode(self):
        # Not a silent fallback: the process says it relays with sockmap.
        self.assertEqual(self.dp.metric("cloudlink_dataplane_info", version="0.1.0",
                                        relay="sockmap", workers="2"), 1.0)
        self.assertIn("relay sockmap", self.dp.proc.stderr_text())

    def test_flow_is_in_the_sockmap_while_open(self):
        backend = self.backend()
        self.route("inmap.test", backend)
        sock, hello = self.open_flow("inmap.test", b"x")
        self.assert_echoes(sock, hello + b"x")
        self.dp.wait_metric("cloudlink_sockmap_flows", 1)
        sock.sendall(b"y" * 100000)
        self.assert_echoes(sock, b"y" * 100000)
        sock.close()
        self.dp.wait_metric("cloudlink_sockmap_flows", 0)

    def test_bulk_both_ways_inside_the_kernel(self):
        # The shared bulk test's client may send everything and its FIN before the relay
        # starts (then that flow is spliced: a sockhash takes only established sockets). Here
        # the flow is in the sockmap first, then 50 MB go each way at once, byte-exact.
        upload, download = os.urandom(50 << 20), os.urandom(50 << 20)
        started = threading.Event()

        def handler(backend, conn):
            started.wait(h.WAIT)
            h.sink_and_send_at_once(download)(backend, conn)

        backend = self.backend(handler)
        self.route("kernelbulk.test", backend)
        inserts = self.dp.metric("cloudlink_sockmap_fallbacks_total", reason="insert")
        sock, hello = self.open_flow("kernelbulk.test")
        h.wait_until(lambda: self.dp.metric("cloudlink_sockmap_flows") >= 1,
                     what="the flow in the sockmap")
        started.set()
        sender = h.send_in_thread(sock, upload)
        digest, length, how = h.hash_until_closed(sock)
        sender.join(h.WAIT * 4)
        self.assertIsNone(sender.error)
        self.assertEqual((length, how), (len(download), "eof"))
        self.assertEqual(digest, h.sha256(download))
        conn = backend.wait_connections(1)
        self.assertTrue(conn.done.wait(h.WAIT))
        self.assertIsNone(conn.error)
        self.assertEqual(conn.received_length, len(hello) + len(upload))
        self.assertEqual(conn.digest(), h.sha256(hello + upload))
        entry = self.dp.log_for(sock.getsockname())
        self.assertEqual(entry["result"], "ok")
        self.assertEqual((int(entry["bytes_from_client"]), int(entry["bytes_to_client"])),
                         (len(hello) + len(upload), len(download)))
        self.assertEqual(self.dp.metric("cloudlink_sockmap_fallbacks_total", reason="insert"),
                         inserts)

    def test_no_leaks_after_many_flows(self):
        backend = self.backend()
        self.route("many.test", backend)
        self.dp.wait_metric("cloudlink_connections_active", 0)
        pid = self.dp.proc.popen.pid
        fds_before = fd_count(pid)
        for i in range(1000):
            sock, hello = self.open_flow("many.test", b"%d" % i)
            self.assert_echoes(sock, hello + b"%d" % i)
            sock.shutdown(socket.SHUT_WR)
            self.assertEqual(h.recv_until_closed(sock), (b"", "eof"))
            sock.close()
        errors = []

        def one(i):
            try:
                hello = h.client_hello("many.test")
                with h.connect(self.dp.port) as s:
                    s.sendall(hello + b"c%d" % i)
                    if h.recv_exactly(s, len(hello) + len(b"c%d" % i)) != hello + b"c%d" % i:
                        errors.append(f"flow {i}: wrong echo")
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(f"flow {i}: {e!r}")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(h.WAIT)
        self.assertEqual(errors, [])
        self.dp.wait_metric("cloudlink_connections_active", 0)
        self.dp.wait_metric("cloudlink_sockmap_flows", 0)
        h.wait_until(lambda: fd_count(pid) <= fds_before, what="fds back to the start count")
        self.assertEqual(self.dp.metric("cloudlink_sockmap_redirect_failures_total"), 0.0)
        entries = sockhash_entries(pid)
        if entries is not None:
            self.assertEqual(entries, 0, "sockhash entries left after every flow closed")


class SockmapIdleTest(unittest.TestCase):
    """User space sees no bytes in sockmap mode: idleness comes from TCP_INFO."""

    @classmethod
    def setUpClass(cls):
        reason = sockmap_unavailable()
        if reason:
            raise unittest.SkipTest(f"BPF sockmap cannot load here: {reason}")

    def test_busy_flow_stays_and_idle_flow_is_closed(self):
        work = h.temp_dir(self, "dataplane_sockmap_idle.")
        dp = h.Dataplane(self, work, relay="sockmap", workers=1, idle_timeout="1s")
        backend = h.TcpBackend(self, h.echo_handler)
        h.routes_add(self, dp.data, "idle.test", [backend.address])
        hello = h.client_hello("idle.test")
        busy, idle = h.connect(dp.port), h.connect(dp.port)
        self.addCleanup(busy.close)
        self.addCleanup(idle.close)
        for sock in (busy, idle):
            sock.sendall(hello)
            self.assertEqual(h.recv_exactly(sock, len(hello)), hello)
        dp.wait_metric("cloudlink_sockmap_flows", 2)
        for i in range(12):  # 3 s of traffic, a byte every 250 ms: never idle for 1 s
            busy.sendall(b"%x" % (i % 16))
            self.assertEqual(h.recv_exactly(busy, 1), b"%x" % (i % 16))
            h.time.sleep(0.25)
        self.assertEqual(h.recv_until_closed(idle), (b"", "eof"))
        self.assertEqual(dp.log_for(idle.getsockname())["result"], "idle_timeout")
        busy.sendall(b"still")
        self.assertEqual(h.recv_exactly(busy, 5), b"still")


def sockhash_entries(pid):
    """Entries in this process's peer_socks sockhash (bpftool), or None without bpftool."""
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    if not os.path.exists(bpftool):
        return None
    import json
    shown = json.loads(h.run([bpftool, "-j", "map", "show"]).stdout or "[]")
    for m in shown:
        owners = [p.get("pid") for p in m.get("pids", [])]
        if m.get("name") == "peer_socks" and pid in owners:
            dump = h.run([bpftool, "-j", "map", "dump", "id", str(m["id"])])
            return len(json.loads(dump.stdout or "[]"))
    return None


class SockmapFallbackTest(unittest.TestCase):
    """Without CAP_BPF the probe fails: one log line with the reason, and copy relays."""

    @classmethod
    def setUpClass(cls):
        h.require_binaries()
        if not shutil.which("capsh"):
            raise unittest.SkipTest("capsh (libcap2-bin) is not installed")
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root, to drop CAP_BPF from a full set")
        reason = sockmap_unavailable()
        if reason:
            raise unittest.SkipTest(f"BPF sockmap cannot load here even with CAP_BPF: {reason}")

    def test_without_cap_bpf_falls_back_to_copy(self):
        work = h.temp_dir(self, "dataplane_sockmap_fallback.")
        real = h.DATAPLANE
        wrapper = os.path.join(work, "dataplane-without-cap-bpf")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec capsh --drop=cap_bpf,cap_sys_admin -- -c \'exec "$0" "$@"\' '
                    f'"{real}" "$@"\n')
        os.chmod(wrapper, 0o755)
        h.DATAPLANE = wrapper
        try:
            dp = h.Dataplane(self, work, relay="sockmap", workers=1)
        finally:
            h.DATAPLANE = real
        log = dp.proc.stderr_text()
        lines = [line for line in log.splitlines() if "sockmap relay unavailable" in line]
        self.assertEqual(len(lines), 1, log)
        self.assertIn("(permission)", lines[0])
        self.assertIn("falling back to --relay copy", lines[0])
        self.assertEqual(dp.metric("cloudlink_sockmap_fallbacks_total", reason="permission"), 1.0)
        self.assertEqual(dp.metric("cloudlink_dataplane_info", version="0.1.0", relay="copy",
                                   workers="1"), 1.0)
        backend = h.TcpBackend(self, h.echo_handler)
        h.routes_add(self, dp.data, "fallback.test", [backend.address])
        hello = h.client_hello("fallback.test")
        sock = h.connect(dp.port)
        self.addCleanup(sock.close)
        sock.sendall(hello + b"through copy")
        self.assertEqual(h.recv_exactly(sock, len(hello) + 12), hello + b"through copy")

    def test_require_bpf_makes_it_a_start_failure(self):
        work = h.temp_dir(self, "dataplane_sockmap_require.")
        h.init_data(work)
        r = h.run(["capsh", "--drop=cap_bpf,cap_sys_admin", "--", "-c",
                   'exec "$0" "$@"', h.DATAPLANE, "--data", work, "--metrics", "off",
                   "--relay", "sockmap", "--require-bpf",
                   "--listen-tls", f"127.0.0.1:{h.free_port()}"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("sockmap relay unavailable (permission)", r.stderr)
        self.assertIn("--require-bpf", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
