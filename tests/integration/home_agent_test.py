"""cloudlink-home against a real OpenSSH sshd with deploy/sshd/cloudlink.conf.

The sshd fixture is sshd_tunnel_test.py's (root, /usr/sbin/sshd on a free loopback port, the
drop-in, cloudlink-control authorized-keys over a temporary --data); this file adds a home
whose key cloudlink-home made, and runs the agent against it: keygen, config errors, echo and
half-close through the reverse ports, 100 MB, 50 concurrent clients, two connections per
service, the agent's sshd child killed, a changed host key, print-ssh-command, status.

  CLOUDLINK_HOME     path to cloudlink-home
  CLOUDLINK_CONTROL  path to cloudlink-control
"""
import hashlib
import os
import re
import signal
import socket
import stat
import subprocess
import threading
import unittest

import harness
import sshd_tunnel_test
from harness import WAIT

HOME = os.environ.get("CLOUDLINK_HOME", "")
_FIXTURE = sshd_tunnel_test.SshdTunnelTest.__dict__
_SKIP = sshd_tunnel_test._skip_reason()


def echo_handler(backend, conn):
    """Echoes every byte, then answers the client's FIN with its own."""
    while True:
        chunk = conn.sock.recv(1 << 20)
        if not chunk:
            break
        conn.note(chunk)
        conn.sock.sendall(chunk)
    conn.sock.shutdown(socket.SHUT_WR)


def count_then_answer_handler(backend, conn):
    """Reads to the client's FIN, then answers with the byte count (half-close both ways)."""
    conn.read_to_end()
    conn.sock.sendall(f"got {conn.received_length}\n".encode())


