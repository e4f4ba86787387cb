"""Issue 11 item 1: a deleted or deactivated home's SSH sessions are cut, and its ports go to
no other home while anything still listens on them.

Real programs on loopback: OpenSSH sshd with deploy/sshd/cloudlink.conf (sshd_fixture),
`cloudlink-control sessions reap` as root limited to that sshd's sessions, the CLI and
`cloudlink-control serve` on the same data, cloudlink-dataplane in front. The hijack as
reported: mallory's home listens on 127.0.0.1:P through `ssh -R`, mallory deletes the home,
the victim gets a home (once, P) and maps victim.test to it; before the fix mallory's open
session kept P, the victim's ClientHello reached mallory's service and the victim's own
`ssh -R P` failed with "address already in use".

Each test prints its numbers (how long the cut took, which ports each home got).
"""
import json
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import control_api  # noqa: E402
import harness  # noqa: E402
import sshd_fixture  # noqa: E402
from harness import WAIT  # noqa: E402

CUT_WITHIN = 5.0  # seconds: "within seconds"


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


@unittest.skipIf(sshd_fixture.skip_reason() is not None, sshd_fixture.skip_reason() or "")
class TenantSessionsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_binaries(control=True, dataplane=True)
        cls.work = harness.temp_dir(cls, "cloudlink-sessions.")
        cls.fx = sshd_fixture.SshdFixture(cls, cls.work)
        cls.fx.make_data()
        for user in ("mallory", "victim", "dora", "kim"):
            cls.fx.control_ok("users", "add", user, "--password-stdin", stdin=f"{user}-password\n")
        cls.fx.grant_data()
        cls.base = sshd_fixture.pick_port_base(60)
        cls.sshd = cls.fx.start_sshd()
        # CLOUDLINK_TEST_WITHOUT_REAPER=1 runs the tests without the fix's reaper: they must
        # fail (the hijack as reported), which shows they can.
        if not os.environ.get("CLOUDLINK_TEST_WITHOUT_REAPER"):
            cls.reaper = harness.Process(cls, [cls.fx.control, "sessions", "reap", "--data",
                                               cls.fx.data, "--sshd-pid",
                                               str(cls.sshd.popen.pid), "--sessions-dir",
                                               cls.fx.sessions, "--interval", "200ms"],
                                         "reaper", cls.work)
        cls.dataplane = harness.Dataplane(cls, cls.work, data=cls.fx.data)
        # serve on the same data: the API, and the upkeep that carries out expiry and releases
        # quarantined ports.
        cls.control = control_api.ControlServer(
            cls, cls.work, data=cls.fx.data,
            extra_args=["--port-range", f"{cls.base}-{cls.base + 59}", "--port-block", "5",
                        "--port-quarantine", "0s", "--quota-homes", "100"])
        cls.admin = cls.control.admin()
        cls.keys = 0

    def key(self):
        type(self).keys += 1
        path = os.path.join(self.work, f"key{self.keys}")
        return path, sshd_fixture.keygen(path)

    def home(self, owner, name, public_key, quarantine="0s"):
        return self.fx.create_home(owner, name, public_key, self.base, block=5, width=60,
                                   extra=("--port-quarantine", quarantine))

    def backend(self, payload):
        """A TCP service that records what it receives and answers with payload."""
        def handler(backend, conn):
            conn.sock.settimeout(WAIT)
            try:
                data = conn.sock.recv(65536)
                backend.received.append(data)
                conn.sock.sendall(payload)
            except OSError:
                pass
        b = harness.TcpBackend(self, handler)
        b.received = []
        return b

    def wait_cut(self, tunnel, port, what):
        """The session's listener on port goes, and its ssh client ends; returns seconds."""
        start = time.monotonic()
        harness.wait_until(lambda: port not in harness.listening_ports(), CUT_WITHIN,
                           f"{what}: the listener on {port} to go")
        harness.wait_until(lambda: not tunnel.alive(), CUT_WITHIN, f"{what}: its ssh to end")
        took = time.monotonic() - start
        print(f"\n{what}: session cut, listener on {port} gone in {took:.2f} s", flush=True)
        return took

    def hello_reaches(self, hostname, backend):
        hello = harness.client_hello(hostname)
        before = len(backend.received)
        with harness.connect(self.dataplane.port) as s:
            s.sendall(hello)
            harness.wait_until(lambda: len(backend.received) > before, WAIT,
                               f"the ClientHello for {hostname} to reach its backend")
        return backend.received[-1]

    def audit(self, action, target=None):
        records = self.admin.ok(self, "GET", "/api/admin/audit?limit=1000")
        return [r for r in records if r["action"] == action
                and (target is None or r["target"] == target)]

    def wait_audit(self, action, target=None, timeout=WAIT):
        return harness.wait_until(lambda: self.audit(action, target), timeout,
                                  f"audit {action} {target or ''}")[0]

    def routes_add(self, host, port, home_id):
        # The mapping as the API would project it (the CLI has no mapping command).
        self.fx.control_ok("routes", "add", host, f"127.0.0.1:{port}", "--home", home_id)

    # ---- tests ----

    def test_deleted_home_cannot_capture_the_next_homes_traffic(self):
        m_key, m_pub = self.key()
        mallory = self.home("mallory", "M", m_pub)
        port = mallory["ports"][0]
        m_service = self.backend(b"mallory\n")
        m_tunnel = self.fx.open_tunnel(self, m_key, port, m_service.port, "tunnel_m")

        self.fx.control_ok("homes", "delete", mallory["id"])
        v_key, v_pub = self.key()
        victim = self.home("victim", "V", v_pub)
        # While mallory's session still listened, the block was quarantined: the victim got
        # another block, or this one only once nothing listened on it any more.
        print(f"\nmallory had {mallory['ports']}, the victim got {victim['ports']}", flush=True)
        self.wait_cut(m_tunnel, port, "deleted home")
        v_port = victim["ports"][0]
        if v_port in mallory["ports"]:
            self.assertFalse(m_tunnel.alive())

        v_service = self.backend(b"victim\n")
        v_tunnel = self.fx.open_tunnel(self, v_key, v_port, v_service.port, "tunnel_v")
        self.routes_add("victim.test", v_port, victim["id"])
        got = self.hello_reaches("victim.test", v_service)
        self.assertEqual(got[:1], b"\x16")
        self.assertEqual(m_service.received, [])
        self.assertTrue(v_tunnel.alive())
        # The reaper leaves a session on its own home's ports alone.
        time.sleep(1.0)
        self.assertTrue(v_tunnel.alive())

    def test_expired_home_and_user_are_cut_and_their_routes_withdrawn(self):
        # Item 8, a home: its key stops, its session is cut, its route leaves the table.
        k_key, k_pub = self.key()
        home = self.home("dora", "D3", k_pub)
        port = home["ports"][0]
        service = self.backend(b"dora\n")
        tunnel = self.fx.open_tunnel(self, k_key, port, service.port, "tunnel_d3")
        self.admin.ok(self, "POST", f"/api/homes/{home['id']}/mappings",
                      {"hostname": "expiring.test", "tls_ports": [port]}, status=201)
        self.hello_reaches("expiring.test", service)
        at = int(time.time()) + 2
        answer = self.admin.ok(self, "PUT", f"/api/admin/homes/{home['id']}/expiry",
                               {"expires_at": at})
        self.assertEqual(answer["expires_at"], at)
        time.sleep(0.5)
        self.assertTrue(tunnel.alive(), "cut before its expiry")
        self.wait_cut(tunnel, port, "expired home")
        harness.wait_until(lambda: "expiring.test" not in self.control.routes_on_disk(), WAIT,
                           "the expired home's route to leave the table")
        record = self.wait_audit("homes.expire", home["id"])
        self.assertIn("routes_withdrawn=1", record["detail"])
        proc = self.fx.ssh(k_key, "-N", "-R", f"127.0.0.1:{port}:127.0.0.1:{service.port}")
        self.assertEqual(proc.returncode, 255)
        # Lifted: the route comes back, the key logs in again.
        self.admin.ok(self, "PUT", f"/api/admin/homes/{home['id']}/expiry", {"expires_at": 0})
        self.assertIn("expiring.test", self.control.routes_on_disk())
        tunnel = self.fx.open_tunnel(self, k_key, port, service.port, "tunnel_d3b")
        tunnel.stop()

        # A user: its token is refused and revoked, its home's session cut, routes withdrawn.
        user = self.control.active_user("erin")
        e_key, e_pub = self.key()
        e_home = user.ok(self, "POST", "/api/homes", {"name": "E", "public_key": e_pub},
                         status=201)
        e_port = e_home["ports"][0]
        user.ok(self, "POST", f"/api/homes/{e_home['id']}/mappings",
                {"hostname": "erin.test", "tls_ports": [e_port]}, status=201)
        e_tunnel = self.fx.open_tunnel(self, e_key, e_port, service.port, "tunnel_e")
        at = int(time.time()) + 2
        self.admin.ok(self, "PUT", "/api/admin/users/erin/expiry", {"expires_at": at})
        self.wait_cut(e_tunnel, e_port, "expired user")
        status, _ = user.call("GET", "/api/homes")
        self.assertEqual(status, 401)
        record = self.wait_audit("users.expire", "erin")
        self.assertIn("tokens_revoked=1", record["detail"])
        self.assertIn("routes_withdrawn=1", record["detail"])
        self.assertNotIn("erin.test", self.control.routes_on_disk())
        status, body = self.control.anonymous().call(
            "POST", "/api/login", {"username": "erin", "password": "erin-password"})
        self.assertEqual(status, 401, body)
        users = {u["username"]: u for u in self.admin.ok(self, "GET", "/api/admin/users")}
        self.assertTrue(users["erin"]["expired"])
        self.assertFalse(users["erin"]["active"])

    def test_kill9_during_delete_with_session_cut(self):
        k_key, k_pub = self.key()
        home = self.home("dora", "D4", k_pub)
        port = home["ports"][0]
        service = self.backend(b"d4\n")
        tunnel = self.fx.open_tunnel(self, k_key, port, service.port, "tunnel_d4")
        status, body = self.admin.call("DELETE", f"/api/homes/{home['id']}")
        self.assertEqual(status, 204, body)
        self.control.proc.send_signal(signal.SIGKILL)  # right after the acknowledgement
        self.control.proc.wait()
        listed = json.loads(self.fx.control_ok("homes", "list", "--json"))
        self.assertNotIn(home["id"], [h["id"] for h in listed], "an acknowledged delete was lost")
        # The reaper works from the state alone: the cut happens with control down.
        self.wait_cut(tunnel, port, "deleted home, control killed")
        # The block stays quarantined (30 s by default) across the crash.
        n_key, n_pub = self.key()
        other = self.home("kim", "K4", n_pub, quarantine="30s")
        self.assertNotEqual(other["ports"][0], port)
        # control again (0 s quarantine): its upkeep releases the block nothing listens on.
        self.control.start()
        self.admin = self.control.login("root", control_api.ADMIN_PASSWORD)
        type(self).admin = self.admin
        released = self.wait_audit("ports.release", f"{home['ports'][0]}+5")
        print(f"\nreleased after the restart: {released['detail']}", flush=True)
        self.fx.control_ok("homes", "delete", other["id"])

    def test_sessions_without_listeners_are_cut_by_their_key(self):
        # A deleted home's session that holds no listener could ask for one later (its
        # permitlisten were fixed at login): the key record ends it too.
        m_key, m_pub = self.key()
        home = self.home("mallory", "M2", m_pub)
        quiet = harness.Process(self, self.fx.ssh_argv(m_key, "-N"), "quiet_m2", self.work)
        harness.wait_until(lambda: any(
            read_text(os.path.join(self.fx.sessions, f)).split()[1:2] == m_pub.split()[1:2]
            for f in os.listdir(self.fx.sessions) if not f.startswith(".")), WAIT,
            "authorized-keys to record the session's key")
        time.sleep(0.5)
        self.assertTrue(quiet.alive())
        start = time.monotonic()
        self.fx.control_ok("homes", "delete", home["id"])
        harness.wait_until(lambda: not quiet.alive(), CUT_WITHIN, "the quiet session to end")
        print(f"\nlistener-less session of a deleted home cut in "
              f"{time.monotonic() - start:.2f} s", flush=True)
        # A rotated key: the session that logged in with the old key ends, the new key's stays.
        old_key, old_pub = self.key()
        home = self.home("mallory", "M3", old_pub)
        old = self.fx.open_tunnel(self, old_key, home["ports"][0], 9, "tunnel_old")
        new_key, new_pub = self.key()
        self.admin.ok(self, "PUT", f"/api/homes/{home['id']}/key", {"public_key": new_pub})
        harness.wait_until(lambda: not old.alive(), CUT_WITHIN, "the old key's session to end")
        new = self.fx.open_tunnel(self, new_key, home["ports"][0], 9, "tunnel_new")
        time.sleep(1.0)
        self.assertTrue(new.alive())
        new.stop()
        self.fx.control_ok("homes", "delete", home["id"])

    def test_quarantine_holds_the_block_while_something_listens(self):
        d_key, d_pub = self.key()
        dora = self.home("dora", "D", d_pub)
        # Something that is not a cut-able session (a plain socket) listens on dora's port.
        squatter = socket.socket()
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", dora["ports"][2]))
        squatter.listen()
        self.addCleanup(squatter.close)
        self.fx.control_ok("homes", "delete", dora["id"])
        k_key, k_pub = self.key()
        other = self.home("kim", "K1", k_pub)
        self.assertNotEqual(other["ports"][0], dora["ports"][0], "a listened-on block was reused")
        squatter.close()
        k2_key, k2_pub = self.key()
        again = self.home("kim", "K2", k2_pub)
        # Nothing listens now and the quarantine is 0 s: the lowest free block is dora's.
        self.assertEqual(again["ports"][0], dora["ports"][0])
        self.fx.control_ok("homes", "delete", other["id"])
        self.fx.control_ok("homes", "delete", again["id"])

    def test_deactivated_owner_is_cut(self):
        k_key, k_pub = self.key()
        kim = self.home("kim", "K3", k_pub)
        port = kim["ports"][1]
        service = self.backend(b"kim\n")
        tunnel = self.fx.open_tunnel(self, k_key, port, service.port, "tunnel_k")
        self.fx.control_ok("users", "deactivate", "kim")
        self.wait_cut(tunnel, port, "deactivated owner")
        proc = self.fx.ssh(k_key, "-N", "-R", f"127.0.0.1:{port}:127.0.0.1:{service.port}")
        self.assertEqual(proc.returncode, 255)
        self.assertIn("Permission denied", proc.stderr)
        # Approved again, the same home logs in and keeps its session.
        self.fx.control_ok("users", "approve", "kim")
        tunnel = self.fx.open_tunnel(self, k_key, port, service.port, "tunnel_k2")
        time.sleep(1.0)
        self.assertTrue(tunnel.alive())
        tunnel.stop()
        self.fx.control_ok("homes", "delete", kim["id"])

    def test_authorized_keys_line_forbids_local_forwarding(self):
        # Item 9: the key line alone stops -L/-W, even under a drop-in that allowed it. (sshd
        # refuses permitopen="none" in a key line, so the one destination it permits is nowhere.)
        k_key, k_pub = self.key()
        home = self.home("dora", "D2", k_pub)
        out = self.fx.control_ok("authorized-keys", "cloudlink", *k_pub.split()[:2])
        self.assertIn('permitopen="192.0.2.1:9"', out)
        loose = self.fx.start_sshd(edits=[("AllowTcpForwarding remote", "AllowTcpForwarding yes")])
        service = self.backend(b"never\n")
        proc = self.fx.ssh(k_key, "-W", f"127.0.0.1:{service.port}", port=loose.port)
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        self.assertNotIn("never", proc.stdout)
        self.assertEqual(service.received, [])
        # The same key may still listen on its own port through that sshd.
        tunnel = self.fx.open_tunnel(self, k_key, home["ports"][0], service.port, "tunnel_d2")
        tunnel.stop()
        loose.stop()
        self.fx.control_ok("homes", "delete", home["id"])


if __name__ == "__main__":
    unittest.main()
