#!/usr/bin/env python3
"""cloudlink-control serve --listen-tls: HTTPS with a certificate from files, checked by curl
and Python's ssl against the certificate; plain HTTP on the port gets nothing; a client that
never finishes its handshake is cut off while others are served; a renewed certificate is
served to new connections without a restart while an open connection keeps working; a broken
renewal keeps the working certificate; a bad certificate at start is one clear error."""
import hashlib
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

NAME = "control.test"


def make_cert(directory, tag):
    cert = os.path.join(directory, f"{tag}.crt")
    key = os.path.join(directory, f"{tag}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days",
                    "2", "-subj", f"/CN={NAME}", "-addext", f"subjectAltName=DNS:{NAME}"],
                   check=True, capture_output=True, timeout=h.WAIT)
    return cert, key


def fingerprint(der):
    return hashlib.sha256(der).hexdigest()


class ControlTls(unittest.TestCase):
    def setUp(self):
        h.require_binaries(control=True, dataplane=False)
        self.work = h.temp_dir(self)
        self.first = make_cert(self.work, "first")
        self.second = make_cert(self.work, "second")
        self.cert = os.path.join(self.work, "live.crt")
        self.key = os.path.join(self.work, "live.key")
        shutil.copy(self.first[0], self.cert)
        shutil.copy(self.first[1], self.key)
        self.port = h.free_port()
        data = h.init_data(os.path.join(self.work, "var"))
        self.proc = h.Process(self, [h.CONTROL, "serve", "--data", data,
                                     "--listen-tls", f"127.0.0.1:{self.port}",
                                     "--tls-cert", self.cert, "--tls-key", self.key],
                              "control", self.work)
        h.wait_for_listen(self.port, self.proc)

    def context(self, cafile):
        return ssl.create_default_context(cafile=cafile)

    def connection(self, cafile):
        """A keep-alive HTTPS connection that verifies the certificate for NAME."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=h.WAIT)
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=h.WAIT)
        conn.sock = self.context(cafile).wrap_socket(sock, server_hostname=NAME)
        return conn

    def get(self, conn, path="/api/health"):
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()

    def served_fingerprint(self, cafile=None):
        """The certificate a new connection gets (verified against cafile when given)."""
        if cafile:
            ctx = self.context(cafile)
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.port), timeout=h.WAIT) as sock:
            with ctx.wrap_socket(sock, server_hostname=NAME) as tls:
                return fingerprint(tls.getpeercert(binary_form=True))

    def der(self, cert_file):
        with open(cert_file) as f:
            return fingerprint(ssl.PEM_cert_to_DER_cert(f.read()))

    def test_curl_verifies_and_gets_answers(self):
        r = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", self.first[0],
                            "--resolve", f"{NAME}:{self.port}:127.0.0.1",
                            f"https://{NAME}:{self.port}/api/health"],
                           capture_output=True, text=True, timeout=h.WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, '{"status":"ok"}')
        # A client that does not trust the certificate refuses it.
        r = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", self.second[0],
                            "--resolve", f"{NAME}:{self.port}:127.0.0.1",
                            f"https://{NAME}:{self.port}/api/health"],
                           capture_output=True, text=True, timeout=h.WAIT)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("HTTPS", self.proc.stderr_text())

    def test_plain_http_on_the_tls_port_gets_nothing(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=h.WAIT) as s:
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            data, _ = h.recv_until_closed(s)
        self.assertNotIn(b"status", data)

    def test_silent_client_is_cut_off_while_others_are_served(self):
        silent = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.addCleanup(silent.close)
        started = time.monotonic()
        conn = self.connection(self.first[0])
        self.assertEqual(self.get(conn)[0], 200)
        conn.close()
        data, _ = h.recv_until_closed(silent)  # request_timeout is 10 s
        self.assertEqual(data, b"")
        self.assertLess(time.monotonic() - started, 25)

    def test_renewed_certificate_is_served_without_a_restart(self):
        self.assertEqual(self.served_fingerprint(self.first[0]), self.der(self.first[0]))
        kept = self.connection(self.first[0])
        self.assertEqual(self.get(kept)[0], 200)
        # Renew: write the new pair in place (temporary file + rename, as an ACME client does).
        for source, target in ((self.second[1], self.key), (self.second[0], self.cert)):
            shutil.copy(source, target + ".tmp")
            os.replace(target + ".tmp", target)
        h.wait_until(lambda: self.served_fingerprint() == self.der(self.second[0]),
                     timeout=h.WAIT, what="the renewed certificate", interval=0.3)
        self.assertEqual(self.served_fingerprint(self.second[0]), self.der(self.second[0]))
        self.assertIn("TLS certificate reloaded", self.proc.stderr_text())
        # The connection opened before the renewal still works.
        self.assertEqual(self.get(kept)[0], 200)
        kept.close()

    def test_broken_renewal_keeps_the_working_certificate(self):
        with open(self.cert + ".tmp", "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        os.replace(self.cert + ".tmp", self.cert)
        # New connections make the server look at the files again.
        deadline = time.monotonic() + h.WAIT
        while time.monotonic() < deadline and "not reloaded" not in self.proc.stderr_text():
            self.assertEqual(self.served_fingerprint(self.first[0]), self.der(self.first[0]))
            time.sleep(0.3)
        self.assertIn("TLS certificate not reloaded", self.proc.stderr_text())
        self.assertEqual(self.served_fingerprint(self.first[0]), self.der(self.first[0]))

    def test_bad_certificate_at_start_is_one_clear_error(self):
        bad = h.run([h.CONTROL, "serve", "--data", h.init_data(os.path.join(self.work, "var2")),
                     "--listen-tls", f"127.0.0.1:{h.free_port()}", "--tls-cert", self.first[1],
                     "--tls-key", self.first[1]])
        self.assertEqual(bad.returncode, 1)
        self.assertIn(f"--tls-cert {self.first[1]}", bad.stderr)
        mismatch = h.run([h.CONTROL, "serve", "--data", h.init_data(os.path.join(self.work, "var3")),
                          "--listen-tls", f"127.0.0.1:{h.free_port()}", "--tls-cert",
                          self.first[0], "--tls-key", self.second[1]])
        self.assertEqual(mismatch.returncode, 1)
        self.assertIn(f"--tls-key {self.second[1]}", mismatch.stderr)
        self.assertIn("mismatch", mismatch.stderr)
        missing = h.run([h.CONTROL, "serve", "--listen-tls", "127.0.0.1:1"])
        self.assertEqual(missing.returncode, 2)
        self.assertIn("--tls-cert", missing.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
