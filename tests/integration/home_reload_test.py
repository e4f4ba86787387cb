#!/usr/bin/env python3
"""cloudlink-home applies changes live (issue 12): a running agent is told about `expose`,
`unexpose` and a hand-edited cloudlink.yaml (SIGHUP, as `systemctl reload` sends) and changes
only the tunnels of the changed service, with real processes on loopback:
client -> sshd (deploy/sshd/cloudlink.conf, keys from cloudlink-control authorized-keys)
-> cloudlink-home run -> a backend per service.

  * A 100 MB download through service A is held half-way while B is exposed and C unexposed
    through the CLI against the running agent: B serves within 5 s, C's tunnel port is closed,
    A's connection is never touched and completes byte-exact; a TLS connection through T
    (--terminate-tls, the agent's own terminator) opened before stays open through every
    reload and still echoes at the end.
  * A cloudlink.yaml that does not parse, sent with SIGHUP, is refused with one line naming
    the file and the field, and every tunnel keeps serving; a hand-edited target is applied
    to that service alone.
  * `status --json` lists each service with its tunnels, ports and states.
  * What systemd is told (a NOTIFY_SOCKET of the test's own, WATCHDOG_USEC set): READY=1 with
    a STATUS= line, RELOADING=1 then READY=1 around each reload, watchdog pings, STOPPING=1.

sshd is set up as home_tunnel_test.py does. Skipped only when sshd cannot run here.
"""
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import home_enroll_test as enroll  # noqa: E402
import home_tunnel_test as tunnel  # noqa: E402
import sshd_tunnel_test as sshd_setup  # noqa: E402

BLOB = os.urandom(100 << 20)


def send_blob(backend, conn):
    """Sends BLOB, then FIN; then waits for the client to close."""
    conn.sock.sendall(BLOB)
    conn.sock.shutdown(socket.SHUT_WR)
    conn.read_to_end()


def tagged_echo(tag):
    """Answers each connection with tag, then echoes (so a client knows which backend it got)."""
    def handler(backend, conn):
        conn.sock.sendall(tag)
        h.echo_handler(backend, conn)
    return handler


def echo_through(port, tag, timeout=h.WAIT):
    """Connects to port, expects tag, then an echo of a line; returns True when both came."""
    with h.connect(port, timeout=timeout) as s:
        got = h.recv_exactly(s, len(tag))
        if got != tag:
            return False
        s.sendall(b"ping\n")
        return h.recv_exactly(s, 5) == b"ping\n"


def serves(port, tag):
    try:
        return echo_through(port, tag, timeout=2)
    except (OSError, AssertionError):
        return False


