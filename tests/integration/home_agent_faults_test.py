"""cloudlink-home under faults, against a real OpenSSH sshd with deploy/sshd/cloudlink.conf.

  * The home's link goes silently dead: the agent runs in its own network namespace behind a
    veth pair whose VPS end is set down (no FIN, no RST reaches either side), then comes back.
    The stale reverse listener on the VPS is reaped and the tunnel port serves again within
    45 s of the link's return.
  * Two SSH connections for one hostname behind cloudlink-dataplane: killing one connection's
    sshd process leaves the hostname serving throughout (the dataplane fails over to the other
    target on ECONNREFUSED) and the agent brings the killed one back.
  * sshd restarted (every sshd process killed, then started again with the same host key and
    port): the agent reconnects and serves again within 35 s.
  * cloudlink-control serve killed: established tunnels keep serving, and a reconnect still
    logs in (sshd's key lookup reads the state, not the API).

The sshd fixture is sshd_tunnel_test.py's. Skipped where sshd cannot run (not root, no sshd)
and, for the namespace test only, where `ip netns` cannot make namespaces.

  CLOUDLINK_HOME, CLOUDLINK_CONTROL, CLOUDLINK_DATAPLANE  the built programs
"""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import harness
import home_agent_test
import sshd_tunnel_test
from harness import WAIT

HOME = home_agent_test.HOME
SSHD = sshd_tunnel_test.SSHD
_SKIP = sshd_tunnel_test._skip_reason()
# The bounds, in seconds: serving again after an sshd restart, after a link's return.
RECOVERY_AFTER_RESTART = 35
RECOVERY_AFTER_LINK_RETURN = 45

