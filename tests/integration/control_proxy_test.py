#!/usr/bin/env python3
"""cloudlink-control serve --accept-proxy-from, with the real dataplane in front of control as
in production: control's system route asks the dataplane for a PROXY v2 header (both targets:
the API over TLS and the HTTP-01 responder, which pebble reaches to issue control's
certificate), so control sees each client's own address.

* 20 failed logins with made-up names from 127.0.0.2 do not slow a correct login from
  127.0.0.3 (without the header every client is 127.0.0.1 and that login answers 429), and the
  audit log names 127.0.0.2 and 127.0.0.3.
* The semantics of the dataplane's flag: from the trusted network a connection without a
  header is closed; from elsewhere a connection with one is closed.
* Without --accept-proxy-from the route asks for no header (the listeners would refuse one).
Each login's status and time is printed."""
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from pebble import Pebble  # noqa: E402

NAME = "vps.test"
PASSWORD = "admin-password-1"
FAILURES = 20


def connect_from(source, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(h.WAIT)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


class ControlBehindDataplane(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.require_binaries()
        cls.work = h.temp_dir(cls)
        cls.data = os.path.join(cls.work, "var")
        cls.dp = h.Dataplane(cls, cls.work, data=cls.data, http_listeners=1)
        cls.ca = Pebble(cls, cls.work, http_port=cls.dp.http_ports[0])
        cls.control_port = h.free_port()
        cls.control = h.Process(cls, [
            h.CONTROL, "serve", "--data", h.init_data(cls.data), "--listen-tls",
            f"127.0.0.1:{cls.control_port}", "--acme-hostname", NAME, "--acme-directory",
            cls.ca.directory, "--acme-ca-bundle", cls.ca.https_ca, "--tls-dir",
            os.path.join(cls.work, "tls"), "--accept-proxy-from", "127.0.0.1/32"],
            "control", cls.work)
        h.wait_for_listen(cls.control_port, cls.control)
        # pebble's HTTP-01 validation went dataplane :80 -> PROXY v2 -> control's responder.
        h.wait_until(lambda: f"new certificate for {NAME}" in cls.control.stderr_text()
                     or not cls.control.alive(), 90, "control's certificate from pebble")
        if f"new certificate for {NAME}" not in cls.control.stderr_text():
            raise AssertionError(cls.control.stderr_text())
        # The listener takes up the new files within a second or so.
        ctx = ssl.create_default_context(cafile=cls.ca.root)

        def verified():
            try:
                with ctx.wrap_socket(connect_from("127.0.0.3", cls.dp.port),
                                     server_hostname=NAME):
                    return True
            except ssl.SSLError:
                return False
        h.wait_until(verified, 15, "control serving pebble's certificate", interval=0.2)
        add = subprocess.run([h.CONTROL, "users", "add", "root", "--admin", "--password-stdin",
                              "--data", cls.data], input=PASSWORD + "\n", capture_output=True,
                             text=True, timeout=h.WAIT)
        if add.returncode != 0:
            raise AssertionError(add.stderr)

    def call(self, source, method, path, body=None, token=None):
        """(status, JSON body, seconds) of one request through the dataplane's TLS listener,
        from source, verified against pebble's root."""
        start = time.monotonic()
        sock = connect_from(source, self.dp.port)
        ctx = ssl.create_default_context(cafile=self.ca.root)
        conn = http.client.HTTPSConnection("127.0.0.1", self.dp.port, timeout=h.WAIT)
        conn.sock = ctx.wrap_socket(sock, server_hostname=NAME)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, (json.loads(data) if data else None), time.monotonic() - start

    def test_route_asks_for_proxy_v2(self):
        self.assertIn("(HTTP-01 challenges), with a PROXY v2 header", self.control.stderr_text())
        listed = json.loads(h.run([h.CONTROL, "routes", "list", "--json", "--data",
                                   self.data]).stdout)
        own = [r for r in listed if r["host"] == NAME]
        self.assertEqual(len(own), 1, listed)
        self.assertIn("proxy-v2", own[0]["flags"])
        # Plain HTTP for the name still goes to the responder, header and all: 308 to https.
        r = h.run(["curl", "-sS", "-i", "--max-time", "10", "--interface", "127.0.0.2",
                   "--resolve", f"{NAME}:{self.dp.http_ports[0]}:127.0.0.1",
                   f"http://{NAME}:{self.dp.http_ports[0]}/api/health?x=1"])
        self.assertIn("HTTP/1.1 308", r.stdout)
        self.assertIn(f"Location: https://{NAME}/api/health?x=1", r.stdout)

    def test_failed_logins_from_one_client_do_not_slow_another(self):
        status, _, baseline = self.call("127.0.0.3", "POST", "/api/login",
                                        {"username": "root", "password": PASSWORD})
        self.assertEqual(status, 200)
        times = []
        for i in range(FAILURES):
            status, body, seconds = self.call("127.0.0.2", "POST", "/api/login",
                                              {"username": f"nobody-{i}", "password": "guess"})
            times.append((status, seconds))
            self.assertEqual(status, 401, body)
        status, body, seconds = self.call("127.0.0.3", "POST", "/api/login",
                                          {"username": "root", "password": PASSWORD})
        print(f"\n{FAILURES} failed logins from 127.0.0.2 (status, ms): "
              + " ".join(f"{s}/{t * 1000:.0f}" for s, t in times), flush=True)
        print(f"correct login from 127.0.0.3: {status}, {seconds * 1000:.0f} ms "
              f"(before the failures: {baseline * 1000:.0f} ms)", flush=True)
        self.assertEqual(status, 200, body)
        token = body["token"]
        status, audit, _ = self.call("127.0.0.3", "GET", "/api/admin/audit?limit=100",
                                     token=token)
        self.assertEqual(status, 200, audit)
        names = {f"nobody-{i}" for i in range(FAILURES)}
        failed = [e for e in audit if e["action"] == "login.failed" and e["target"] in names]
        self.assertEqual(len(failed), FAILURES, audit)
        self.assertEqual({e["source"] for e in failed}, {"127.0.0.2"})
        logins = [e for e in audit if e["action"] == "login" and e["actor"] == "root"]
        self.assertGreaterEqual(len(logins), 2, audit)
        self.assertEqual({e["source"] for e in logins}, {"127.0.0.3"})
        print("audit sources: login.failed " + ", ".join(sorted({e['source'] for e in failed}))
              + "; login " + ", ".join(sorted({e["source"] for e in logins})), flush=True)
        # The request log names the same sources: the PROXY-learned client, not the dataplane.
        requests = [h.logfmt(line) for line in self.control.stderr_text().splitlines()
                    if " msg=request " in line]
        refused = [r for r in requests if r["route"] == "/api/login" and r["status"] == "401"]
        self.assertGreaterEqual(len(refused), FAILURES)
        self.assertEqual({(r["source"], r["user"]) for r in refused}, {("127.0.0.2", "-")})
        reads = [r for r in requests if r["route"] == "/api/admin/audit"]
        self.assertEqual({(r["method"], r["status"], r["user"], r["source"]) for r in reads},
                         {("GET", "200", "root", "127.0.0.3")})

    def refused_count(self):
        sock = connect_from("127.0.0.2", self.dp.port)
        ctx = ssl.create_default_context(cafile=self.ca.root)
        with ctx.wrap_socket(sock, server_hostname=NAME) as tls:
            tls.sendall(f"GET /metrics HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n"
                        .encode())
            text, _ = h.recv_until_closed(tls)
        metrics = h.parse_metrics(text.split(b"\r\n\r\n", 1)[1].decode())
        return metrics.get(("cloudlink_control_http_connections_refused_total",
                            (("reason", "bad_proxy"),)), 0)

    def test_headers_only_from_the_trusted_network(self):
        before = self.refused_count()
        # From 127.0.0.1 (trusted) straight to control, no header: closed, nothing served.
        with connect_from("127.0.0.1", self.control_port) as s:
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            data, _ = h.recv_until_closed(s)
        self.assertEqual(data, b"")
        # A header from 127.0.0.2 (untrusted): the TLS listener sees no ClientHello, closes.
        with connect_from("127.0.0.2", self.control_port) as s:
            s.sendall(b"PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n"
                      + h.client_hello(NAME))
            data, _ = h.recv_until_closed(s)
        self.assertNotIn(b"status", data)
        # The trusted peer with a malformed header: closed.
        with connect_from("127.0.0.1", self.control_port) as s:
            s.sendall(b"PROXY TCP4 203.0.113.7 nonsense\r\n" + h.client_hello(NAME))
            data, _ = h.recv_until_closed(s)
        self.assertEqual(data, b"")
        h.wait_until(lambda: self.refused_count() >= before + 2,
                     what="bad_proxy counted for the trusted peer's two connections")

    def test_without_the_flag_the_route_asks_for_no_header(self):
        data = os.path.join(self.work, "var-plain")
        port = h.free_port()
        proc = h.Process(self, [
            h.CONTROL, "serve", "--data", h.init_data(data), "--listen-tls", f"127.0.0.1:{port}",
            "--acme-hostname", "plain.test", "--acme-directory", "https://127.0.0.1:1/dir",
            "--tls-dir", os.path.join(self.work, "tls-plain")], "control-plain", self.work)
        h.wait_for_listen(port, proc)
        h.wait_until(lambda: "(HTTP-01 challenges)" in proc.stderr_text(), what="the route")
        self.assertNotIn("PROXY", proc.stderr_text())
        listed = json.loads(h.run([h.CONTROL, "routes", "list", "--json", "--data",
                                   data]).stdout)
        self.assertEqual([r["flags"] for r in listed if r["host"] == "plain.test"], [[]])
        # One target trusted and the other not: one clear start-up error.
        bad = h.run([h.CONTROL, "serve", "--data", h.init_data(os.path.join(self.work, "var-bad")),
                     "--listen-tls", f"127.0.0.1:{h.free_port()}", "--acme-hostname", "bad.test",
                     "--acme-directory", "https://127.0.0.1:1/dir", "--tls-dir",
                     os.path.join(self.work, "tls-bad"), "--acme-challenge-listen",
                     "127.0.0.2:0", "--accept-proxy-from", "127.0.0.1/32"])
        self.assertEqual(bad.returncode, 1, bad.stderr)
        self.assertIn("--accept-proxy-from holds 127.0.0.1:", bad.stderr)
        self.assertIn("but not 127.0.0.2:", bad.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
