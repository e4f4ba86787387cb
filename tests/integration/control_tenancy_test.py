#!/usr/bin/env python3
"""cloudlink-control serve with tenant limits, all set through a settings file (--config):
registration modes and invitations, the per-source sign-up limit, per-user quotas (409 naming
the quota, admin overrides), the hostname policy (public suffixes, IP literals,
allowed-domains), a bad settings file refused with file, line and key; the LMDB map growing
under a burst of mappings while login keeps answering; and kill -9 during quota refusals and
during map growth losing no acknowledged change."""
import os
import signal
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from control_api import ControlServer, ssh_keygen  # noqa: E402


def write_config(work, name, lines):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def metric(server, name, **labels):
    text = server.anonymous().raw("GET", "/metrics")[2].decode()
    key = (name, tuple(sorted(labels.items())))
    return h.parse_metrics(text).get(key)


class Tenancy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = h.temp_dir(cls)
        config = write_config(cls.work, "control.conf", [
            "# tenant limits of this test",
            "registration = closed",
            "signups-per-hour = 20",
            "quota_homes = 2",
            "quota-port-blocks = 2",
            "quota-mappings = 3",
            "allowed-domains = tenant.test, example.net",
        ])
        cls.server = ControlServer(cls, cls.work, extra_args=["--config", config])
        cls.admin = cls.server.admin()
        cls.keys = 0

    def key(self):
        type(self).keys += 1
        return ssh_keygen(self.work, f"k{self.keys}")[1]

    def invite(self):
        return self.admin.ok(self, "POST", "/api/admin/invitations", {}, status=201)["code"]

    def user(self, name):
        code = self.invite()
        status, body = self.server.anonymous().call(
            "POST", "/api/signup", {"username": name, "password": f"{name}-password",
                                    "invitation": code})
        self.assertEqual(status, 201, body)
        self.assertTrue(body["active"])
        return self.server.login(name, f"{name}-password")

    def test_closed_registration_needs_a_single_use_invitation(self):
        anon = self.server.anonymous()
        status, body = anon.call("POST", "/api/signup",
                                 {"username": "nocode", "password": "nocode-password"})
        self.assertEqual((status, body["error"]["code"]), (403, "forbidden"), body)
        self.assertIn("invitation", body["error"]["message"])
        code = self.invite()
        status, body = anon.call("POST", "/api/signup", {"username": "invited",
                                                          "password": "invited-password",
                                                          "invitation": code})
        self.assertEqual(status, 201, body)
        self.server.login("invited", "invited-password")
        status, body = anon.call("POST", "/api/signup", {"username": "again",
                                                          "password": "again-password",
                                                          "invitation": code})
        self.assertEqual(status, 403, body)
        # Listed until used, without the code; an admin can revoke one.
        spare = self.admin.ok(self, "POST", "/api/admin/invitations", {"expires_in": 60},
                              status=201)
        listed = self.admin.ok(self, "GET", "/api/admin/invitations")
        self.assertIn(spare["id"], [i["id"] for i in listed])
        self.assertNotIn("code", listed[0])
        self.assertEqual(self.admin.raw("DELETE", f"/api/admin/invitations/{spare['id']}")[0], 204)
        status, _ = anon.call("POST", "/api/signup", {"username": "late", "password":
                                                       "late-password",
                                                       "invitation": spare["code"]})
        self.assertEqual(status, 403)
        # The CLI makes them too.
        r = self.server.cli("invitations", "create", "--expires", "1h")
        self.assertEqual(r.returncode, 0, r.stderr)
        status, body = anon.call("POST", "/api/signup", {"username": "cli-invited",
                                                          "password": "cli-password",
                                                          "invitation": r.stdout.strip()})
        self.assertEqual(status, 201, body)

    def test_quotas_refuse_with_409_naming_the_quota_and_admin_raises_them(self):
        alice = self.user("quota-alice")
        homes = [alice.ok(self, "POST", "/api/homes", {"name": f"h{i}", "public_key": self.key()},
                          status=201) for i in range(2)]
        status, body = alice.call("POST", "/api/homes", {"name": "h3", "public_key": self.key()})
        self.assertEqual(status, 409, body)
        self.assertEqual(body["error"]["message"], "quota: homes (2) reached for quota-alice")
        ports = homes[0]["ports"]
        for i in range(3):
            alice.ok(self, "POST", f"/api/homes/{homes[i % 2]['id']}/mappings",
                     {"hostname": f"m{i}.tenant.test", "tls_ports": [ports[0]]
                      if i % 2 == 0 else [homes[1]["ports"][0]]}, status=201)
        status, body = alice.call("POST", f"/api/homes/{homes[0]['id']}/mappings",
                                  {"hostname": "m9.tenant.test", "tls_ports": [ports[1]]})
        self.assertEqual(status, 409, body)
        self.assertEqual(body["error"]["message"], "quota: mappings (3) reached for quota-alice")
        quota = alice.ok(self, "GET", "/api/me/quota")
        self.assertEqual(quota["limits"], {"homes": 2, "mappings": 3, "port_blocks": 2})
        self.assertEqual(quota["used"], {"homes": 2, "mappings": 3, "port_blocks": 2})
        raised = self.admin.ok(self, "PUT", "/api/admin/users/quota-alice/quota",
                               {"homes": 3, "port_blocks": 3})
        self.assertEqual(raised["own"], {"homes": 3, "port_blocks": 3})
        alice.ok(self, "POST", "/api/homes", {"name": "h3", "public_key": self.key()}, status=201)
        r = self.server.cli("users", "quota", "quota-alice", "--default")
        self.assertEqual(r.returncode, 0, r.stderr)
        status, body = alice.call("POST", "/api/homes", {"name": "h4", "public_key": self.key()})
        self.assertEqual(status, 409, body)
        self.assertIn("quota: homes", body["error"]["message"])

    def test_hostname_policy(self):
        user = self.user("namer")
        home = user.ok(self, "POST", "/api/homes", {"name": "n", "public_key": self.key()},
                       status=201)
        path = f"/api/homes/{home['id']}/mappings"
        port = home["ports"][0]
        cases = [("co.uk", 400, "public suffix"), ("*.co.uk", 400, "public suffix"),
                 ("github.io", 400, "public suffix"), ("127.0.0.1", 400, "IP address"),
                 ("127.1", 400, "IP address"), ("0x7f.1", 400, "IP address"),
                 ("1.2.3.4.5", 400, "IP address"), ("*.github.io", 400, "public suffix"),
                 ("app.other.test", 403, "allowed-domains"),
                 ("example.net.evil.test", 403, "allowed-domains")]
        for hostname, status, mentions in cases:
            with self.subTest(hostname=hostname):
                got, body = user.call("POST", path, {"hostname": hostname, "tls_ports": [port]})
                self.assertEqual(got, status, body)
                self.assertIn(mentions, body["error"]["message"])
        for hostname in ("www.tenant.test", "*.tenant.test", "example.net"):
            user.ok(self, "POST", path, {"hostname": hostname, "tls_ports": [port]}, status=201)


