#!/usr/bin/env python3
"""cloudlink-dataplane relaying by SNI: real processes on 127.0.0.1, once per relay mode.

One dataplane per relay mode (class) serves every test of the class; each test adds its own
routes (through cloudlink-control) to its own backends, so tests do not see each other's
flows. Backends: `openssl s_server -www` for curl, raw TCP servers for byte-level checks.
"""
import os
import socket
import time
import unittest

import harness as h


def byte_counts(entry):
    """(bytes_from_client, bytes_to_client) of an access log entry: payload bytes only."""
    return int(entry["bytes_from_client"]), int(entry["bytes_to_client"])


class RelayTests:
    RELAY = None

    @classmethod
    def setUpClass(cls):
        h.require_binaries()
        cls.work = h.temp_dir(cls, f"dataplane_relay_{cls.RELAY}.")
        cert, key = h.make_cert(cls.work)
        cls.s_server, cls.s_server_port = h.start_s_server(cls, cls.work, cert, key)
        cls.dp = h.Dataplane(cls, cls.work, relay=cls.RELAY, workers=2, hello_timeout="5s",
                             connect_timeout="3s")

    def tearDown(self):
        self.assertTrue(self.dp.proc.alive(),
                        f"dataplane died: {self.dp.proc.stderr_text()}")

    # ---- helpers ----

    def backend(self, handler=h.echo_handler):
        return h.TcpBackend(self, handler)

    def route(self, host, *targets, proxy_v2=False):
        h.routes_add(self, self.dp.data, host, [getattr(t, "address", t) for t in targets],
                     proxy_v2=proxy_v2)

    def client(self):
        sock = h.connect(self.dp.port)
        self.addCleanup(sock.close)
        return sock

    def open_flow(self, host, extra=b""):
        """Connects and sends a ClientHello for host (then extra). Returns (socket, hello)."""
        hello = h.client_hello(host)
        sock = self.client()
        sock.sendall(hello + extra)
        return sock, hello

    def assert_echoes(self, sock, sent):
        self.assertEqual(h.recv_exactly(sock, len(sent)), sent)

    def assert_alert_then_close(self, sock):
        data, how = h.recv_until_closed(sock)
        self.assertEqual(data, h.ALERT_UNRECOGNIZED_NAME, f"then {how}")

    # ---- tests ----

    def test_curl_reaches_s_server_backend(self):
        self.route("app.test", f"127.0.0.1:{self.s_server_port}")
        r = h.curl("app.test", self.dp.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        # s_server -www prints its own command line: proof the answer came from this backend.
        self.assertIn(f"s_server -accept 127.0.0.1:{self.s_server_port}", r.stdout)
        entry = self.dp.wait_log(lambda e: e["sni"] == "app.test", "curl's access log line")
        self.assertEqual(entry["result"], "ok")
        self.assertEqual(entry["target"], f"127.0.0.1:{self.s_server_port}")
        self.assertTrue(entry["client"].startswith("127.0.0.1:"), entry)
        # Ciphertext to the client is more than the page it carried.
        self.assertGreater(int(entry["bytes_to_client"]), len(r.stdout.encode()))
        self.assertGreater(int(entry["bytes_from_client"]), 0)

    def test_route_changes_apply_to_next_connection(self):
        first, second = self.backend(), self.backend()
        sock, _ = self.open_flow("live.test")
        self.assert_alert_then_close(sock)

        self.route("live.test", first)
        sock, hello = self.open_flow("live.test", b"one")
        self.assert_echoes(sock, hello + b"one")
        self.assertEqual(len(first.connections), 1)

        self.route("live.test", second)  # replace the target
        kept = sock
        sock, hello = self.open_flow("live.test", b"two")
        self.assert_echoes(sock, hello + b"two")
        self.assertEqual(len(second.connections), 1)
        self.assertEqual(len(first.connections), 1)

        h.routes_rm(self, self.dp.data, "live.test")
        sock, _ = self.open_flow("live.test")
        self.assert_alert_then_close(sock)
        # A flow routed before the change keeps going.
        kept.sendall(b"still here")
        self.assert_echoes(kept, b"still here")

    def test_wildcard_route(self):
        backend = self.backend()
        self.route("*.wild.test", backend)
        sock, hello = self.open_flow("a.wild.test")
        self.assert_echoes(sock, hello)
        sock, _ = self.open_flow("wild.test")
        self.assert_alert_then_close(sock)

    def test_unknown_sni_gets_unrecognized_name_alert(self):
        sock, _ = self.open_flow("nobody.test")
        self.assert_alert_then_close(sock)
        entry = self.dp.log_for(sock.getsockname())
        self.assertEqual((entry["sni"], entry["result"], entry["target"]),
                         ("nobody.test", "unknown_sni", "-"))
        r = h.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.dp.port}",
                   "-servername", "nobody.test"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("alert number 112", r.stderr)

    def test_missing_sni_gets_unrecognized_name_alert(self):
        sock, _ = self.open_flow(None)
        self.assert_alert_then_close(sock)
        entry = self.dp.log_for(sock.getsockname())
        self.assertEqual((entry["sni"], entry["result"]), ("-", "no_sni"))
        r = h.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.dp.port}",
                   "-noservername"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("alert number 112", r.stderr)

    def test_not_tls_is_closed(self):
        sock = self.client()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
        h.recv_until_closed(sock)
        self.assertEqual(self.dp.log_for(sock.getsockname())["result"], "not_tls")

    def test_hello_split_over_records_and_segments(self):
        backend = self.backend()
        self.route("split.test", backend)
        hello = h.split_into_records(h.client_hello("split.test"), 3)
        sock = self.client()
        for i in range(0, len(hello), 100):  # many small segments, each its own send
            sock.sendall(hello[i:i + 100])
            time.sleep(0.01)
        self.assert_echoes(sock, hello)
        self.assertEqual(bytes(backend.wait_connections(1).head[:len(hello)]), hello)

    def test_large_hello_over_two_records_is_routed(self):
        backend = self.backend()
        self.route("large.test", backend)
        hello = h.split_into_records(h.build_client_hello("large.test", padding=9000), 2)
        sock = self.client()
        sock.sendall(hello)
        self.assert_echoes(sock, hello)
        sock.shutdown(socket.SHUT_WR)
        self.assertEqual(h.recv_until_closed(sock), (b"", "eof"))
        self.assertEqual(self.dp.log_for(sock.getsockname())["result"], "ok")

    def test_hello_over_16k_is_rejected(self):
        backend = self.backend()
        self.route("huge.test", backend)
        hello = h.build_client_hello("huge.test", padding=17000)
        sock = self.client()
        try:
            sock.sendall(hello)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed before it read everything: fine
        data, _ = h.recv_until_closed(sock)
        self.assertIn(data, (b"", h.ALERT_DECODE_ERROR))
        self.assertEqual(self.dp.log_for(sock.getsockname())["result"], "bad_hello")
        self.assertEqual(backend.connections, [])

    def test_client_half_close_still_gets_whole_reply(self):
        upload, reply = os.urandom(256 << 10), os.urandom(8 << 20)
        backend = self.backend(h.sink_then_send(reply))
        self.route("halfclose.test", backend)
        sock, hello = self.open_flow("halfclose.test", upload)
        sock.shutdown(socket.SHUT_WR)
        digest, length, how = h.hash_until_closed(sock)
        self.assertEqual((length, how), (len(reply), "eof"))
        self.assertEqual(digest, h.sha256(reply))
        conn = backend.wait_connections(1)
        self.assertTrue(conn.done.wait(h.WAIT))
        self.assertIsNone(conn.error)
        self.assertEqual((conn.received_length, conn.ended), (len(hello) + len(upload), "eof"))
        self.assertEqual(conn.digest(), h.sha256(hello + upload))
        entry = self.dp.log_for(sock.getsockname())
        self.assertEqual(entry["result"], "ok")
        self.assertEqual(byte_counts(entry), (len(hello) + len(upload), len(reply)))

    def test_backend_half_close_client_keeps_sending(self):
        def close_write_first(backend, conn):
            conn.sock.shutdown(socket.SHUT_WR)
            conn.read_to_end()

        upload = os.urandom(8 << 20)
        backend = self.backend(close_write_first)
        self.route("halfclose-back.test", backend)
        sock, hello = self.open_flow("halfclose-back.test")
        self.assertEqual(sock.recv(1), b"", "the backend's FIN should reach the client")
        sock.sendall(upload)
        sock.shutdown(socket.SHUT_WR)
        conn = backend.wait_connections(1)
        self.assertTrue(conn.done.wait(h.WAIT), "backend never saw the client's FIN")
        self.assertIsNone(conn.error)
        self.assertEqual((conn.received_length, conn.ended), (len(hello) + len(upload), "eof"))
        self.assertEqual(conn.digest(), h.sha256(hello + upload))
        self.assertEqual(h.recv_until_closed(sock), (b"", "eof"))
        self.assertEqual(self.dp.log_for(sock.getsockname())["result"], "ok")

    def test_bulk_both_ways_at_once_is_byte_exact(self):
        upload, download = os.urandom(50 << 20), os.urandom(50 << 20)
        backend = self.backend(h.sink_and_send_at_once(download))
        self.route("bulk.test", backend)
        hello = h.client_hello("bulk.test")
        sock = self.client()
        sender = h.send_in_thread(sock, hello + upload)
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
        self.assertEqual(byte_counts(entry), (len(hello) + len(upload), len(download)))

    def test_backend_reset_reaches_client(self):
        self.dp.wait_metric("cloudlink_connections_active", 0)
        hello = h.client_hello("reset.test")
        backend = self.backend(h.reset_after_head(len(hello)))
        self.route("reset.test", backend)
        sock = self.client()
        sock.sendall(hello)
        data, how = h.recv_until_closed(sock)
        self.assertEqual((data, how), (b"", "reset"))
        self.dp.log_for(sock.getsockname())
        self.dp.wait_metric("cloudlink_connections_active", 0)

    def test_client_reset_reaches_backend(self):
        backend = self.backend()
        self.route("client-reset.test", backend)
        sock, hello = self.open_flow("client-reset.test")
        self.assert_echoes(sock, hello)
        h.reset(sock)
        conn = backend.wait_connections(1)
        self.assertTrue(conn.done.wait(h.WAIT), "backend flow still open after client RST")
        self.assertEqual(conn.ended, "reset")
        self.dp.wait_metric("cloudlink_connections_active", 0)

    def test_proxy_v2_carries_client_address(self):
        backend = self.backend(h.proxy_v2_echo_handler)
        self.route("proxied.test", backend, proxy_v2=True)
        sock, hello = self.open_flow("proxied.test", b"after the hello")
        # The header is consumed by the backend; what follows is exactly what the client sent.
        self.assert_echoes(sock, hello + b"after the hello")
        conn = backend.wait_connections(1)
        self.assertIsNone(conn.error)
        self.assertEqual(conn.proxy_source, sock.getsockname())
        self.assertEqual(conn.proxy_destination, ("127.0.0.1", self.dp.port))
        # The backend's own peer is the dataplane, not the client: only the header tells.
        self.assertNotEqual(conn.peer, sock.getsockname())

    def test_no_proxy_header_without_the_flag(self):
        backend = self.backend()
        self.route("plain.test", backend)
        sock, hello = self.open_flow("plain.test")
        self.assert_echoes(sock, hello)
        self.assertEqual(bytes(backend.wait_connections(1).head[:len(hello)]), hello)

    def test_failover_to_second_target(self):
        backend = self.backend()
        closed = h.free_port()  # nothing listens: connect is refused
        self.route("failover.test", f"127.0.0.1:{closed}", backend)
        clients = []
        for i in range(4):
            sock, hello = self.open_flow("failover.test", b"%d" % i)
            self.assert_echoes(sock, hello + b"%d" % i)
            clients.append(sock.getsockname())
            sock.close()
        self.assertEqual(len(backend.connections), 4)
        for client in clients:
            entry = self.dp.log_for(client)
            self.assertEqual((entry["result"], entry["target"]), ("ok", backend.address))

    def test_least_connections_counts_across_workers(self):
        # Two workers: whichever one a client lands on, open flows are counted globally, so
        # four long-lived flows over two targets end up two and two.
        first, second = self.backend(), self.backend()
        self.route("spread.test", first, second)
        flows = []
        for i in range(4):
            sock, hello = self.open_flow("spread.test", b"%d" % i)
            self.assert_echoes(sock, hello + b"%d" % i)
            flows.append(sock)
        self.assertEqual((len(first.connections), len(second.connections)), (2, 2))
        for sock in flows:
            sock.close()

    def test_all_targets_down_closes_and_counts(self):
        refused = self.dp.metric("cloudlink_upstream_failures_total", reason="refused")
        rejected = self.dp.metric("cloudlink_connections_rejected_total", reason="targets_down")
        down = [f"127.0.0.1:{h.free_port()}", f"127.0.0.1:{h.free_port()}"]
        self.route("down.test", *down)
        sock, _ = self.open_flow("down.test")
        h.expect_closed_without_data(self, sock)
        entry = self.dp.log_for(sock.getsockname())
        self.assertEqual((entry["sni"], entry["result"]), ("down.test", "targets_down"))
        self.dp.wait_metric("cloudlink_connections_rejected_total", rejected + 1,
                            reason="targets_down")
        self.assertGreaterEqual(
            self.dp.metric("cloudlink_upstream_failures_total", reason="refused"), refused + 2)


class RelayCopyTest(RelayTests, unittest.TestCase):
    RELAY = "copy"


class RelaySpliceTest(RelayTests, unittest.TestCase):
    RELAY = "splice"

if __name__ == "__main__":
    unittest.main(verbosity=2)
