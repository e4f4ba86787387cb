#!/usr/bin/env python3
"""cloudlink-dataplane start, limits and stop: hello timeout, --max-connections, SIGTERM drain,
bad starts. Real processes on 127.0.0.1; each test starts its own dataplane."""
import os
import signal
import socket
import unittest

import harness as h


class DataplaneCase(unittest.TestCase):
    def setUp(self):
        h.require_binaries()
        self.work = h.temp_dir(self, f"{type(self).__name__}.")

    def start(self, **flags):
        self.dp = h.Dataplane(self, self.work, **flags)
        return self.dp

    def echo_route(self, host, handler=h.echo_handler):
        backend = h.TcpBackend(self, handler)
        h.routes_add(self, self.dp.data, host, [backend.address])
        return backend

    def client(self, port=None):
        sock = h.connect(port or self.dp.port)
        self.addCleanup(sock.close)
        return sock

    def open_flow(self, host, extra=b"", port=None):
        hello = h.client_hello(host)
        sock = self.client(port)
        sock.sendall(hello + extra)
        return sock, hello

    def relayed_flow(self, host, port=None):
        """A flow that is past its hello: its ClientHello came back from the echo backend."""
        sock, hello = self.open_flow(host, port=port)
        self.assertEqual(h.recv_exactly(sock, len(hello)), hello)
        return sock

    def assert_round_trip(self, sock, data=b"ping"):
        sock.sendall(data)
        self.assertEqual(h.recv_exactly(sock, len(data)), data)


class HelloTimeoutTest(DataplaneCase):
    def test_silent_and_stalled_clients_are_closed_while_others_are_served(self):
        self.start(hello_timeout="1")
        self.echo_route("served.test")
        silent = self.client()
        stalled = self.client()
        stalled.sendall(h.client_hello("served.test")[:20])  # a record header and a bit

        served = [self.relayed_flow("served.test") for _ in range(3)]
        for sock in served:
            self.assert_round_trip(sock)

        for sock in (silent, stalled):
            data, how = h.recv_until_closed(sock)
            self.assertIn(data, (b"", h.ALERT_UNRECOGNIZED_NAME), how)
        for sock in (silent, stalled):
            entry = self.dp.log_for(sock.getsockname())
            self.assertEqual((entry["result"], entry["sni"]), ("hello_timeout", "-"))
            # The dataplane's own clock: cut at --hello-timeout 1, well before the 5 s default.
            self.assertGreaterEqual(float(entry["duration_s"]), 0.9, entry)
            self.assertLess(float(entry["duration_s"]), 4.0, entry)
        self.dp.wait_metric("cloudlink_connections_rejected_total", 2, reason="hello_timeout")

        # Flows past their hello are not subject to the hello timeout.
        for sock in served:
            self.assert_round_trip(sock, b"after the others timed out")


class IdleTimeoutTest(DataplaneCase):
    def test_idle_flow_is_closed_both_ways(self):
        self.start(idle_timeout="1")
        backend = self.echo_route("idle.test")
        sock = self.relayed_flow("idle.test")
        data, _ = h.recv_until_closed(sock)
        self.assertEqual(data, b"")
        conn = backend.wait_connections(1)
        self.assertTrue(conn.done.wait(h.WAIT), "backend side of the idle flow still open")
        entry = self.dp.log_for(sock.getsockname())
        self.assertEqual(entry["result"], "idle_timeout")
        self.assertGreaterEqual(float(entry["duration_s"]), 0.9, entry)


class ConnectTimeoutTest(DataplaneCase):
    def blackhole(self):
        """A loopback address whose SYNs go unanswered: a listener with a full accept queue."""
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler = socket.create_connection(listener.getsockname(), timeout=h.WAIT)
        self.addCleanup(filler.close)
        return "%s:%d" % listener.getsockname()

    def test_unanswered_target_times_out_and_the_next_serves(self):
        self.start(connect_timeout="1")
        silent = self.blackhole()
        backend = h.TcpBackend(self, h.echo_handler)
        h.routes_add(self, self.dp.data, "slow.test", [silent])
        h.routes_add(self, self.dp.data, "either.test", [silent, backend.address])

        sock, _ = self.open_flow("slow.test")
        h.expect_closed_without_data(self, sock)
        entry = self.dp.log_for(sock.getsockname())
        self.assertEqual(entry["result"], "targets_down")
        self.assertGreaterEqual(float(entry["duration_s"]), 0.9, entry)
        self.dp.wait_metric("cloudlink_upstream_failures_total", 1, reason="timeout")

        for _ in range(3):
            self.assert_round_trip(self.relayed_flow("either.test"))
        self.assertEqual(len(backend.connections), 3)