ECHO_SERVER = """
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
def serve(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def in_netns(netns, argv):
    """argv run in netns's network namespace only. Not `ip netns exec` or `ip -n`: they also
    make a mount namespace and remount /, which fails where / is not a mount point (a
    chroot)."""
    return ["nsenter", f"--net=/run/netns/{netns}", "--", *argv]


def _netns_skip_reason():
    for tool in ("ip", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    name = f"clprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True,
                          timeout=WAIT)
    if made.returncode != 0:
        return f"ip netns add fails here: {made.stderr.strip()}"
    try:
        entered = subprocess.run(in_netns(name, ["true"]), capture_output=True, text=True,
                                 timeout=WAIT)
        if entered.returncode != 0:
            return f"cannot enter a network namespace here: {entered.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=WAIT)
    return None


def ip(*args, netns=None):
    argv = ["ip", *args] if netns is None else in_netns(netns, ["ip", *args])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {proc.stderr}")


@unittest.skipIf(_SKIP is not None, _SKIP or "")
class HomeAgentFaultsTest(unittest.TestCase):
    # The fixture and helpers of home_agent_test (itself sshd_tunnel_test's sshd).
    control_ok = home_agent_test.HomeAgentTest.__dict__["control_ok"]
    create_home = home_agent_test.HomeAgentTest.__dict__["create_home"]
    pick_port_base = home_agent_test.HomeAgentTest.__dict__["pick_port_base"]
    start_sshd = home_agent_test.HomeAgentTest.__dict__["start_sshd"]
    ssh_argv = home_agent_test.HomeAgentTest.__dict__["ssh_argv"]
    _sshd_fixture = home_agent_test.HomeAgentTest.__dict__["_sshd_fixture"]
    write_config = home_agent_test.HomeAgentTest.write_config
    start_agent = home_agent_test.HomeAgentTest.start_agent
    assert_echo = home_agent_test.HomeAgentTest.assert_echo
    echo_works = home_agent_test.HomeAgentTest.echo_works
    setUpClass = home_agent_test.HomeAgentTest.__dict__["setUpClass"]

    def sshd_children(self, sshd=None):
        return home_agent_test.descendants((sshd or self.sshd).popen.pid)

    def kill_all(self, pids):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    @staticmethod
    def running(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def echo_backend(self):
        return harness.TcpBackend(self, home_agent_test.echo_handler)

    def start_sshd_on(self, address, name):
        """Another sshd over the fixture's config and host key, on address:a free port."""
        with open(os.path.join(self.work, "sshd_config")) as f:
            config = f.read()
        port = harness.free_port()
        config = config.replace(f"Port {self.ssh_port}\n", f"Port {port}\n", 1)
        config = config.replace("ListenAddress 127.0.0.1\n", f"ListenAddress {address}\n", 1)
        path = os.path.join(self.work, f"sshd_config.{name}")
        with open(path, "w") as f:
            f.write(config)
        sshd = harness.Process(self, [SSHD, "-D", "-e", "-f", path], name, self.work)
        harness.wait_until(lambda: f"listening on {address} port {port}" in sshd.stderr_text()
                           or not sshd.alive(), WAIT, f"{name} to listen")
        self.assertTrue(sshd.alive(), sshd.stderr_text())
        return sshd, port

    # ---- the link goes silently dead ----

    def test_silent_link_death_then_return(self):
        reason = _netns_skip_reason()
        if reason:
            self.skipTest(reason)
        suffix = os.getpid() % 100000
        netns, vps_end, home_end = f"clhome{suffix}", f"clvps{suffix}", f"clhom{suffix}"
        vps_ip, home_ip = "10.231.7.1", "10.231.7.2"
        ip("netns", "add", netns)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", netns], capture_output=True,
                        timeout=WAIT)
        ip("link", "add", vps_end, "type", "veth", "peer", "name", home_end)
        self.addCleanup(subprocess.run, ["ip", "link", "del", vps_end], capture_output=True,
                        timeout=WAIT)
        ip("link", "set", home_end, "netns", netns)
        ip("addr", "add", f"{vps_ip}/30", "dev", vps_end)
        ip("link", "set", vps_end, "up")
        ip("addr", "add", f"{home_ip}/30", "dev", home_end, netns=netns)
        ip("link", "set", home_end, "up", netns=netns)
        ip("link", "set", "lo", "up", netns=netns)
        sshd, ssh_port = self.start_sshd_on(vps_ip, "sshd-veth")

        # The home's service runs in the namespace too: the agent reaches it on its loopback.
        service_port = harness.free_port()
        service = harness.Process(self, in_netns(netns, ["python3", "-c", ECHO_SERVER,
                                                         str(service_port)]),
                                  "ns-echo", self.work)
        port = self.ports[0]
        config = self.write_config([{"hostname": "app.example.com",
                                     "target": f"127.0.0.1:{service_port}", "ports": [port]}],
                                   name="cloudlink-netns.yaml")
        with open(config) as f:
            text = f.read().replace("host: 127.0.0.1", f"host: {vps_ip}", 1)
        with open(config, "w") as f:
            f.write(text.replace(f"port: {self.ssh_port}", f"port: {ssh_port}", 1))
        agent = harness.Process(self, in_netns(netns, [HOME, "--config", config, "run",
                                                       "--keepalive", "2"]),
                                "agent-netns", self.work)
        harness.wait_for_listen(port, agent, timeout=30)
        harness.wait_until(lambda: self.echo_works(port), WAIT, "echo through the tunnel")
        self.assertTrue(service.alive())
        first_session = self.sshd_children(sshd)
        self.assertTrue(first_session, "no per-connection sshd process")

        ip("link", "set", vps_end, "down")  # silent: nothing is sent either way
        harness.wait_until(lambda: "no answer from the server" in agent.stderr_text(), 30,
                           "the agent to notice the dead link")
        # While the link is down the VPS still holds the stale listener of the dead session.
        self.assertIn(port, harness.listening_ports())
        self.assertTrue(any(os.path.exists(f"/proc/{p}") for p in first_session))
        time.sleep(5)  # a few failed reconnects
        ip("link", "set", vps_end, "up")
        returned = time.monotonic()
        harness.wait_until(lambda: self.echo_works(port), RECOVERY_AFTER_LINK_RETURN,
                           "echo through the tunnel after the link's return", interval=0.5)
        recovered = time.monotonic() - returned
        self.assertLess(recovered, RECOVERY_AFTER_LINK_RETURN)
        # Its listener is gone (the port serves again); its processes finish their teardown.
        harness.wait_until(lambda: not [p for p in first_session if self.running(p)], WAIT,
                           "the dead session's sshd processes to exit")
        self.assertTrue(agent.alive(), agent.stderr_text())

    # ---- two connections, one killed ----

    def test_two_connections_one_killed_keeps_the_hostname_serving(self):
        if not harness.DATAPLANE:
            self.skipTest("CLOUDLINK_DATAPLANE is not set")
        backend = self.echo_backend()
        ports = [self.ports[1], self.ports[2]]
        config = self.write_config([{"hostname": "two.test", "target": backend.address,
                                     "ports": ports, "connections": 2}],
                                   name="cloudlink-two.yaml")
        agent = self.start_agent(config, ports, name="agent-two")
        routes = os.path.join(self.work, "routes-two")
        os.makedirs(routes, exist_ok=True)
        harness.routes_add(self, routes, "two.test", [f"127.0.0.1:{p}" for p in ports])
        dataplane = harness.Dataplane(self, self.work, data=routes)
        hello = harness.client_hello("two.test")

        def request(i):
            payload = hello + f"request {i}\n".encode()
            with harness.connect(dataplane.port) as s:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                return harness.recv_until_closed(s) == (payload, "eof")

        # Which sshd process holds which port: the one whose children include nothing but
        # whose listening sockets are the port (ss -tlpn names the process).
        self.assertTrue(all(request(i) for i in range(10)))
        holder = self.listener_pid(ports[0])
        failures, stop = [], threading.Event()

        def clients():
            i = 0
            while not stop.is_set():
                i += 1
                if not request(i):
                    failures.append(i)
        t = threading.Thread(target=clients)
        t.start()
        try:
            time.sleep(0.5)
            os.kill(holder, signal.SIGKILL)
            harness.wait_until(lambda: agent.stderr_text().count(": up") >= 3, 40,
                               "the agent to bring the killed connection back")
            time.sleep(0.5)
        finally:
            stop.set()
            t.join(WAIT)
        # A flow in flight through the killed connection may break; new ones must not.
        self.assertLessEqual(len(failures), 2, f"requests failed: {failures}")
        harness.wait_for_listen(ports[0], agent, timeout=WAIT)
        self.assertTrue(all(request(i) for i in range(10)))

    def listener_pid(self, port):
        out = subprocess.run(["ss", "-Htlpn", f"sport = :{port}"], capture_output=True,
                             text=True, timeout=WAIT).stdout
        for part in out.split("pid=")[1:]:
            return int(part.split(",")[0])
        raise AssertionError(f"no process listens on {port}: {out!r}")

    # ---- sshd restarted ----

    def test_sshd_restart_recovers(self):
        sshd, ssh_port = self.start_sshd_on("127.0.0.1", "sshd-restart")
        backend = self.echo_backend()
        port = self.ports[3]
        config = self.write_config([{"hostname": "app.example.com", "target": backend.address,
                                     "ports": [port]}], name="cloudlink-restart.yaml")
        with open(config) as f:
            text = f.read()
        with open(config, "w") as f:
            f.write(text.replace(f"port: {self.ssh_port}", f"port: {ssh_port}", 1))
        agent = self.start_agent(config, [port], name="agent-restart")
        self.assert_echo(port, b"before\n")

        argv = sshd.argv
        self.kill_all(self.sshd_children(sshd))
        sshd.stop()
        harness.wait_until(lambda: port not in harness.listening_ports(), WAIT,
                           "the tunnel port to close with sshd")
        harness.wait_until(lambda: ": down" in agent.stderr_text(), WAIT,
                           "the agent to see the drop")
        restarted = harness.Process(self, argv, "sshd-restarted", self.work)
        started = time.monotonic()
        harness.wait_until(lambda: self.echo_works(port), RECOVERY_AFTER_RESTART,
                           "echo through the tunnel after sshd's restart", interval=0.5)
        self.assertLess(time.monotonic() - started, RECOVERY_AFTER_RESTART)
        self.assertTrue(restarted.alive())
        self.assertTrue(agent.alive())

    # ---- control down ----

    def test_control_down_keeps_tunnels_serving(self):
        control = harness.Process(self, [self.control, "serve", "--data", self.data, "--listen",
                                         f"127.0.0.1:{harness.free_port()}"], "control",
                                  self.work)
        backend = self.echo_backend()
        port = self.ports[4]
        config = self.write_config([{"hostname": "app.example.com", "target": backend.address,
                                     "ports": [port]}], name="cloudlink-control-down.yaml")
        agent = self.start_agent(config, [port], name="agent-control-down")
        self.assert_echo(port, b"control up\n")
        os.kill(control.popen.pid, signal.SIGKILL)
        control.wait(WAIT)
        self.assert_echo(port, b"control down\n")
        # A reconnect needs only sshd and the state: authorized-keys reads LMDB, not the API.
        before = agent.stderr_text().count(": up")
        self.kill_all([p for p in self.sshd_children()
                       if p in self.session_pids_of(port)])
        harness.wait_until(lambda: agent.stderr_text().count(": up") > before, 40,
                           "the agent to reconnect with control down")
        harness.wait_until(lambda: self.echo_works(port), WAIT, "echo after the reconnect")

    def session_pids_of(self, port):
        """The sshd processes of the session that holds port (the listener and its parent)."""
        pid = self.listener_pid(port)
        with open(f"/proc/{pid}/stat") as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
        return {pid, parent} - {self.sshd.popen.pid}


if __name__ == "__main__":
    unittest.main()
