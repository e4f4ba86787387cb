#!/usr/bin/env python3
"""cloudlink-control serve --acme-hostname: control gets a certificate for its own name from
pebble through the production path. pebble validates HTTP-01 on the dataplane's --listen-http
port; the dataplane routes the name (a system route control wrote) to control's challenge
responder; the certificate lands in --tls-dir and control's TLS listener serves it, reached by
SNI through the dataplane's TLS listener. The route survives `routes sync` and no home can map
the name (409). A restart with a valid certificate orders nothing. A challenge answered wrongly
is one clear log line, the files stay as they were and control keeps serving."""
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from control_api import ssh_keygen  # noqa: E402
from pebble import Pebble  # noqa: E402

NAME = "vps.test"
BAD_NAME = "bad.test"
PASSWORD = "admin-password-1"


def read(path):
    with open(path, "rb") as f:
        return f.read()


class WrongAnswers(BaseHTTPRequestHandler):
    """An HTTP-01 responder that answers every challenge with the wrong key authorization."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"not-the-key-authorization"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ControlAcme(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.require_binaries()
        cls.work = h.temp_dir(cls)
        cls.data = os.path.join(cls.work, "var")
        cls.dp = h.Dataplane(cls, cls.work, data=cls.data, http_listeners=1)
        cls.ca = Pebble(cls, cls.work, http_port=cls.dp.http_ports[0])

    def serve(self, name, data, tls_dir, tag):
        port = h.free_port()
        h.init_data(data)
        proc = h.Process(self, [h.CONTROL, "serve", "--data", data,
                                "--listen-tls", f"127.0.0.1:{port}",
                                "--acme-hostname", name, "--acme-directory", self.ca.directory,
                                "--acme-ca-bundle", self.ca.https_ca,
                                "--acme-email", "ops@example.org", "--tls-dir", tls_dir],
                         f"control-{tag}", self.work)
        h.wait_for_listen(port, proc)
        return proc, port

    def wait_log(self, proc, text, timeout=90):
        h.wait_until(lambda: text in proc.stderr_text() or not proc.alive(), timeout,
                     f"'{text}' in control's log")
        self.assertIn(text, proc.stderr_text())

    def curl_through_dataplane(self, path, cacert):
        port = self.dp.port
        return h.run(["curl", "-sS", "--max-time", "10", "--cacert", cacert, "--resolve",
                      f"{NAME}:{port}:127.0.0.1", f"https://{NAME}:{port}{path}"])

    def api(self, method, path, body=None, token=None):
        """A call through the dataplane's TLS listener, verified against pebble's root."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.dp.port, timeout=h.WAIT)
        sock = socket.create_connection(("127.0.0.1", self.dp.port), timeout=h.WAIT)
        ctx = ssl.create_default_context(cafile=self.ca.root)
        conn.sock = ctx.wrap_socket(sock, server_hostname=NAME)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, (json.loads(data) if data else None)

    def test_certificate_for_own_name_through_the_dataplane(self):
        tls_dir = os.path.join(self.work, "tls")
        proc, control_port = self.serve(NAME, self.data, tls_dir, "own")
        self.wait_log(proc, f"new certificate for {NAME}")
        chain, key = os.path.join(tls_dir, "fullchain.pem"), os.path.join(tls_dir, "key.pem")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        account = os.path.join(self.data, "acme", "account.pem")
        self.assertEqual(os.stat(account).st_mode & 0o777, 0o600)
        v = h.run(["openssl", "verify", "-CAfile", self.ca.root, "-untrusted", chain, chain])
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        # The listener reloads the files within a second or so; then curl, trusting only
        # pebble's root, reaches control through the dataplane by SNI.
        r = h.wait_until(lambda: (lambda r: r if r.returncode == 0 else None)(
            self.curl_through_dataplane("/api/openapi.json", self.ca.root)), 10,
            "curl through the dataplane with pebble's certificate")
        self.assertIn('"openapi"', r.stdout)
        self.dp.wait_log(lambda e: e["sni"] == NAME and e["target"] == f"127.0.0.1:{control_port}",
                         "curl's connection to control in the access log")
        # The challenge went through the dataplane's :80 to control's responder.
        self.assertIn("(HTTP-01 challenges)", proc.stderr_text())
        responder = proc.stderr_text().split(" (TLS) and ")[1].split(" ")[0]
        self.dp.wait_log(lambda e: e["sni"] == NAME and e["target"] == responder,
                         "pebble's validation request in the access log")

        self.wait_log(proc, f"the certificate for {NAME} is valid until")  # after the gauge
        metrics = h.parse_metrics(self.curl_through_dataplane("/metrics", self.ca.root).stdout)
        self.assertEqual(metrics[("cloudlink_control_acme_orders_total", (("result", "ok"),))], 1)
        expiry = metrics[("cloudlink_control_certificate_expiry_timestamp_seconds",
                          (("hostname", NAME),))]
        self.assertGreater(expiry, time.time() + 86400)

        # Anything else on :80 for the name is sent to https, as for a name without HTTP target.
        r = h.run(["curl", "-sS", "-i", "--max-time", "10", "--resolve",
                   f"{NAME}:{self.dp.http_ports[0]}:127.0.0.1",
                   f"http://{NAME}:{self.dp.http_ports[0]}/api/health?x=1"])
        self.assertIn("HTTP/1.1 308", r.stdout)
        self.assertIn(f"Location: https://{NAME}/api/health?x=1", r.stdout)

        # The route is control's: `routes sync` keeps it, and no home can map the name.
        s = h.run([h.CONTROL, "routes", "sync", "--data", self.data])
        self.assertEqual(s.returncode, 0, s.stderr)
        listed = h.run([h.CONTROL, "routes", "list", "--json", "--data", self.data])
        self.assertIn(NAME, listed.stdout)
        self.assertEqual(self.curl_through_dataplane("/api/health", self.ca.root).returncode, 0)
        add = subprocess.run([h.CONTROL, "users", "add", "root", "--admin", "--password-stdin",
                              "--data", self.data], input=PASSWORD + "\n", capture_output=True,
                             text=True, timeout=h.WAIT)
        self.assertEqual(add.returncode, 0, add.stderr)
        status, login = self.api("POST", "/api/login", {"username": "root", "password": PASSWORD})
        self.assertEqual(status, 200, login)
        _, public_key = ssh_keygen(self.work, "home")
        status, home = self.api("POST", "/api/homes", {"name": "h", "public_key": public_key},
                                login["token"])
        self.assertEqual(status, 201, home)
        status, answer = self.api("POST", f"/api/homes/{home['id']}/mappings",
                                  {"hostname": NAME.upper(), "tls_ports": [home["ports"][0]]},
                                  login["token"])
        self.assertEqual(status, 409, answer)
        self.assertIn("reserved", answer["error"]["message"])

        # A restart with a valid certificate orders nothing and serves the same one.
        before = read(chain)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(), 0, proc.stderr_text())
        proc, _ = self.serve(NAME, self.data, tls_dir, "restarted")
        self.wait_log(proc, f"the certificate for {NAME} is valid until")
        self.assertNotIn("new certificate", proc.stderr_text())
        self.assertEqual(read(chain), before)
        self.assertEqual(self.curl_through_dataplane("/api/health", self.ca.root).returncode, 0)

    def test_wrong_challenge_answer_keeps_the_old_certificate_and_serving(self):
        # pebble resolves BAD_NAME to 127.0.0.2, where a responder answers every challenge
        # wrongly on the port pebble validates.
        wrong = ThreadingHTTPServer(("127.0.0.2", self.dp.http_ports[0]), WrongAnswers)
        threading.Thread(target=wrong.serve_forever, daemon=True).start()
        h.on_cleanup(self, wrong.server_close)
        h.on_cleanup(self, wrong.shutdown)
        self.ca.add_a(BAD_NAME, "127.0.0.2")
        data, tls_dir = os.path.join(self.work, "var-bad"), os.path.join(self.work, "tls-bad")
        os.makedirs(tls_dir)
        cert, key = h.make_cert(tls_dir, BAD_NAME)
        os.rename(cert, os.path.join(tls_dir, "fullchain.pem"))
        old_chain, old_key = read(os.path.join(tls_dir, "fullchain.pem")), read(key)
        proc, port = self.serve(BAD_NAME, data, tls_dir, "bad")
        self.wait_log(proc, "next attempt in")
        log = proc.stderr_text()
        self.assertIn(f"certificate for {BAD_NAME} not obtained (attempt 1)", log)
        self.assertIn(f"http-01 for {BAD_NAME} failed", log)
        self.assertIn("keeping the current certificate", log)
        self.assertEqual(read(os.path.join(tls_dir, "fullchain.pem")), old_chain)
        self.assertEqual(read(os.path.join(tls_dir, "key.pem")), old_key)
        self.assertEqual(sorted(os.listdir(tls_dir)), ["fullchain.pem", "key.pem"])
        self.assertTrue(proc.alive())
        r = h.run(["curl", "-sS", "--max-time", "10", "--cacert",
                   os.path.join(tls_dir, "fullchain.pem"), "--resolve",
                   f"{BAD_NAME}:{port}:127.0.0.1", f"https://{BAD_NAME}:{port}/api/health"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = h.run(["curl", "-sS", "--max-time", "10", "-k", f"https://127.0.0.1:{port}/metrics"])
        metrics = h.parse_metrics(r.stdout)
        self.assertGreaterEqual(
            metrics[("cloudlink_control_acme_orders_total", (("result", "error"),))], 1)
        self.assertEqual(metrics[("cloudlink_control_certificate_expiry_timestamp_seconds",
                                  (("hostname", BAD_NAME),))], 0)

    def test_start_errors_are_one_clear_line(self):
        base = [h.CONTROL, "serve", "--data", h.init_data(os.path.join(self.work, "var-errors")),
                "--listen-tls", "127.0.0.1:0", "--acme-directory", self.ca.directory]
        tls_dir = os.path.join(self.work, "tls-errors")
        r = h.run(base + ["--acme-hostname", "*.vps.test", "--tls-dir", tls_dir])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("not a wildcard", r.stderr)
        r = h.run(base + ["--acme-hostname", NAME])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--tls-dir", r.stderr)
        r = h.run(base + ["--acme-hostname", NAME, "--tls-dir", tls_dir, "--tls-cert", "x.pem"])
        self.assertEqual(r.returncode, 2, r.stderr)
        # A key file control cannot read may be a working one: it is an error, never replaced.
        os.makedirs(os.path.join(tls_dir, "key.pem"))
        with open(os.path.join(tls_dir, "fullchain.pem"), "w") as f:
            f.write("kept\n")
        r = h.run(base + ["--acme-hostname", NAME, "--tls-dir", tls_dir])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("key.pem", r.stderr)
        self.assertEqual(read(os.path.join(tls_dir, "fullchain.pem")), b"kept\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