class MaxConnectionsTest(DataplaneCase):
    def test_third_connection_is_refused_and_counted(self):
        self.start(workers=1, max_connections=2)
        backend = self.echo_route("limit.test")
        first = self.relayed_flow("limit.test")
        second = self.relayed_flow("limit.test")

        third, _ = self.open_flow("limit.test")
        h.expect_closed_without_data(self, third)
        self.assertEqual(self.dp.log_for(third.getsockname())["result"], "over_limit")
        self.dp.wait_metric("cloudlink_connections_rejected_total", 1, reason="over_limit")
        self.assertEqual(len(backend.connections), 2)
        self.assert_round_trip(first)
        self.assert_round_trip(second)

        # Freeing a slot lets the next connection in.
        first.close()
        self.dp.wait_metric("cloudlink_connections_active", 1)
        self.assert_round_trip(self.relayed_flow("limit.test"))

    def test_limit_is_for_all_workers_together(self):
        # --max-connections counts connections across workers: with 2 workers and a limit of
        # 2, two flows are served wherever SO_REUSEPORT puts them. Several rounds, so flows
        # landing on one worker (a per-worker share of the limit) would show.
        self.start(workers=2, max_connections=2)
        self.echo_route("limit.test")
        for _ in range(10):
            flows = [self.relayed_flow("limit.test") for _ in range(2)]
            third, _ = self.open_flow("limit.test")
            h.expect_closed_without_data(self, third)
            for sock in flows:
                self.assert_round_trip(sock)
                sock.close()
            self.dp.wait_metric("cloudlink_connections_active", 0)


class DrainTests:
    RELAY = None

    def test_sigterm_lets_in_flight_transfer_finish(self):
        first, second = os.urandom(4 << 20), os.urandom(4 << 20)
        hello = h.client_hello("drain.test")

        def gated(backend, conn):
            conn.note(h.recv_exactly_raw(conn.sock, len(hello)))
            conn.sock.sendall(first)
            if not backend.release.wait(h.WAIT * 2):
                raise TimeoutError("never released")
            conn.sock.sendall(second)
            conn.sock.shutdown(socket.SHUT_WR)
            conn.read_to_end()

        self.start(relay=self.RELAY, drain_timeout="60s")
        backend = self.echo_route("drain.test", gated)
        sock = self.client()
        sock.sendall(hello)
        self.assertEqual(h.recv_exactly(sock, len(first)), first)

        self.dp.proc.send_signal(signal.SIGTERM)
        h.wait_refused(self.dp.port)
        self.assertTrue(self.dp.proc.alive(), "exited with a flow in flight")
        sock.sendall(b"bytes sent while draining")
        sock.shutdown(socket.SHUT_WR)
        backend.release.set()

        rest, how = h.recv_until_closed(sock)
        self.assertEqual((len(rest), how), (len(second), "eof"))
        self.assertEqual(h.sha256(rest), h.sha256(second))
        conn = backend.wait_connections(1)
        self.assertTrue(conn.done.wait(h.WAIT))
        self.assertIsNone(conn.error)
        self.assertEqual(bytes(conn.head), hello + b"bytes sent while draining")
        self.assertEqual(self.dp.proc.wait(), 0, self.dp.proc.stderr_text())
        entry = self.dp.log_for(sock.getsockname())
        self.assertEqual(entry["result"], "ok")
        self.assertEqual(int(entry["bytes_to_client"]), len(first) + len(second))

    def test_drain_timeout_cuts_a_stuck_flow(self):
        self.start(relay=self.RELAY, drain_timeout="1")
        backend = self.echo_route("stuck.test")
        sock = self.relayed_flow("stuck.test")
        self.dp.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.dp.proc.wait(), 0, self.dp.proc.stderr_text())
        data, _ = h.recv_until_closed(sock)
        self.assertEqual(data, b"")
        conn = backend.wait_connections(1)
        self.assertTrue(conn.done.wait(h.WAIT), "backend side of the cut flow still open")
        self.dp.log_for(sock.getsockname())