class SignupLimits(unittest.TestCase):
    def test_signups_per_source_are_limited_with_retry_after(self):
        work = h.temp_dir(self)
        server = ControlServer(self, work, extra_args=["--registration", "open",
                                                       "--signups-per-hour", "3"])
        anon = server.anonymous()
        for i in range(3):
            status, body = anon.call("POST", "/api/signup", {"username": f"s{i}",
                                                              "password": "signup-password"})
            self.assertEqual(status, 201, body)
            self.assertTrue(body["active"])  # open registration
        status, headers, data = anon.raw("POST", "/api/signup", {"username": "s3",
                                                                  "password": "signup-password"})
        self.assertEqual(status, 429, data)
        self.assertGreater(int(headers["Retry-After"]), 0)
        server.login("s0", "signup-password")


class SettingsFile(unittest.TestCase):
    def test_bad_settings_name_the_file_line_and_key(self):
        h.require_binaries(control=True, dataplane=False)
        work = h.temp_dir(self)
        cases = [
            (["registration = closed", "no-such-key = 1"], ":2: key no-such-key: unknown"),
            (["quota-homes = many"], ":1: key quota-homes"),
            (["map-size = 12 parsecs"], ":1: key map-size"),
            (["registration = open", "registration = closed"], "given twice"),
            (["just text"], ":1: expected `name = value`"),
            (["audit-max-age = -1d"], ":1: key audit-max-age"),
        ]
        for lines, mentions in cases:
            with self.subTest(lines=lines):
                config = write_config(work, "bad.conf", lines)
                r = h.run([h.CONTROL, "serve", "--data", os.path.join(work, "var"), "--listen",
                           f"127.0.0.1:{h.free_port()}", "--config", config])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(config, r.stderr)
                self.assertIn(mentions, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_a_flag_overrides_the_file(self):
        work = h.temp_dir(self)
        config = write_config(work, "control.conf", ["registration = closed"])
        server = ControlServer(self, work, extra_args=["--config", config,
                                                       "--registration", "open"])
        status, body = server.anonymous().call("POST", "/api/signup",
                                               {"username": "flagged",
                                                "password": "flagged-password"})
        self.assertEqual(status, 201, body)
        self.assertTrue(body["active"])


def burst(client, home, stop, state, lock, prefix, threads=3):
    """Mapping creations from several threads until stop; state: name -> acknowledged."""
    ports = home["ports"]

    def writer(n):
        i = 0
        while not stop.is_set():
            name = f"{prefix}{n}-{i}-{'x' * 40}.tenant.test"
            with lock:
                state[name] = False
            try:
                status, _ = client.call("POST", f"/api/homes/{home['id']}/mappings",
                                        {"hostname": name, "tls_ports": [ports[i % 10]]})
            except OSError:
                return
            with lock:
                state[name] = status == 201
            i += 1

    workers = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(threads)]
    for t in workers:
        t.start()
    return workers