def descendants(pid):
    """Every process below pid, read from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@unittest.skipIf(_SKIP is not None, _SKIP or "")
class HomeAgentTest(unittest.TestCase):
    # sshd_tunnel_test's fixture, reused as is (its tests are not inherited).
    control_ok = _FIXTURE["control_ok"]
    create_home = _FIXTURE["create_home"]
    pick_port_base = _FIXTURE["pick_port_base"]
    start_sshd = _FIXTURE["start_sshd"]
    ssh_argv = _FIXTURE["ssh_argv"]
    _sshd_fixture = _FIXTURE["setUpClass"]

    @classmethod
    def setUpClass(cls):
        if not HOME or not os.access(HOME, os.X_OK):
            raise AssertionError("set CLOUDLINK_HOME to the built cloudlink-home")
        cls._sshd_fixture.__func__(cls)
        cls.key = os.path.join(cls.work, "agent_key")
        proc = harness.run([HOME, "keygen", "--output", cls.key])
        assert proc.returncode == 0, proc.stderr
        cls.home = cls.create_home("alice", "C", proc.stdout.strip())
        cls.ports = cls.home["ports"]
        with open(os.path.join(cls.work, "host_key.pub")) as f:
            cls.host_key = " ".join(f.read().split()[:2])

    # ---- helpers ----

    def write_config(self, services, known_host_key=None, key=None, name="cloudlink.yaml"):
        path = os.path.join(self.work, name)
        lines = ["ssh:", "  host: 127.0.0.1", f"  port: {self.ssh_port}", "  user: cloudlink",
                 f"  private_key: {key or self.key}",
                 f"  known_host_key: \"{known_host_key or self.host_key}\"", "services:"]
        for s in services:
            lines += [f"  - hostname: {s['hostname']}", f"    target: \"{s['target']}\"",
                      f"    tunnel_ports: [{', '.join(str(p) for p in s['ports'])}]",
                      f"    connections: {s.get('connections', 1)}"]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        return path

    def home_cli(self, *args, config=None, env=None):
        argv = [HOME] + (["--config", config] if config else []) + list(args)
        return harness.run(argv, env=env)

    def start_agent(self, config, ports, name="agent", extra=()):
        agent = harness.Process(self, [HOME, "--config", config, "run", *extra], name, self.work)
        for port in ports:
            harness.wait_for_listen(port, agent, timeout=30)
        return agent

    def echo_service(self, port, connections=1, tunnel_ports=None, by_name=False):
        backend = harness.TcpBackend(self, echo_handler)
        ports = tunnel_ports or [port]
        # by_name: the agent resolves "localhost" itself (and, where it also names ::1, on
        # which nothing listens, falls back to the next address).
        target = f"localhost:{backend.port}" if by_name else backend.address
        config = self.write_config([{"hostname": "app.example.com", "target": target,
                                     "ports": ports, "connections": connections}])
        agent = self.start_agent(config, ports[:connections])
        return backend, agent, config

    def assert_echo(self, port, payload):
        with harness.connect(port) as s:
            sender = harness.send_in_thread(s, payload)
            digest, length, how = harness.hash_until_closed(s)
            sender.join(WAIT * 4)
        self.assertIsNone(sender.error)
        self.assertEqual((length, how), (len(payload), "eof"))
        self.assertEqual(digest, harness.sha256(payload))

    def echo_works(self, port):
        try:
            self.assert_echo(port, b"are you there?\n")
            return True
        except (AssertionError, OSError):
            return False

    # ---- keygen ----

    def test_keygen_writes_0600_and_refuses_to_overwrite(self):
        path = os.path.join(self.work, "kg")
        first = self.home_cli("keygen", "--output", path)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertRegex(first.stdout, r"^ssh-ed25519 [A-Za-z0-9+/]+=* cloudlink-home\n$")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path + ".pub") as f:
            self.assertEqual(f.read(), first.stdout)
        derived = harness.run(["ssh-keygen", "-y", "-f", path])
        self.assertEqual(derived.stdout.split()[:2], first.stdout.split()[:2])

        again = self.home_cli("keygen", "--output", path)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("exists (use --force", again.stderr)
        self.assertEqual(len(again.stderr.splitlines()), 1)
        with open(path + ".pub") as f:
            self.assertEqual(f.read(), first.stdout)
        forced = self.home_cli("keygen", "--output", path, "--force")
        self.assertEqual(forced.returncode, 0, forced.stderr)
        self.assertNotEqual(forced.stdout, first.stdout)

    # ---- config errors: one line naming the file, non-zero ----

    def assert_config_error(self, config, expected, env=None):
        proc = self.home_cli("run", config=config, env=env)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(expected, harness.logfmt(lines[0]).get("msg", lines[0]))

    def test_config_errors(self):
        missing = os.path.join(self.work, "nope.yaml")
        self.assert_config_error(missing, f"{missing}: cannot read: No such file")
        after = harness.run([HOME, "run", "--config", missing])  # the option after the command
        self.assertEqual((after.returncode, after.stderr.count("\n")), (2, 1), after.stderr)
        self.assertIn(f"{missing}: cannot read", after.stderr)
        env = dict(os.environ, CLOUDLINK_CONFIG=missing)
        self.assert_config_error(None, f"{missing}: cannot read", env=env)

        bad = os.path.join(self.work, "bad.yaml")
        with open(bad, "w") as f:
            f.write("ssh: {host: x\n")
        self.assert_config_error(bad, f"{bad}:2:1: end of map flow not found")
        with open(bad, "w") as f:
            f.write("ssh: {host: 127.0.0.1, private_key: k, known_host_key: \"ssh-ed25519 AAAA\"}\n"
                    "services:\n  - {hostname: a.example.com, tunnel_ports: [1]}\n")
        self.assert_config_error(bad, f"{bad}: services[0].target: missing")
        with open(bad, "w") as f:
            f.write("services:\n  - {hostname: a.example.com, target: x, tunnel_ports: [1]}\n")
        self.assert_config_error(bad, f'{bad}: services[0].target: expected HOST:PORT, got "x"')

        no_key = self.write_config([{"hostname": "a.example.com", "target": "127.0.0.1:9",
                                     "ports": [self.ports[0]]}],
                                   key=os.path.join(self.work, "no-such-key"), name="nokey.yaml")
        self.assert_config_error(no_key, "ssh.private_key:")
        not_a_key = os.path.join(self.work, "not-a-key")
        with open(not_a_key, "w") as f:
            f.write("hello\n")
        garbage = self.write_config([{"hostname": "a.example.com", "target": "127.0.0.1:9",
                                      "ports": [self.ports[0]]}], key=not_a_key, name="gk.yaml")
        self.assert_config_error(garbage, "not a private key")

    # ---- serving ----

    def test_echo_half_close_and_100_mb(self):
        port = self.ports[0]
        self.echo_service(port)
        self.assert_echo(port, b"hello through the tunnel\n")
        self.assert_echo(port, os.urandom(100 * 1024 * 1024))

        backend = harness.TcpBackend(self, count_then_answer_handler)
        port2 = self.ports[1]
        config = self.write_config([{"hostname": "b.example.com", "target": backend.address,
                                     "ports": [port2]}], name="halfclose.yaml")
        self.start_agent(config, [port2], "agent-halfclose")
        with harness.connect(port2) as s:
            s.sendall(b"x" * 100000)
            s.shutdown(socket.SHUT_WR)  # the service answers only after our FIN reaches it
            data, how = harness.recv_until_closed(s)
        self.assertEqual((data, how), (b"got 100000\n", "eof"))

    def test_50_concurrent_clients(self):
        port = self.ports[2]
        self.echo_service(port, by_name=True)
        payloads = [os.urandom(64 * 1024 + i) for i in range(50)]
        errors = []

        def client(payload):
            try:
                self.assert_echo(port, payload)
            except Exception as e:  # collected and reported below
                errors.append(repr(e))
        threads = [threading.Thread(target=client, args=(p,)) for p in payloads]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT * 4)
        self.assertEqual(errors, [])
        self.assertFalse(any(t.is_alive() for t in threads))

    def test_two_connections_both_bound_and_status(self):
        ports = [self.ports[3], self.ports[4]]
        backend, agent, config = self.echo_service(ports[0], connections=2, tunnel_ports=ports)
        for port in ports:
            self.assert_echo(port, b"via " + str(port).encode())

        def all_up():
            proc = self.home_cli("status", config=config)
            return proc.returncode == 0 and proc.stdout.count(": up since") == 2 and proc
        status = harness.wait_until(all_up, WAIT, "status to show both tunnels up")
        self.assertIn("agent: running", status.stdout)
        self.assertIn(f"app.example.com#0 127.0.0.1:{ports[0]} -> {backend.address}: up",
                      status.stdout)
        self.assertIn(f"app.example.com#1 127.0.0.1:{ports[1]}", status.stdout)

        agent.stop()
        stopped = self.home_cli("status", config=config)
        self.assertEqual(stopped.returncode, 3, stopped.stdout)
        self.assertIn("agent: not running", stopped.stdout)
        self.assertIn(": down since", stopped.stdout)

    def test_service_down_closes_the_client_and_logs_without_flooding(self):
        closed = harness.TcpBackend(self, echo_handler)
        closed.listener.close()  # nothing listens on this address any more
        port = self.ports[1]
        config = self.write_config([{"hostname": "app.example.com", "target": closed.address,
                                     "ports": [port]}])
        agent = self.start_agent(config, [port])
        for _ in range(20):
            with harness.connect(port) as s:
                self.assertEqual(harness.recv_until_closed(s)[0], b"")
        refused = [l for l in agent.stderr_text().splitlines() if "Connection refused" in l]
        self.assertEqual(len(refused), 1, agent.stderr_text())
        self.assertIn(f"connect {closed.address}: Connection refused", refused[0])
        harness.wait_until(
            lambda: "last error: connect" in self.home_cli("status", config=config).stdout,
            WAIT, "status to show the service's refusal")
        self.assertTrue(agent.alive())

    def test_status_shows_a_refused_bind_as_down(self):
        backend = harness.TcpBackend(self, echo_handler)
        foreign = self.base + 10  # home B's first port
        config = self.write_config([{"hostname": "app.example.com", "target": backend.address,
                                     "ports": [self.ports[5], foreign], "connections": 2}])
        self.start_agent(config, [self.ports[5]])

        def one_down():
            proc = self.home_cli("status", config=config)
            return "app.example.com#1" in proc.stdout and "refused to listen" in proc.stdout \
                and proc
        status = harness.wait_until(one_down, WAIT, "status to show the refused tunnel")
        line = [l for l in status.stdout.splitlines() if "#1" in l][0]
        self.assertRegex(line, r": (down|connecting) since")
        self.assertNotIn(foreign, harness.listening_ports())

    def test_reconnects_after_its_sshd_child_is_killed(self):
        port = self.ports[6]
        backend, agent, _ = self.echo_service(port)
        self.assert_echo(port, b"before\n")
        children = [p for p in descendants(self.sshd.popen.pid)]
        self.assertTrue(children, "no per-connection sshd process found")
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        harness.wait_until(lambda: agent.stderr_text().count(": up") >= 2, 30,
                           "the agent to report the tunnel up again")
        harness.wait_until(lambda: self.echo_works(port), WAIT, "echo through the new tunnel")
        self.assertTrue(agent.alive())
        self.assertIn(": down: connection lost", agent.stderr_text())

    def test_silent_server_is_noticed_and_a_held_port_retried(self):
        port = self.ports[9]
        backend = harness.TcpBackend(self, echo_handler)
        config = self.write_config([{"hostname": "app.example.com", "target": backend.address,
                                     "ports": [port]}])
        agent = self.start_agent(config, [port], extra=["--keepalive", "1"])
        self.assert_echo(port, b"before\n")
        # Stopped, the per-connection sshd processes answer nothing (the kernel still ACKs),
        # and their listener keeps holding the port.
        stopped = descendants(self.sshd.popen.pid)
        self.assertTrue(stopped)

        def release():
            for pid in stopped:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        self.addCleanup(release)
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        harness.wait_until(lambda: "no answer from the server for 3.5 s" in agent.stderr_text(),
                           WAIT, "the agent to notice the silent server")
        harness.wait_until(lambda: "refused to listen on" in agent.stderr_text(), WAIT,
                           "the agent to retry while the old listener holds the port")
        release()
        harness.wait_until(lambda: self.echo_works(port), 40, "echo through the new tunnel")

    def test_changed_host_key_is_refused(self):
        other = os.path.join(self.work, "other_host_key")
        if not os.path.exists(other):
            sshd_tunnel_test._keygen(other)
        with open(other + ".pub") as f:
            wrong = " ".join(f.read().split()[:2])
        port = self.ports[7]
        config = self.write_config([{"hostname": "app.example.com", "target": "127.0.0.1:9",
                                     "ports": [port]}], known_host_key=wrong)
        agent = harness.Process(self, [HOME, "--config", config, "run"], "agent-badkey", self.work)
        self.assertEqual(agent.wait(30), 3, agent.stderr_text())
        refusals = [l for l in agent.stderr_text().splitlines() if "REFUSING" in l]
        self.assertEqual(len(refusals), 1, agent.stderr_text())
        self.assertIn("host key", refusals[0])
        self.assertNotIn(port, harness.listening_ports())

    def test_print_ssh_command_line_serves_too(self):
        backend = harness.TcpBackend(self, echo_handler)
        port = self.ports[8]
        config = self.write_config([{"hostname": "app.example.com", "target": backend.address,
                                     "ports": [port]}])
        proc = self.home_cli("print-ssh-command", "app.example.com", config=config)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertEqual(len(lines), 1)
        self.assertIn(f"-R 127.0.0.1:{port}:{backend.address}", lines[0])
        self.assertIn("ExitOnForwardFailure=yes", lines[0])
        ssh = harness.Process(self, ["bash", "-c", "exec " + lines[0]], "plain-ssh", self.work)
        harness.wait_for_listen(port, ssh, timeout=30)
        self.assert_echo(port, b"plain ssh\n")

        unknown = self.home_cli("print-ssh-command", "nope.example.com", config=config)
        self.assertNotEqual(unknown.returncode, 0)
        self.assertIn("no service with hostname nope.example.com", unknown.stderr)

    # ---- the whole path ----

    def test_https_through_dataplane_sshd_and_agent(self):
        if not harness.DATAPLANE:
            self.skipTest("CLOUDLINK_DATAPLANE is not set")
        cert, key = harness.make_cert(self.work, "app.test")
        _, s_port = harness.start_s_server(self, self.work, cert, key)
        port = self.ports[9]
        config = self.write_config([{"hostname": "app.test", "target": f"127.0.0.1:{s_port}",
                                     "ports": [port]}])
        self.start_agent(config, [port])
        # The dataplane's route table is its own --data: the sshd fixture's stays as it is.
        routes = os.path.join(self.work, "routes-data")
        os.makedirs(routes, exist_ok=True)
        harness.routes_add(self, routes, "app.test", [f"127.0.0.1:{port}"])
        dataplane = harness.Dataplane(self, self.work, data=routes)
        r = harness.curl("app.test", dataplane.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        # s_server -www prints its own command line: the page came from the home's server.
        self.assertIn(f"s_server -accept 127.0.0.1:{s_port}", r.stdout)
        entry = dataplane.wait_log(lambda e: e["sni"] == "app.test", "curl's access log line")
        self.assertEqual((entry["result"], entry["target"]), ("ok", f"127.0.0.1:{port}"))


    def test_100_mb_download_and_50_clients_through_the_whole_path(self):
        """curl -> dataplane -> sshd -> cloudlink-home (2 connections) -> openssl s_server -WWW:
        a 100 MB file arrives byte-exact, and 50 concurrent clients each get their own page."""
        if not harness.DATAPLANE:
            self.skipTest("CLOUDLINK_DATAPLANE is not set")
        site = os.path.join(self.work, "site")
        os.makedirs(site, exist_ok=True)
        cert, key = harness.make_cert(site, "big.test")
        blob = os.urandom(100 << 20)
        with open(os.path.join(site, "big.bin"), "wb") as f:
            f.write(blob)
        pages = {f"page{i}.txt": f"page {i} of the home service\n" * (i + 1) for i in range(50)}
        for name, text in pages.items():
            with open(os.path.join(site, name), "w") as f:
                f.write(text)
        s_port = harness.free_port()
        # -WWW serves files below its working directory, one connection at a time.
        s_server = harness.Process(self, ["openssl", "s_server", "-accept",
                                          f"127.0.0.1:{s_port}", "-cert", cert, "-key", key,
                                          "-WWW", "-quiet"], f"s_server-www-{s_port}", site)
        harness.wait_for_listen(s_port, s_server)
        ports = [self.ports[1], self.ports[2]]
        config = self.write_config([{"hostname": "big.test", "target": f"127.0.0.1:{s_port}",
                                     "ports": ports, "connections": 2}], name="cloudlink-big.yaml")
        self.start_agent(config, ports, name="agent-big")
        routes = os.path.join(self.work, "routes-big")
        os.makedirs(routes, exist_ok=True)
        harness.routes_add(self, routes, "big.test", [f"127.0.0.1:{p}" for p in ports])
        dataplane = harness.Dataplane(self, self.work, data=routes)

        out = os.path.join(self.work, "big.downloaded")
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        r = harness.curl("big.test", dataplane.port, "/big.bin", extra=["-o", out], timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), harness.sha256(blob))

        answers = {}

        def fetch(name):
            answers[name] = harness.curl("big.test", dataplane.port, "/" + name, timeout=60)
        threads = [threading.Thread(target=fetch, args=(name,)) for name in pages]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        self.assertEqual(len(answers), 50)
        wrong = [name for name, r in answers.items()
                 if r.returncode != 0 or r.stdout != pages[name]]
        self.assertEqual(wrong, [], {n: answers[n].stderr for n in wrong})
        # Each line is written when the dataplane closes the flow, just after curl saw the end.
        log = harness.wait_until(
            lambda: (lambda l: len(l) >= 51 and l)(dataplane.access_log()), WAIT,
            "51 access log lines")
        self.assertEqual([e["result"] for e in log if e["sni"] == "big.test"], ["ok"] * 51)
        self.assertEqual({e["target"] for e in log}, {f"127.0.0.1:{p}" for p in ports})

if __name__ == "__main__":
    unittest.main()
