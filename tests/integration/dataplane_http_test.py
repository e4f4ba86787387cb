#!/usr/bin/env python3
"""cloudlink-dataplane on a plain HTTP listener (--listen-http): requests routed by Host to the
route's HTTP target (with the PROXY header when the route asks), 308 to https:// for a route
without one, 404 for an unknown host, 400 for a malformed head, 431 for an oversized one, and a
client that sends its head one byte per second closed at --hello-timeout while others are
served. curl is the client where a real client can say it; raw sockets where it cannot."""
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HELLO_TIMEOUT_S = 2


def http_backend_handler(backend, conn):
    """Answers each request head with a body naming the backend and the request's Host."""
    buf = b""
    try:
        while True:
            chunk = conn.sock.recv(65536)
            if not chunk:
                break
            conn.note(chunk)
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                host = next((line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                             if line.lower().startswith(b"host:")), b"?")
                body = b"backend " + backend.name.encode() + b" host " + host + b"\n"
                conn.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                                  % (len(body), body))
    except ConnectionResetError:
        return


def raw_exchange(port, data, timeout=h.WAIT):
    """Sends data, then reads until the dataplane closes; returns what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return h.recv_until_closed(s)[0]


class DataplaneHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.require_binaries()
        cls.work = h.temp_dir(cls)

    def setUp(self):
        self.data = os.path.join(self.work, f"data-{self._testMethodName}")
        os.makedirs(self.data)
        self.web = h.TcpBackend(self, http_backend_handler)
        self.web.name = "web"
        self.tls = h.TcpBackend(self, h.echo_handler)
        h.routes_add(self, self.data, "app.test", [f"127.0.0.1:{self.tls.port}"],
                     http_target=f"127.0.0.1:{self.web.port}")
        h.routes_add(self, self.data, "secure.test", [f"127.0.0.1:{self.tls.port}"])
        self.dp = h.Dataplane(self, self.work, data=self.data, http_listeners=1,
                              hello_timeout=f"{HELLO_TIMEOUT_S}s")
        self.port = self.dp.http_ports[0]

    def curl(self, host, path="/", extra=()):
        return subprocess.run(
            ["curl", "-sS", "-i", "--max-time", "10", "--resolve", f"{host}:{self.port}:127.0.0.1",
             *extra, f"http://{host}:{self.port}{path}"],
            capture_output=True, timeout=h.WAIT)

    def test_forwards_by_host_to_the_http_target(self):
        r = self.curl("App.Test", "/x?y=1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"HTTP/1.1 200 OK", r.stdout)
        self.assertTrue(r.stdout.endswith(b"backend web host App.Test:%d\n" % self.port),
                        r.stdout)
        # The head reached the backend unchanged.
        conn = self.web.wait_connections(1)
        self.assertTrue(bytes(conn.head).startswith(b"GET /x?y=1 HTTP/1.1\r\nHost: App.Test:"),
                        conn.head[:100])
        entry = self.dp.wait_log(lambda e: e["sni"] == "app.test")
        self.assertEqual((entry["result"], entry["target"]), ("ok", f"127.0.0.1:{self.web.port}"))

    def test_a_body_and_later_requests_follow_the_first_host(self):
        body = b"x" * 100000
        with socket.create_connection(("127.0.0.1", self.port), timeout=h.WAIT) as s:
            s.sendall(b"POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: %d\r\n\r\n"
                      % len(body) + body)
            # A second request on the same connection names another host: it still goes to
            # the first request's target (documented: the first Host decides the connection).
            s.sendall(b"GET / HTTP/1.1\r\nHost: secure.test\r\n\r\n")
            got = b""
            while got.count(b"backend web") < 2:
                chunk = s.recv(65536)
                self.assertTrue(chunk, f"closed early: {got!r}")
                got += chunk
        self.assertIn(b"host app.test", got)
        self.assertIn(b"host secure.test", got)
        self.assertEqual(len(self.web.connections), 1)
        self.assertGreater(self.web.connections[0].received_length, len(body))

    def test_proxy_v2_header_when_the_route_asks(self):
        backend = h.TcpBackend(self, h.proxy_v2_echo_handler)
        h.routes_add(self, self.data, "proxied.test", [f"127.0.0.1:{self.tls.port}"],
                     proxy_v2=True, http_target=f"127.0.0.1:{backend.port}")
        head = b"GET / HTTP/1.1\r\nHost: proxied.test\r\n\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=h.WAIT) as s:
            s.sendall(head)
            self.assertEqual(h.recv_exactly(s, len(head)), head)
            conn = backend.wait_connections(1)
            self.assertEqual(conn.proxy_source, s.getsockname())
            self.assertEqual(conn.proxy_destination, ("127.0.0.1", self.port))

    def test_route_without_http_target_redirects_to_https(self):
        r = self.curl("secure.test", "/a/b?c=d")
        self.assertEqual(r.returncode, 0, r.stderr)
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 308 "), head)
        self.assertIn(b"\r\nLocation: https://secure.test/a/b?c=d", head)
        self.assertIn(b"\r\nConnection: close", head)
        self.assertEqual(body, b"https://secure.test/a/b?c=d\n")
        self.assertEqual(self.tls.connections, [])
        self.dp.wait_metric("cloudlink_connections_closed_total", 1, result="redirected")

    def test_unknown_host_is_404(self):
        r = self.curl("nope.test")
        self.assertTrue(r.stdout.startswith(b"HTTP/1.1 404 "), r.stdout)
        self.assertIn(b"Connection: close", r.stdout)
        self.dp.wait_metric("cloudlink_connections_rejected_total", 1, reason="unknown_host")

    def test_malformed_heads_are_400(self):
        cases = [b"GET / HTTP/1.1\r\nHost : app.test\r\n\r\n",
                 b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: app.test\r\nHost: app.test\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: app_test\r\n\r\n",
                 b"GET / HTTP/1.0\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: app.test\r\nX: a\r\n b\r\n\r\n",
                 h.client_hello("app.test")]
        for head in cases:
            with self.subTest(head=head[:40]):
                got = raw_exchange(self.port, head)
                self.assertTrue(got.startswith(b"HTTP/1.1 400 Bad Request\r\n"), got)
                self.assertIn(b"\r\nConnection: close\r\n", got)
        self.dp.wait_metric("cloudlink_connections_rejected_total", len(cases),
                            reason="bad_request")
        self.assertEqual(self.web.connections, [])

    def test_oversized_head_is_431(self):
        r = self.curl("app.test", extra=["-H", "X-Big: " + "a" * 9000])
        self.assertTrue(r.stdout.startswith(b"HTTP/1.1 431 "), r.stdout[:200])
        self.assertEqual(self.web.connections, [])

    def test_slow_head_is_closed_at_the_deadline_while_others_are_served(self):
        head = b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"
        slow = socket.create_connection(("127.0.0.1", self.port), timeout=h.WAIT)
        self.addCleanup(slow.close)
        closed_at = []

        def trickle():
            start = time.monotonic()
            try:
                for byte in head:
                    slow.sendall(bytes([byte]))
                    time.sleep(1)
            except OSError:
                pass
            closed_at.append(time.monotonic() - start)

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        served = 0
        deadline = time.monotonic() + HELLO_TIMEOUT_S + 1
        while time.monotonic() < deadline:
            r = self.curl("app.test")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(b"backend web host app.test", r.stdout)
            served += 1
        data, _ = h.recv_until_closed(slow)
        self.assertEqual(data, b"")  # closed at the deadline, nothing answered
        t.join(h.WAIT)
        self.assertLess(closed_at[0], len(head))  # did not get to send the whole head
        self.assertGreater(served, 1)
        self.dp.wait_metric("cloudlink_connections_rejected_total", 1, reason="hello_timeout")


if __name__ == "__main__":
    unittest.main(verbosity=2)