class NotifySocket:
    """A datagram socket standing in for systemd's notify socket; records each message."""

    def __init__(self, owner, folder):
        self.path = os.path.join(folder, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        h.on_cleanup(owner, self.close)

    def _read(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append(data.decode())

    def since(self, start):
        with self._lock:
            return list(self.messages[start:])

    def count(self):
        with self._lock:
            return len(self.messages)

    def wait_for(self, field, start=0, what=None):
        """Waits for a message holding field (e.g. "READY=1") from index start; returns its
        index."""
        def found():
            for i, message in enumerate(self.since(start)):
                if field in message.split("\n"):
                    return start + i + 1
            return None
        return h.wait_until(found, h.WAIT, what or field) - 1

    def close(self):
        self._stop.set()
        self._thread.join(h.WAIT)
        self.sock.close()


@unittest.skipIf(sshd_setup._skip_reason() is not None, sshd_setup._skip_reason() or "")
class HomeReloadTest(tunnel.HomeTunnelTest):

    @classmethod
    def setUpClass(cls):
        h.require_binaries(control=True, dataplane=False)
        if not enroll.HOME or not os.access(enroll.HOME, os.X_OK):
            raise AssertionError("set CLOUDLINK_HOME to the built cloudlink-home")
        cls.work = h.temp_dir(cls, "cloudlink-reload.")
        os.chmod(cls.work, 0o755)
        cls.setup_vps(cls)

    # The parent's end-to-end test needs the dataplane: not run here.
    test_curl_reaches_the_home_service_through_its_tunnels = None

    def port_of(self, name):
        return int(self.control.routes_on_disk()[name]["targets"][0].rsplit(":", 1)[1])

    def status_json(self, config):
        r = enroll.home("status", "--json", "--config", config)
        doc = json.loads(r.stdout)
        return r.returncode, {s["hostname"]: s for s in doc["services"]}, doc

    def test_expose_unexpose_and_sighup_reach_the_running_agent(self):
        a_backend = h.TcpBackend(self, send_blob)
        b_backend = h.TcpBackend(self, tagged_echo(b"B1\n"))
        b2_backend = h.TcpBackend(self, tagged_echo(b"B2\n"))
        c_backend = h.TcpBackend(self, tagged_echo(b"C1\n"))
        t_backend = h.TcpBackend(self, tagged_echo(b"T1\n"))
        folder = h.temp_dir(self)
        key = os.path.join(folder, "home_key")
        config = os.path.join(folder, "cloudlink.yaml")
        self.home_ok("keygen", "--output", key)
        self.home_ok("register", "--server", f"http://127.0.0.1:{self.control.port}",
                     "--username", "alice", "--password-stdin", "--public-key", key + ".pub",
                     "--private-key", key, "--config", config, "--name", "reload",
                     stdin="alice-pw-1\n")
        out = self.home_ok("expose", "a.test", "--to", a_backend.address, "--config", config)
        self.assertIn("no agent is running", out)
        self.home_ok("expose", "c.test", "--to", c_backend.address, "--config", config)
        self.home_ok("expose", "t.test", "--to", t_backend.address, "--terminate-tls",
                     "--config", config)
        a_port, c_port, t_port = (self.port_of(n) for n in ("a.test", "c.test", "t.test"))
        # T's certificate where the agent looks for it (as `cert` would have put it).
        cert_dir = os.path.join(folder, "certificates", "t.test")
        os.makedirs(cert_dir, mode=0o700)
        cert, key = h.make_cert(cert_dir, "t.test")
        os.rename(cert, os.path.join(cert_dir, "fullchain.pem"))
        os.chmod(key, 0o600)

        notify = NotifySocket(self, folder)
        saved = dict(os.environ)
        os.environ.update(NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000")
        try:
            agent = h.Process(self, [enroll.HOME, "--config", config, "run"], "agent", folder)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        h.wait_for_listen(a_port, agent, timeout=30)
        h.wait_for_listen(c_port, agent, timeout=30)
        h.wait_for_listen(t_port, agent, timeout=30)
        self.assertTrue(serves(c_port, b"C1\n"))
        tls = ssl.create_default_context(cafile=os.path.join(cert_dir, "fullchain.pem"))
        t_client = tls.wrap_socket(h.connect(t_port), server_hostname="t.test")
        self.assertEqual(h.recv_exactly(t_client, 3), b"T1\n")
        ready = notify.wait_for("READY=1")
        self.assertIn("STATUS=3 of 3 tunnel(s) up for 3 service(s)",
                      "\n".join(notify.since(0)))
        # Pings every half WATCHDOG_USEC at least, from the main loop.
        pings = notify.since(0).count("WATCHDOG=1")
        h.wait_until(lambda: notify.since(0).count("WATCHDOG=1") >= pings + 3, h.WAIT,
                     "three more watchdog pings")

        # A's download starts and is held after its first megabyte (the client stops
        # reading; the agent's pump and the backend's send wait on full buffers).
        a_client = h.connect(a_port, timeout=60)
        digest = hashlib.sha256()
        first = h.recv_exactly(a_client, 1 << 20)
        digest.update(first)
        a_backend.wait_connections(1)

        out = self.home_ok("expose", "b.test", "--to", b_backend.address, "--config", config)
        self.assertRegex(out, r"told the running agent \(pid %d\) to reload" % agent.popen.pid)
        told = time.monotonic()
        b_port = self.port_of("b.test")
        h.wait_until(lambda: serves(b_port, b"B1\n"), 5, "b.test served through its tunnel")
        self.assertLess(time.monotonic() - told, 5.0)
        reloading = notify.wait_for("RELOADING=1", ready + 1)
        notify.wait_for("READY=1", reloading + 1, "READY=1 after the reload")

        out = self.home_ok("unexpose", "c.test", "--config", config)
        self.assertIn("told the running agent", out)
        h.wait_refused(c_port, timeout=10)

        code, services, doc = self.status_json(config)
        self.assertEqual(code, 0, doc)
        self.assertTrue(doc["agent"]["running"])
        self.assertEqual(doc["agent"]["pid"], agent.popen.pid)
        self.assertEqual(set(services), {"a.test", "b.test", "t.test"})
        self.assertEqual([t["tunnel_port"] for t in services["b.test"]["tunnels"]], [b_port])
        self.assertEqual(services["b.test"]["tunnels"][0]["state"], "up")
        self.assertEqual(services["a.test"]["tunnels_up"], 1)
        self.assertEqual(services["a.test"]["tunnels"][0]["connections_open"], 1)
        self.assertIsNone(services["a.test"]["certificate"])
        expiry = services["t.test"]["certificate"]["not_after"]
        self.assertAlmostEqual(expiry, time.time() + 2 * 86400, delta=3600)

        # A broken file on SIGHUP: refused with the reason, everything keeps serving.
        with open(config) as f:
            good = f.read()
        with open(config, "w") as f:
            f.write(good.replace("services:", "services: [", 1))
        log_before = len(agent.stderr_text())
        agent.send_signal(signal.SIGHUP)
        refused = h.wait_until(
            lambda: re.search(r"reload refused: (.*)", agent.stderr_text()[log_before:]),
            h.WAIT, "the refusal in the agent's log")
        self.assertRegex(refused.group(1),
                         # a YAML syntax error is located by line and column
                         re.escape(config) + r":\d+:\d+: .+; the 3 running tunnels stay as "
                         r"they are\"?$")
        self.assertTrue(serves(b_port, b"B1\n"))
        # A field with a bad value names the field.
        with open(config, "w") as f:
            f.write(good.replace(f'"{b_backend.address}"', '"nowhere"'))
        log_before = len(agent.stderr_text())
        agent.send_signal(signal.SIGHUP)
        refused = h.wait_until(
            lambda: re.search(r"reload refused: (.*)", agent.stderr_text()[log_before:]),
            h.WAIT, "the refusal in the agent's log")
        self.assertIn(f"{config}: services[2].target:", refused.group(1))
        self.assertTrue(serves(b_port, b"B1\n"))

        # A hand-edited target, then `systemctl reload` (SIGHUP): B alone moves to B2.
        with open(config, "w") as f:
            f.write(good.replace(f'"{b_backend.address}"', f'"{b2_backend.address}"'))
        agent.send_signal(signal.SIGHUP)
        h.wait_until(lambda: serves(b_port, b"B2\n"), 5, "b.test served by the new target")
        self.assertIn("1 tunnel started, 1 stopped, 2 kept", agent.stderr_text())

        # A's download, held through all of it, completes byte-exact.
        a_client.settimeout(60)
        while True:
            chunk = a_client.recv(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
        a_client.close()
        self.assertEqual(digest.hexdigest(), hashlib.sha256(BLOB).hexdigest())
        self.assertEqual(len(a_backend.connections), 1)
        # T's TLS connection, open through every reload, still echoes.
        t_client.sendall(b"ping\n")
        self.assertEqual(h.recv_exactly(t_client, 5), b"ping\n")
        t_client.close()
        # A's and T's tunnels never went down: one "up" line each in the whole log.
        log = agent.stderr_text()
        self.assertEqual(len(re.findall(r"tunnel a\.test#0 .*: up", log)), 1, log)
        self.assertEqual(len(re.findall(r"tunnel t\.test#0 .*: up", log)), 1, log)
        self.assertTrue(agent.alive())
        agent.send_signal(signal.SIGTERM)
        self.assertEqual(agent.wait(), 0, agent.stderr_text())
        notify.wait_for("STOPPING=1")
        code, _, doc = self.status_json(config)
        self.assertEqual(code, 3)
        self.assertFalse(doc["agent"]["running"])


if __name__ == "__main__":
    unittest.main()
