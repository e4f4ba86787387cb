#!/usr/bin/env python3
"""cloudlink-dataplane --accept-proxy-from: a trusted load balancer's PROXY v1 or v2 header (on
the TLS and the HTTP listener) makes its source the client in the access log and in the PROXY
header sent on; from the trusted network a missing or malformed header closes the connection,
and from anywhere else a PROXY header does. 127.0.0.1 is the trusted load balancer here;
clients bound to 127.0.0.2 are the untrusted internet."""
import os
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TRUSTED = "127.0.0.1"
UNTRUSTED = "127.0.0.2"


def proxy_v2(source, sport, destination, dport):
    addresses = socket.inet_aton(source) + socket.inet_aton(destination)
    return (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" + struct.pack("!H", 12) + addresses
            + struct.pack("!HH", sport, dport))


def connect_from(address, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(h.WAIT)
    s.bind((address, 0))
    s.connect(("127.0.0.1", port))
    return s


class DataplaneAcceptProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.require_binaries()
        cls.work = h.temp_dir(cls)

    def setUp(self):
        self.data = os.path.join(self.work, f"data-{self._testMethodName}")
        os.makedirs(self.data)
        self.backend = h.TcpBackend(self, h.proxy_v2_echo_handler)
        h.routes_add(self, self.data, "app.test", [self.backend.address], proxy_v2=True,
                     http_target=self.backend.address)
        self.dp = h.Dataplane(self, self.work, data=self.data, http_listeners=1,
                              accept_proxy_from=f"{TRUSTED}/32")

    def echo_through(self, sock, payload):
        sock.sendall(payload)
        self.assertEqual(h.recv_exactly(sock, len(payload)), payload)

    def test_v1_header_on_tls_names_the_real_client(self):
        hello = h.client_hello("app.test")
        with connect_from(TRUSTED, self.dp.port) as s:
            s.sendall(b"PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n")
            self.echo_through(s, hello)
            conn = self.backend.wait_connections(1)
            self.assertEqual(conn.proxy_source, ("203.0.113.7", 51234))
            self.assertEqual(conn.proxy_destination, ("198.51.100.1", 443))
        entry = self.dp.wait_log(lambda e: e["sni"] == "app.test")
        self.assertEqual(entry["client"], "203.0.113.7:51234")

    def test_v2_header_on_http_split_into_single_bytes(self):
        header = proxy_v2("192.0.2.9", 40000, "198.51.100.1", 80)
        head = b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"
        with connect_from(TRUSTED, self.dp.http_ports[0]) as s:
            for i in range(len(header)):
                s.sendall(header[i:i + 1])
            self.echo_through(s, head)
            conn = self.backend.wait_connections(1)
            self.assertEqual(conn.proxy_source, ("192.0.2.9", 40000))
        entry = self.dp.wait_log(lambda e: e["sni"] == "app.test")
        self.assertEqual(entry["client"], "192.0.2.9:40000")

    def test_unknown_and_local_keep_the_connection_addresses(self):
        with connect_from(TRUSTED, self.dp.port) as s:
            s.sendall(b"PROXY UNKNOWN\r\n")
            self.echo_through(s, h.client_hello("app.test"))
            conn = self.backend.wait_connections(1)
            self.assertEqual(conn.proxy_source, s.getsockname())

    def test_trusted_source_without_or_with_a_bad_header_is_closed(self):
        cases = [h.client_hello("app.test"),
                 b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n",
                 b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
                 b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
                 b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x04abcd",
                 b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x10\x00"]  # 4 KiB of TLVs declared
        for i, data in enumerate(cases):
            with self.subTest(i=i):
                port = self.dp.http_ports[0] if data.startswith(b"GET") else self.dp.port
                with connect_from(TRUSTED, port) as s:
                    s.sendall(data)
                    h.expect_closed_without_data(self, s)
        self.dp.wait_metric("cloudlink_connections_rejected_total", len(cases),
                            reason="bad_proxy")
        self.assertEqual(self.backend.connections, [])

    def test_untrusted_source_sending_a_header_is_closed(self):
        for data in (b"PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n",
                     proxy_v2("203.0.113.7", 1, "198.51.100.1", 443)):
            for port in (self.dp.port, self.dp.http_ports[0]):
                with self.subTest(data=data[:8], port=port):
                    with connect_from(UNTRUSTED, port) as s:
                        s.sendall(data + h.client_hello("app.test"))
                        h.expect_closed_without_data(self, s)
        self.dp.wait_metric("cloudlink_connections_rejected_total", 4, reason="bad_proxy")
        # Without a header an untrusted client is served as usual, under its own address.
        with connect_from(UNTRUSTED, self.dp.port) as s:
            self.echo_through(s, h.client_hello("app.test"))
            conn = self.backend.wait_connections(1)
            self.assertEqual(conn.proxy_source, s.getsockname())


if __name__ == "__main__":
    unittest.main(verbosity=2)