class DrainCopyTest(DrainTests, DataplaneCase):
    RELAY = "copy"


class DrainSpliceTest(DrainTests, DataplaneCase):
    RELAY = "splice"


class StopAndListenTest(DataplaneCase):
    def test_sigint_stops_an_idle_dataplane(self):
        self.start()
        self.assertEqual(self.dp.stop(signal.SIGINT), 0, self.dp.proc.stderr_text())
        h.wait_refused(self.dp.port)

    def test_every_listen_tls_address_serves(self):
        self.start(listeners=2)
        self.echo_route("two.test")
        for port in self.dp.tls_ports:
            self.assert_round_trip(self.relayed_flow("two.test", port=port))


class BadStartTest(DataplaneCase):
    def run_dataplane(self, *args, **overrides):
        """Runs the dataplane with working defaults, each replaced by a same-named override
        (listen_tls="127.0.0.1:1" -> --listen-tls 127.0.0.1:1), then args."""
        flags = {"data": os.path.join(self.work, "data"),
                 "listen_tls": f"127.0.0.1:{h.free_port()}",
                 "metrics": f"127.0.0.1:{h.free_port()}", "workers": "1"}
        flags.update(overrides)
        argv = [h.DATAPLANE]
        for name, value in flags.items():
            argv += ["--" + name.replace("_", "-"), value]
        return h.run(argv + list(args))  # killed and raised on if it does not exit in time

    def assert_fails_naming(self, proc, *words):
        self.assertNotEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"want one line, got: {proc.stderr!r}")
        for word in words:
            self.assertIn(word, lines[0])
        self.assertEqual(proc.stdout, "")

    def occupied_port(self):
        # A plain listener without SO_REUSEPORT: the dataplane's REUSEPORT bind must fail.
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        s.listen()
        return s.getsockname()[1]

    def test_tls_port_in_use(self):
        port = self.occupied_port()
        proc = self.run_dataplane(listen_tls=f"127.0.0.1:{port}")
        self.assert_fails_naming(proc, f"127.0.0.1:{port}", "in use")

    def test_metrics_port_in_use(self):
        port = self.occupied_port()
        proc = self.run_dataplane(metrics=f"127.0.0.1:{port}")
        self.assert_fails_naming(proc, f"127.0.0.1:{port}")

    def test_bad_flags(self):
        cases = [
            ((["--no-such-flag"], {}), "--no-such-flag"),
            ((["--relay", "teleport"], {}), "--relay"),
            ((["--hello-timeout", "soon"], {}), "--hello-timeout"),
            ((["--drain-timeout", "-1"], {}), "--drain-timeout"),
            (([], {"listen_tls": "127.0.0.1:notaport"}), "--listen-tls"),
            (([], {"metrics": "127.0.0.1"}), "--metrics"),
            (([], {"workers": "0"}), "--workers"),
            ((["--max-connections", "many"], {}), "--max-connections"),
        ]
        for (args, overrides), word in cases:
            with self.subTest(args=args, overrides=overrides):
                self.assert_fails_naming(self.run_dataplane(*args, **overrides), word)

    def test_bad_data_dirs(self):
        a_file = os.path.join(self.work, "a-file")
        with open(a_file, "w") as f:
            f.write("not a directory\n")
        garbage = os.path.join(self.work, "garbage")
        os.makedirs(os.path.join(garbage, "routes"))
        with open(os.path.join(garbage, "routes", "data.mdb"), "wb") as f:
            f.write(b"\x00garbage, not LMDB" * 512)
        cases = [a_file, garbage]
        if os.geteuid() != 0:  # root reads anything, so mode 000 proves nothing there
            unreadable = os.path.join(self.work, "unreadable")
            os.makedirs(unreadable, mode=0)
            cases.append(unreadable)
        for data in cases:
            with self.subTest(data=data):
                self.assert_fails_naming(self.run_dataplane(data=data), data)


if __name__ == "__main__":
    unittest.main(verbosity=2)
