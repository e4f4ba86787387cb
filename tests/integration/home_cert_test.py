#!/usr/bin/env python3
"""cloudlink-home cert: a certificate for a home's name from pebble, validated the production
way: pebble's HTTP-01 request goes to the dataplane's --listen-http port, which routes the name
(a temporary mapping the agent asked control for) to a tunnel port, where sshd forwards it to
the `cert` process's own challenge responder. The chain verifies against pebble's root and
curl --cacert then reaches the home service, which serves it, through dataplane -> sshd ->
`cloudlink-home run`. No temporary mapping is left, after success or failure.

Failures: pebble refusing the challenge (a wrong answer from another address), the agent
killed mid-order (the mapping it left is taken back at the next start of `run`), control
unreachable before and during an order. Each is a clear error, and a certificate already
installed stays as it was. sshd is set up as home_tunnel_test.py does.
"""
import http.client
import os
import signal
import socket
import ssl
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import control_api  # noqa: E402
import harness as h  # noqa: E402
import home_enroll_test as enroll  # noqa: E402
import sshd_tunnel_test as sshd_setup  # noqa: E402
from control_acme_test import WrongAnswers  # noqa: E402
import home_tunnel_test  # noqa: E402
from pebble import Pebble  # noqa: E402

NAME = "app.test"