class MapGrowth(unittest.TestCase):
    """A small initial map fills under a burst of mapping creations and grows; login keeps
    answering; kill -9 while it grows loses no acknowledged mapping."""

    def start(self, work):
        return ControlServer(self, work, extra_args=[
            "--map-size", "256KiB", "--map-size-max", "256MiB", "--quota-mappings", "100000",
            "--allowed-domains", "tenant.test"])

    def test_map_grows_under_a_burst_and_login_answers(self):
        work = h.temp_dir(self)
        server = self.start(work)
        admin = server.admin()
        user = server.active_user("grower")
        home = user.ok(self, "POST", "/api/homes",
                       {"name": "g", "public_key": ssh_keygen(work, "g")[1]}, status=201)
        initial = 256 * 1024  # --map-size
        state, lock, stop = {}, threading.Lock(), threading.Event()
        workers = burst(user, home, stop, state, lock, "g")
        logins = []
        try:
            def grown():
                value = metric(server, "cloudlink_control_lmdb_map_growths_total", env="state")
                return value is not None and value >= 2
            while not grown():
                status, body = server.anonymous().call(
                    "POST", "/api/login", {"username": "grower", "password": "grower-password"})
                logins.append(status)
                self.assertEqual(status, 200, body)
                self.assertLess(len(logins), 600, "the map never grew twice")
        finally:
            stop.set()
            for t in workers:
                t.join(h.WAIT)
        acknowledged = {name for name, ack in state.items() if ack}
        self.assertTrue(all(s == 200 for s in logins))
        size = metric(server, "cloudlink_control_lmdb_map_size_bytes", env="state")
        used = metric(server, "cloudlink_control_lmdb_used_bytes", env="state")
        print(f"map growth: {len(acknowledged)} mappings acknowledged, {len(logins)} logins "
              f"all 200, state map {initial:.0f} -> {size:.0f} bytes ({used:.0f} used)",
              file=sys.stderr)
        self.assertGreater(size, initial)
        listed = {m["hostname"] for m in user.ok(self, "GET",
                                                 f"/api/homes/{home['id']}/mappings")}
        self.assertLessEqual(acknowledged, listed)
        self.assertEqual({r["host"] for r in admin.ok(self, "GET", "/api/admin/routes")}, listed)

    def test_kill_9_during_growth_loses_no_acknowledged_change(self):
        work = h.temp_dir(self)
        server = self.start(work)
        user = server.active_user("crasher")
        home = user.ok(self, "POST", "/api/homes",
                       {"name": "c", "public_key": ssh_keygen(work, "c")[1]}, status=201)
        state, lock, stop = {}, threading.Lock(), threading.Event()
        workers = burst(user, home, stop, state, lock, "c", threads=4)
        h.wait_until(lambda: (metric(server, "cloudlink_control_lmdb_map_growths_total",
                                     env="state") or 0) >= 1, timeout=120, what="a map growth")
        server.proc.popen.send_signal(signal.SIGKILL)
        server.proc.wait()
        stop.set()
        for t in workers:
            t.join(h.WAIT)
        acknowledged = {name for name, ack in state.items() if ack}
        self.assertGreater(len(acknowledged), 0)
        server.start()
        user = server.login("crasher", "crasher-password")
        listed = {m["hostname"] for m in user.ok(self, "GET",
                                                 f"/api/homes/{home['id']}/mappings")}
        self.assertLessEqual(acknowledged, listed)
        self.assertLessEqual(listed - acknowledged, {n for n, ack in state.items() if not ack})
        self.assertEqual(set(server.routes_on_disk()), listed)
        print(f"kill -9 during growth: {len(acknowledged)} acknowledged mappings all kept",
              file=sys.stderr)


class QuotaCrash(unittest.TestCase):
    def test_kill_9_during_quota_refusals_loses_nothing(self):
        """Many creations race for the last homes of a quota while control is killed: every
        acknowledged home is there after the restart, and never more than the quota."""
        work = h.temp_dir(self)
        server = ControlServer(self, work, extra_args=["--quota-homes", "5",
                                                       "--quota-port-blocks", "5"])
        user = server.active_user("racer")
        keys = [ssh_keygen(work, f"r{i}")[1] for i in range(16)]
        results, lock = {}, threading.Lock()

        def create(i):
            try:
                status, body = user.call("POST", "/api/homes",
                                         {"name": f"r{i}", "public_key": keys[i]})
            except OSError:
                return
            with lock:
                results[i] = (status, body)

        threads = [threading.Thread(target=create, args=(i,), daemon=True) for i in range(16)]
        for t in threads:
            t.start()
        h.wait_until(lambda: sum(1 for s, _ in results.values() if s == 409) >= 1 or
                     len(results) >= 16, timeout=60, what="a quota refusal")
        server.proc.popen.send_signal(signal.SIGKILL)
        server.proc.wait()
        for t in threads:
            t.join(h.WAIT)
        created = {body["id"] for status, body in results.values() if status == 201}
        refused = [body for status, body in results.values() if status == 409]
        self.assertTrue(refused)
        for body in refused:
            self.assertEqual(body["error"]["message"], "quota: homes (5) reached for racer")
        server.start()
        user = server.login("racer", "racer-password")
        homes = {home["id"] for home in user.ok(self, "GET", "/api/homes")}
        self.assertLessEqual(created, homes)
        self.assertLessEqual(len(homes), 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
