#!/usr/bin/env python3
"""cloudlink-dataplane /metrics: promtool accepts it, and the counters follow real traffic."""
import os
import socket
import subprocess
import time
import unittest

import harness as h

NAMES = [
    "cloudlink_connections_accepted_total",
    "cloudlink_connections_routed_total",
    "cloudlink_connections_rejected_total",
    "cloudlink_connections_active",
    "cloudlink_relay_bytes_total",
    "cloudlink_client_hello_wait_seconds",
    "cloudlink_upstream_connect_seconds",
    "cloudlink_upstream_failures_total",
    "cloudlink_connections_max",
    "cloudlink_dataplane_info",
    "process_start_time_seconds",
]


class MetricsTest(unittest.TestCase):
    def setUp(self):
        h.require_binaries()
        self.work = h.temp_dir(self, "dataplane_metrics.")
        self.dp = h.Dataplane(self, self.work, workers=2)
        self.backend = h.TcpBackend(self, h.echo_handler)
        h.routes_add(self, self.dp.data, "metrics.test", [self.backend.address])

    def flow(self, host, payload):
        """One whole echo flow: hello + payload up, all of it back, FIN, EOF. Returns the
        bytes sent (= the bytes echoed)."""
        hello = h.client_hello(host)
        with h.connect(self.dp.port) as sock:
            sock.sendall(hello + payload)
            sock.shutdown(socket.SHUT_WR)
            data, how = h.recv_until_closed(sock)
        self.assertEqual((data, how), (hello + payload, "eof"))
        return len(hello) + len(payload)

    def rejected_flow(self, host):
        with h.connect(self.dp.port) as sock:
            sock.sendall(h.client_hello(host))
            self.assertEqual(h.recv_until_closed(sock)[0], h.ALERT_UNRECOGNIZED_NAME)

    def test_promtool_accepts_scraped_metrics(self):
        self.flow("metrics.test", b"x" * 1000)
        self.rejected_flow("unknown.test")
        text = self.dp.metrics_text()
        for name in NAMES:
            self.assertIn(f"# TYPE {name} ", text)
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=h.WAIT)
        self.assertEqual(r.returncode, 0, f"promtool:\n{r.stdout}{r.stderr}\n---\n{text}")

    def test_counters_follow_connections(self):
        m = self.dp.metrics
        before = m()
        relayed = [self.flow("metrics.test", os.urandom(n)) for n in (0, 1000, 300000)]
        self.rejected_flow("unknown.test")
        self.rejected_flow(None)
        self.dp.wait_metric("cloudlink_connections_accepted_total",
                            before.get(("cloudlink_connections_accepted_total", ()), 0) + 5)
        self.dp.wait_metric("cloudlink_connections_active", 0)
        after = m()

        def delta(name, **labels):
            key = (name, tuple(sorted(labels.items())))
            return after.get(key, 0) - before.get(key, 0)

        self.assertEqual(delta("cloudlink_connections_routed_total"), 3)
        self.assertEqual(delta("cloudlink_connections_rejected_total", reason="unknown_sni"), 1)
        self.assertEqual(delta("cloudlink_connections_rejected_total", reason="no_sni"), 1)
        self.assertEqual(delta("cloudlink_upstream_connect_seconds_count"), 3)
        self.assertGreaterEqual(delta("cloudlink_client_hello_wait_seconds_count"), 3)
        # Relayed bytes come from TCP_INFO of the client socket; the echo makes both directions
        # equal. The two rejected connections may add their ClientHello and alert at most.
        rejected_extra = len(h.client_hello("unknown.test")) + len(h.client_hello(None))
        up = delta("cloudlink_relay_bytes_total", direction="client_to_target")
        down = delta("cloudlink_relay_bytes_total", direction="target_to_client")
        self.assertGreaterEqual(up, sum(relayed))
        self.assertLessEqual(up, sum(relayed) + rejected_extra)
        self.assertGreaterEqual(down, sum(relayed))
        self.assertLessEqual(down, sum(relayed) + 2 * len(h.ALERT_UNRECOGNIZED_NAME))
        for hist in ("cloudlink_client_hello_wait_seconds", "cloudlink_upstream_connect_seconds"):
            self.assertEqual(after[(f"{hist}_bucket", (("le", "+Inf"),))],
                             after[(f"{hist}_count", ())], hist)

    def test_active_gauge_follows_open_flows(self):
        socks = []
        for _ in range(3):
            sock = h.connect(self.dp.port)
            self.addCleanup(sock.close)
            hello = h.client_hello("metrics.test")
            sock.sendall(hello)
            self.assertEqual(h.recv_exactly(sock, len(hello)), hello)
            socks.append(sock)
        self.dp.wait_metric("cloudlink_connections_active", 3)
        for sock in socks:
            sock.close()
        self.dp.wait_metric("cloudlink_connections_active", 0)

    def test_settings_are_published(self):
        # A second dataplane with known settings: the limit to alert against, the relay mode,
        # the worker count and the start time.
        started = time.time()
        dp = h.Dataplane(self, h.temp_dir(self, "dataplane_settings."), relay="splice",
                         workers=3, max_connections="1234")
        m = dp.metrics()
        self.assertEqual(m[("cloudlink_connections_max", ())], 1234)
        info = [labels for (name, labels) in m if name == "cloudlink_dataplane_info"]
        self.assertEqual(len(info), 1)
        labels = dict(info[0])
        self.assertEqual((labels["relay"], labels["workers"]), ("splice", "3"))
        self.assertRegex(labels["version"], r"^\d+\.\d+\.\d+$")
        self.assertEqual(m[("cloudlink_dataplane_info", info[0])], 1)
        start = m[("process_start_time_seconds", ())]
        self.assertGreaterEqual(start, int(started) - 1)
        self.assertLessEqual(start, time.time() + 1)

    def test_upstream_failures_by_reason(self):
        down = f"127.0.0.1:{h.free_port()}"
        h.routes_add(self, self.dp.data, "down.test", [down])
        before = self.dp.metric("cloudlink_upstream_failures_total", reason="refused")
        with h.connect(self.dp.port) as sock:
            sock.sendall(h.client_hello("down.test"))
            h.expect_closed_without_data(self, sock)
        self.dp.wait_metric("cloudlink_upstream_failures_total", before + 1, reason="refused")
        self.dp.wait_metric("cloudlink_connections_rejected_total", 1, reason="targets_down")


if __name__ == "__main__":
    unittest.main(verbosity=2)