class PlainHello(BaseHTTPRequestHandler):
    """The home service behind --terminate-tls: plain HTTP/1.1 with keep-alive."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"plain hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def read(path):
    with open(path, "rb") as f:
        return f.read()


@unittest.skipIf(sshd_setup._skip_reason() is not None, sshd_setup._skip_reason() or "")
class HomeCertTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        h.require_binaries(control=True, dataplane=True)
        if not enroll.HOME or not os.access(enroll.HOME, os.X_OK):
            raise AssertionError("set CLOUDLINK_HOME to the built cloudlink-home")
        cls.work = h.temp_dir(cls, "cloudlink-cert.")
        os.chmod(cls.work, 0o755)
        sshd_setup._ensure_user(cls, "cloudlink")
        h.run(["usermod", "-p", "*", "cloudlink"])
        sshd_setup._ensure_user(cls, "cloudlink-keys")
        bin_dir = sshd_setup._root_owned_bin_dir(cls)
        cls.key_command = os.path.join(bin_dir, "cloudlink-control")
        with open(h.CONTROL, "rb") as src, open(cls.key_command, "wb") as dst:
            dst.write(src.read())
        os.chmod(cls.key_command, 0o755)
        cls.ssh_port = h.free_port()
        base = sshd_setup.SshdTunnelTest.pick_port_base()
        cls.data = os.path.join(cls.work, "data")
        cls.control = control_api.ControlServer(
            cls, cls.work, data=cls.data,
            extra_args=["--ssh-host", "127.0.0.1", "--ssh-port", str(cls.ssh_port),
                        "--port-range", f"{base}-{base + 9}"])
        r = cls.control.cli("users", "add", "alice", "--password-stdin", stdin="alice-pw-1\n")
        control_api.check(r.returncode == 0, f"users add: {r.stderr}")
        home_tunnel_test.HomeTunnelTest.share_state_with_key_command.__func__(cls)
        home_tunnel_test.HomeTunnelTest.start_sshd.__func__(cls)
        cls.dp = h.Dataplane(cls, cls.work, data=cls.data, http_listeners=1)
        cls.ca = Pebble(cls, cls.work, http_port=cls.dp.http_ports[0])
        cls.register_home()

    @classmethod
    def register_home(cls):
        cls.folder = os.path.join(cls.work, "home")
        os.makedirs(cls.folder)
        key = os.path.join(cls.folder, "home_key")
        cls.config = os.path.join(cls.folder, "cloudlink.yaml")
        for args, stdin in [
                (["keygen", "--output", key], None),
                (["register", "--server", f"http://127.0.0.1:{cls.control.port}", "--username",
                  "alice", "--password-stdin", "--public-key", key + ".pub", "--private-key", key,
                  "--config", cls.config], "alice-pw-1\n")]:
            r = enroll.home(*args, stdin=stdin)
            control_api.check(r.returncode == 0, f"cloudlink-home {args[0]}: {r.stderr}")

    def home(self, *args):
        return enroll.home(*args, "--config", self.config)

    def cert(self, name, *extra):
        return self.home("cert", name, "--directory", self.ca.directory, "--ca-bundle",
                         self.ca.https_ca, "--email", "me@example.org", *extra)

    def cert_process(self, name, tag):
        return h.Process(self, [enroll.HOME, "cert", name, "--config", self.config,
                                "--directory", self.ca.directory, "--ca-bundle",
                                self.ca.https_ca], tag, self.work)

    def paths(self, name):
        folder = os.path.join(self.folder, "certificates", name)
        return os.path.join(folder, "fullchain.pem"), os.path.join(folder, "key.pem")

    def install_old_certificate(self, name):
        """A working certificate for name before the order (self-signed, like a last one)."""
        chain, key = self.paths(name)
        os.makedirs(os.path.dirname(chain), exist_ok=True)
        cert, made_key = h.make_cert(os.path.dirname(chain), name)
        os.rename(cert, chain)
        os.rename(made_key, key)
        return read(chain), read(key)

    def assert_no_temporary_mapping(self, name, mapped=False):
        routes = self.control.routes_on_disk()
        if mapped:
            self.assertIsNone(routes[name]["http_target"], routes[name])
        else:
            self.assertNotIn(name, routes)
        pending = os.path.join(self.folder, "cert-pending")
        records = [f for f in os.listdir(pending) if f.endswith(".json")]
        self.assertEqual(records, [])

    def wrong_responder(self, name, address):
        """pebble resolves name to address, where every challenge gets a wrong answer."""
        wrong = ThreadingHTTPServer((address, self.dp.http_ports[0]), WrongAnswers)
        threading.Thread(target=wrong.serve_forever, daemon=True).start()
        h.on_cleanup(self, wrong.server_close)
        h.on_cleanup(self, wrong.shutdown)
        self.ca.add_a(name, address)

    def silent_responder(self, name, address):
        """pebble resolves name to address, where a listener never answers: the order waits."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, self.dp.http_ports[0]))
        sock.listen(16)
        h.on_cleanup(self, sock.close)
        self.ca.add_a(name, address)

    # ---- the happy path ----

    def test_cert_for_an_exposed_service_then_curl_with_it(self):
        service_port = h.free_port()
        r = self.home("expose", NAME, "--to", f"127.0.0.1:{service_port}")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cert(NAME)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"certificate for {NAME} valid until", r.stdout)
        self.assertIn("added to the existing mapping", r.stderr)
        chain, key = self.paths(NAME)
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(os.path.join(self.folder, "acme-account.pem")).st_mode & 0o777,
                         0o600)
        v = h.run(["openssl", "verify", "-CAfile", self.ca.root, "-untrusted", chain, chain])
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        # pebble's request came in on :80 and went to a tunnel port (the temporary HTTP target).
        entry = self.dp.wait_log(lambda e: e["sni"] == NAME and e["result"] == "ok",
                                 "pebble's validation request in the access log")
        self.assertTrue(entry["target"].startswith("127.0.0.1:"), entry)
        self.assert_no_temporary_mapping(NAME, mapped=True)
        with open(self.config) as f:
            saved = f.read()
        self.assertIn(self.ca.directory, saved)

        # The home service serves the new certificate; curl trusts only pebble's root.
        h.Process(self, ["openssl", "s_server", "-accept", f"127.0.0.1:{service_port}", "-cert",
                         chain, "-cert_chain", chain, "-key", key, "-www", "-quiet"],
                  "s_server", self.work)
        h.wait_for_listen(service_port)
        agent = h.Process(self, [enroll.HOME, "--config", self.config, "run"], "agent",
                          self.folder)
        port = self.dp.port
        tries = []

        def curl():
            tries.append(h.run(["curl", "-sS", "--max-time", "10", "--cacert", self.ca.root,
                                "--resolve", f"{NAME}:{port}:127.0.0.1",
                                f"https://{NAME}:{port}/"]))
            return tries[-1] if tries[-1].returncode == 0 else None
        try:
            r = h.wait_until(curl, 30, "curl --cacert pebble's root through the tunnel")
        except AssertionError:
            raise AssertionError(f"{tries[-1].stderr}; agent: {agent.stderr_text()}") from None
        self.assertIn(f"s_server -accept 127.0.0.1:{service_port}", r.stdout)
        agent.stop()
        r = self.home("unexpose", NAME)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_cert_for_a_name_not_exposed_yet(self):
        name = "fresh.test"
        r = self.cert(name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("a new mapping", r.stderr)
        chain, _ = self.paths(name)
        v = h.run(["openssl", "verify", "-CAfile", self.ca.root, "-untrusted", chain, chain])
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assert_no_temporary_mapping(name)

    def test_run_takes_back_leftovers_then_replaces_a_self_signed_certificate(self):
        # A crash leftover for one name, and an exposed service whose certificate is not a CA's.
        left = "left.test"
        self.silent_responder(left, "127.0.0.4")
        proc = self.cert_process(left, "cert-left")
        h.wait_until(lambda: "temporary mapping: http://" in proc.stderr_text(), 60,
                     "the temporary mapping")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.assertIn(left, self.control.routes_on_disk())
        name = "renew.test"
        r = self.home("expose", name, "--to", f"127.0.0.1:{h.free_port()}")
        self.assertEqual(r.returncode, 0, r.stderr)
        old = self.install_old_certificate(name)

        agent = h.Process(self, [enroll.HOME, "--config", self.config, "run"], "agent-renew",
                          self.folder)
        h.wait_until(lambda: f"new certificate for {name}" in agent.stderr_text()
                     or not agent.alive(), 90, "run's order")
        log = agent.stderr_text()
        self.assertIn(f"removed the temporary mapping of {left} left by an interrupted order", log)
        self.assertIn(f"cert: new certificate for {name}", log)
        h.wait_until(lambda: f"the certificate for {name} is valid until" in agent.stderr_text(),
                     30, "the renewal time logged")
        chain, key = self.paths(name)
        self.assertNotEqual((read(chain), read(key)), old)
        v = h.run(["openssl", "verify", "-CAfile", self.ca.root, "-untrusted", chain, chain])
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assert_no_temporary_mapping(left)
        self.assert_no_temporary_mapping(name, mapped=True)
        agent.stop()
        r = self.home("unexpose", name)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_terminate_tls_serves_the_certificate_and_picks_up_a_renewal(self):
        name = "tls.test"
        service = ThreadingHTTPServer(("127.0.0.1", 0), PlainHello)
        threading.Thread(target=service.serve_forever, daemon=True).start()
        h.on_cleanup(self, service.server_close)
        h.on_cleanup(self, service.shutdown)
        r = self.home("expose", name, "--to", f"127.0.0.1:{service.server_address[1]}",
                      "--terminate-tls")
        self.assertEqual(r.returncode, 0, r.stderr)
        h.on_cleanup(self, self.home, "unexpose", name)
        r = self.cert(name)
        self.assertEqual(r.returncode, 0, r.stderr)
        agent = h.Process(self, [enroll.HOME, "--config", self.config, "run"], "agent-tls",
                          self.folder)
        tunnel = self.control.routes_on_disk()[name]["targets"][0]
        h.wait_for_listen(int(tunnel.rsplit(":", 1)[1]), agent, timeout=30)
        port = self.dp.port
        r = h.run(["curl", "-sS", "--max-time", "10", "--cacert", self.ca.root, "--resolve",
                   f"{name}:{port}:127.0.0.1", f"https://{name}:{port}/"])
        self.assertEqual(r.returncode, 0, r.stderr + agent.stderr_text())
        self.assertEqual(r.stdout, "plain hello")

        # A connection kept open across a renewal keeps its certificate and keeps working;
        # a new one gets the renewed certificate.
        ctx = ssl.create_default_context(cafile=self.ca.root)

        def connect():
            conn = http.client.HTTPSConnection(name, port, context=ctx, timeout=h.WAIT)
            conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                        server_hostname=name)
            return conn

        def get(conn):
            conn.request("GET", "/")
            return conn.getresponse().read()
        held = connect()
        self.assertEqual(get(held), b"plain hello")
        first = held.sock.getpeercert(binary_form=True)
        r = self.cert(name)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(1.5)  # the terminator looks at the files at most once a second
        fresh = connect()
        self.assertEqual(get(fresh), b"plain hello")
        self.assertNotEqual(fresh.sock.getpeercert(binary_form=True), first)
        self.assertEqual(get(held), b"plain hello")
        self.assertEqual(held.sock.getpeercert(binary_form=True), first)
        held.close()
        fresh.close()
        self.assertIn(f"TLS certificate reloaded from {self.paths(name)[0]}", agent.stderr_text())
        agent.stop()

    # ---- failures ----

    def test_refused_challenge_keeps_the_old_certificate(self):
        name = "refused.test"
        self.wrong_responder(name, "127.0.0.2")
        old = self.install_old_certificate(name)
        r = self.cert(name)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"cert: no certificate for {name}", r.stderr)
        self.assertIn(f"http-01 for {name} failed", r.stderr)
        self.assertEqual((read(self.paths(name)[0]), read(self.paths(name)[1])), old)
        self.assert_no_temporary_mapping(name)

    def test_agent_killed_mid_order_mapping_taken_back_at_next_start(self):
        name = "killed.test"
        self.silent_responder(name, "127.0.0.3")
        old = self.install_old_certificate(name)
        proc = self.cert_process(name, "cert-killed")
        h.wait_until(lambda: "temporary mapping: http://" in proc.stderr_text(), 60,
                     "the temporary mapping")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.assertIn(name, self.control.routes_on_disk())  # left behind by the crash
        self.assertEqual((read(self.paths(name)[0]), read(self.paths(name)[1])), old)
        # The next start takes it back: `cert` for another name does it first.
        r = self.cert("after-kill.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"removed the temporary mapping of {name} left by an interrupted order",
                      r.stderr)
        self.assert_no_temporary_mapping(name)
        self.assert_no_temporary_mapping("after-kill.test")
        self.assertEqual((read(self.paths(name)[0]), read(self.paths(name)[1])), old)

    def test_sigterm_mid_order_takes_the_mapping_back(self):
        name = "stopped.test"
        self.silent_responder(name, "127.0.0.5")
        old = self.install_old_certificate(name)
        proc = self.cert_process(name, "cert-stopped")
        h.wait_until(lambda: "temporary mapping: http://" in proc.stderr_text(), 60,
                     "the temporary mapping")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(15), 1, proc.stderr_text())
        self.assertIn(f"temporary mapping of {name} removed", proc.stderr_text())
        self.assertIn(f"cert: no certificate for {name}", proc.stderr_text())
        self.assert_no_temporary_mapping(name)
        self.assertEqual((read(self.paths(name)[0]), read(self.paths(name)[1])), old)

    def test_control_unreachable(self):
        name = "offline.test"
        old = self.install_old_certificate(name)
        self.control.proc.stop()
        try:
            r = self.cert(name)
        finally:
            self.control.start()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("control unreachable", r.stderr)
        self.assertEqual((read(self.paths(name)[0]), read(self.paths(name)[1])), old)
        self.assert_no_temporary_mapping(name)

        # Control gone while the CA validates: the certificate arrives, the mapping cannot be
        # taken back (a clear error, recorded), and the next order takes it back.
        proc = self.cert_process(name, "cert-offline")
        h.wait_until(lambda: "temporary mapping: http://" in proc.stderr_text(), 60,
                     "the temporary mapping")
        proc.send_signal(signal.SIGSTOP)
        self.control.proc.stop()
        proc.send_signal(signal.SIGCONT)
        try:
            self.assertEqual(proc.wait(60), 1, proc.stderr_text())
        finally:
            self.control.start()
        log = proc.stderr_text()
        self.assertIn("the certificate is installed, but the temporary mapping of "
                      f"{name} could not be removed", log)
        self.assertIn("control unreachable", log)
        chain = self.paths(name)[0]
        v = h.run(["openssl", "verify", "-CAfile", self.ca.root, "-untrusted", chain, chain])
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertIn(name, self.control.routes_on_disk())
        r = self.cert("after-offline.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"removed the temporary mapping of {name}", r.stderr)
        self.assert_no_temporary_mapping(name)


if __name__ == "__main__":
    unittest.main()
