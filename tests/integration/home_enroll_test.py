#!/usr/bin/env python3
"""cloudlink-home register / expose / unexpose against a real `cloudlink-control serve` and a
real sshd (its host key is what register records).

A user is made and approved with the control CLI; the home's key comes from
`cloudlink-home keygen`. register writes cloudlink.yaml (0600) with the server, the token,
the SSH endpoint and the sshd's own host key; expose creates a mapping whose route
`cloudlink-control routes list` shows and adds the service with free ports of the home's
block; unexpose removes both. A wrong password, a hostname mapped by another user, an
expired token and a control server that is down each fail with a clear message and leave
the config file byte for byte as it was. Register also works over HTTPS with --ca-bundle
(or the system store) and refuses a certificate it cannot verify or that names another host.

Skipped only when sshd cannot run here (not root, or no /usr/sbin/sshd).
"""
import os
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import control_api  # noqa: E402
import harness as h  # noqa: E402

HOME = os.environ.get("CLOUDLINK_HOME", "")
SSHD = "/usr/sbin/sshd"


def _skip_reason():
    if os.geteuid() != 0:
        return "sshd must run as root"
    if not os.access(SSHD, os.X_OK):
        return f"{SSHD} is not installed (apt-get install openssh-server)"
    return None


def home(*args, stdin=None, timeout=h.WAIT * 2, env=None):
    return subprocess.run([HOME] + [str(a) for a in args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=env)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_text(path):
    with open(path) as f:
        return f.read()


def start_sshd(owner, workdir):
    """A bare sshd on a free loopback port with its own ed25519 host key; returns
    (port, host key line without comment)."""
    host_key = os.path.join(workdir, "ssh_host_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "x", "-f", host_key],
                   check=True, timeout=h.WAIT, capture_output=True)
    port = h.free_port()
    config = os.path.join(workdir, "sshd_config")
    with open(config, "w") as f:
        f.write(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile none\n"
                "UsePAM no\nAuthorizedKeysFile none\nPasswordAuthentication no\n")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    proc = h.Process(owner, [SSHD, "-D", "-e", "-f", config], "sshd", workdir)
    h.wait_for_listen(port, proc)
    with open(host_key + ".pub") as f:
        kind, blob = f.read().split()[:2]
    return port, f"{kind} {blob}"


@unittest.skipIf(_skip_reason() is not None, _skip_reason() or "")
class HomeEnrollTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not HOME or not os.access(HOME, os.X_OK):
            raise AssertionError("set CLOUDLINK_HOME to the built cloudlink-home")
        cls.work = h.temp_dir(cls, "cloudlink-enroll.")
        cls.ssh_port, cls.host_key = start_sshd(cls, cls.work)
        cls.control = control_api.ControlServer(
            cls, cls.work, extra_args=["--ssh-host", "127.0.0.1", "--ssh-port", str(cls.ssh_port),
                                       "--port-range", "21000-21999", "--port-block", "4",
                                       # alice registers a home in nearly every test
                                       "--quota-homes", "100", "--quota-port-blocks", "100"])
        cls.url = f"http://127.0.0.1:{cls.control.port}"
        for user in ("alice", "bob"):
            r = cls.control.cli("users", "add", user, "--password-stdin",
                                stdin=f"{user}-password\n")
            control_api.check(r.returncode == 0, f"users add {user}: {r.stderr}")

    def keygen(self, directory):
        key = os.path.join(directory, "home_key")
        r = home("keygen", "--output", key)
        self.assertEqual(r.returncode, 0, r.stderr)
        return key, key + ".pub"

    def register(self, user="alice", password=None, name=None, url=None, extra=(), env=None):
        """Registers a new home of user in a fresh folder; returns (folder, config path, run
        result)."""
        folder = h.temp_dir(self)
        key, pub = self.keygen(folder)
        config = os.path.join(folder, "cloudlink.yaml")
        args = ["register", "--server", url or self.url, "--username", user, "--password-stdin",
                "--public-key", pub, "--private-key", key, "--config", config, *extra]
        if name:
            args += ["--name", name]
        r = home(*args, stdin=(password or f"{user}-password") + "\n", env=env)
        return folder, config, r

    def registered(self, user="alice", name=None):
        folder, config, r = self.register(user, name=name)
        self.assertEqual(r.returncode, 0, r.stderr)
        return folder, config

    def expose(self, config, hostname, *extra, stdin=None):
        return home("expose", hostname, "--config", config, *extra, stdin=stdin)

    def routes(self):
        return self.control.routes_on_disk()

    def homes_of(self, user):
        client = self.control.login(user, f"{user}-password")
        status, homes = client.call("GET", "/api/homes")
        self.assertEqual(status, 200)
        return homes

    # ---- the happy path ----

    def test_register_expose_unexpose(self):
        folder, config = self.registered(name="house")
        self.assertEqual(stat.S_IMODE(os.stat(config).st_mode), 0o600)
        text = read_text(config)
        (home_entry,) = [x for x in self.homes_of("alice") if x["name"] == "house"]
        self.assertIn(f'url: "{self.url}"', text)
        self.assertIn(f'id: "{home_entry["id"]}"', text)
        self.assertIn(f'known_host_key: "{self.host_key}"', text)
        self.assertIn(f"port: {self.ssh_port}", text)
        self.assertIn('user: "cloudlink"', text)
        self.assertIn(os.path.join(folder, "home_key"), text)
        self.assertRegex(text, r'token: "[^"]+"')
        block = home_entry["ports"]
        self.assertEqual(len(block), 4)

        r = self.expose(config, "App.Example.COM", "--to", "127.0.0.1:8443", "--connections", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.expose(config, "b.example.com", "--to", "[::1]:9000", "--proxy-protocol")
        self.assertEqual(r.returncode, 0, r.stderr)
        routes = self.routes()
        self.assertEqual(routes["app.example.com"]["targets"],
                         [f"127.0.0.1:{block[0]}", f"127.0.0.1:{block[1]}"])
        self.assertEqual(routes["b.example.com"]["targets"], [f"127.0.0.1:{block[2]}"])
        text = read_text(config)
        self.assertIn('hostname: "app.example.com"', text)
        self.assertIn('target: "127.0.0.1:8443"', text)
        self.assertIn(f"tunnel_ports: [{block[0]}, {block[1]}]", text)
        self.assertIn('target: "[::1]:9000"', text)
        self.assertIn(f"tunnel_ports: [{block[2]}]", text)
        self.assertIn("proxy_protocol: true", text)

        # Two ports are left: three connections do not fit, and nothing changes.
        before = read_bytes(config)
        r = self.expose(config, "c.example.com", "--to", "127.0.0.1:1", "--connections", "3")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("1 free port(s), 3 wanted", r.stderr)
        self.assertEqual(read_bytes(config), before)
        self.assertNotIn("c.example.com", self.routes())
        # The same name twice is refused by the agent itself.
        r = self.expose(config, "app.example.com", "--to", "127.0.0.1:1")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("exposed already", r.stderr)

        r = home("unexpose", "app.example.com", "--config", config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("app.example.com", self.routes())
        self.assertIn("b.example.com", self.routes())
        text = read_text(config)
        self.assertNotIn("app.example.com", text)
        # Its ports are free again.
        r = self.expose(config, "d.example.com", "--to", "127.0.0.1:1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.routes()["d.example.com"]["targets"],
                         [f"127.0.0.1:{block[0]}"])
        r = home("unexpose", "nope.example.com", "--config", config)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not exposed", r.stderr)
        # A mapping deleted behind the agent's back: unexpose still tidies the config.
        alice = self.control.login("alice", "alice-password")
        status, _ = alice.call("DELETE", f"/api/homes/{home_entry['id']}/mappings/b.example.com")
        self.assertEqual(status, 204)
        r = home("unexpose", "b.example.com", "--config", config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no mapping", r.stdout)
        self.assertNotIn("b.example.com", read_text(config))

    def test_concurrent_exposes_get_distinct_ports(self):
        _, config = self.registered(name="busy")
        names = [f"c{i}.example.com" for i in range(4)]  # the whole block of 4
        procs = [subprocess.Popen([HOME, "expose", name, "--to", f"127.0.0.1:{9000 + i}",
                                   "--config", config], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for i, name in enumerate(names)]
        for proc in procs:
            _, err = proc.communicate(timeout=h.WAIT * 2)
            self.assertEqual(proc.returncode, 0, err)
        routes = self.routes()
        targets = [routes[name]["targets"][0] for name in names]
        self.assertEqual(len(set(targets)), 4, targets)
        text = read_text(config)
        for name, target in zip(names, targets):
            self.assertIn(f'hostname: "{name}"', text)
            self.assertIn(f"tunnel_ports: [{target.rsplit(':', 1)[1]}]", text)

    def test_summary_names_the_home(self):
        _, config, r = self.register(name="summary")
        self.assertEqual(r.returncode, 0, r.stderr)
        (entry,) = [x for x in self.homes_of("alice") if x["name"] == "summary"]
        self.assertIn(entry["id"], r.stdout)
        self.assertIn("cloudlink", r.stdout)
        self.assertIn(f"127.0.0.1:{self.ssh_port}", r.stdout)
        self.assertIn(f"{entry['ports'][0]}-{entry['ports'][-1]}", r.stdout)

    # ---- failures leave the config as it was ----

    def test_wrong_password_writes_nothing(self):
        _, config, r = self.register(password="not-the-password")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("401", r.stderr)
        self.assertFalse(os.path.exists(config))

    def test_register_twice_is_refused(self):
        folder, config = self.registered(name="twice")
        before = read_bytes(config)
        key = os.path.join(folder, "home_key")
        r = home("register", "--server", self.url, "--username", "alice", "--password-stdin",
                 "--public-key", key + ".pub", "--private-key", key, "--config", config,
                 stdin="alice-password\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("registered already", r.stderr)
        self.assertEqual(read_bytes(config), before)

    def test_concurrent_registers_of_one_config(self):
        folder = h.temp_dir(self)
        key, pub = self.keygen(folder)
        config = os.path.join(folder, "cloudlink.yaml")
        procs = [subprocess.Popen([HOME, "register", "--server", self.url, "--username", "alice",
                                   "--password-stdin", "--public-key", pub, "--private-key", key,
                                   "--config", config, "--name", f"race{i}"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i in range(2)]
        codes = []
        for proc in procs:
            _, err = proc.communicate("alice-password\n", timeout=h.WAIT * 2)
            codes.append(proc.returncode)
            if proc.returncode:
                self.assertIn("registered already", err)
        self.assertEqual(sorted(codes), [0, 1])
        names = [x["name"] for x in self.homes_of("alice") if x["name"].startswith("race")]
        self.assertEqual(len(names), 1, names)

    def test_hostname_of_another_user(self):
        _, bob_config = self.registered("bob", name="bobs")
        r = self.expose(bob_config, "taken.example.com", "--to", "127.0.0.1:443")
        self.assertEqual(r.returncode, 0, r.stderr)
        _, config = self.registered(name="wants-taken")
        before = read_bytes(config)
        r = self.expose(config, "taken.example.com", "--to", "127.0.0.1:443")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("409", r.stderr)
        self.assertIn("taken.example.com", r.stderr)
        self.assertEqual(read_bytes(config), before)
        (bobs,) = [x for x in self.homes_of("bob") if x["name"] == "bobs"]
        self.assertEqual(self.routes()["taken.example.com"]["home"], bobs["id"])

    def test_revoked_token_then_login_again(self):
        _, config = self.registered(name="relogin")
        status, _ = self.control.admin().call("POST", "/api/admin/users/alice/revoke-tokens")
        self.assertEqual(status, 200)
        before = read_bytes(config)
        r = self.expose(config, "relogin.example.com", "--to", "127.0.0.1:443")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--username", r.stderr)
        self.assertEqual(read_bytes(config), before)
        r = self.expose(config, "relogin.example.com", "--to", "127.0.0.1:443", "--username",
                        "alice", "--password-stdin", stdin="wrong-password\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("wrong username or password", r.stderr)
        self.assertNotIn("expired", r.stderr)
        self.assertEqual(read_bytes(config), before)
        r = self.expose(config, "relogin.example.com", "--to", "127.0.0.1:443", "--username",
                        "alice", "--password-stdin", stdin="alice-password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(read_bytes(config), before)
        r = home("unexpose", "relogin.example.com", "--config", config)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_control_down(self):
        # A second control server, stopped after registration.
        work = h.temp_dir(self)
        other = control_api.ControlServer(
            self, work, extra_args=["--ssh-host", "127.0.0.1", "--ssh-port", str(self.ssh_port)])
        r = other.cli("users", "add", "carol", "--password-stdin", stdin="carol-password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        _, config, r = self.register("carol", url=f"http://127.0.0.1:{other.port}")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.expose(config, "up.example.com", "--to", "127.0.0.1:443")
        self.assertEqual(r.returncode, 0, r.stderr)
        other.proc.stop()
        before = read_bytes(config)
        for args in (["expose", "down.example.com", "--to", "127.0.0.1:443"],
                     ["unexpose", "up.example.com"]):
            r = home(*args, "--config", config)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("control unreachable", r.stderr)
            self.assertEqual(read_bytes(config), before)
        # register against a dead server writes nothing either.
        _, config, r = self.register("carol", url=f"http://127.0.0.1:{other.port}")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("control unreachable", r.stderr)
        self.assertFalse(os.path.exists(config))

    def test_ssh_server_down_undoes_the_home(self):
        work = h.temp_dir(self)
        dead_ssh = h.free_port()
        other = control_api.ControlServer(
            self, work, extra_args=["--ssh-host", "127.0.0.1", "--ssh-port", str(dead_ssh)])
        r = other.cli("users", "add", "dave", "--password-stdin", stdin="dave-password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        _, config, r = self.register("dave", url=f"http://127.0.0.1:{other.port}")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("SSH host key", r.stderr)
        self.assertIn("deleted again", r.stderr)
        self.assertFalse(os.path.exists(config))
        status, homes = other.login("dave", "dave-password").call("GET", "/api/homes")
        self.assertEqual((status, homes), (200, []))

    # ---- HTTPS ----

    def test_https_with_ca_bundle(self):
        work = h.temp_dir(self)
        cert, key = os.path.join(work, "c.crt"), os.path.join(work, "c.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=h.WAIT)
        port = h.free_port()
        proc = h.Process(self, [h.CONTROL, "serve", "--data", h.init_data(os.path.join(work, "var")),
                                "--listen-tls", f"127.0.0.1:{port}", "--tls-cert", cert,
                                "--tls-key", key, "--ssh-host", "127.0.0.1", "--ssh-port",
                                str(self.ssh_port)], "control-tls", work)
        h.wait_for_listen(port, proc)
        r = subprocess.run([h.CONTROL, "users", "add", "erin", "--password-stdin", "--data",
                            os.path.join(work, "var")], input="erin-password\n",
                           capture_output=True, text=True, timeout=h.WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        url = f"https://127.0.0.1:{port}"
        _, config, r = self.register("erin", url=url)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not trusted", r.stderr)
        self.assertFalse(os.path.exists(config))
        # The name in the URL must be the certificate's (this one is for 127.0.0.1 only).
        _, config, r = self.register("erin", url=f"https://localhost:{port}",
                                     extra=["--ca-bundle", cert])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not trusted", r.stderr)
        self.assertFalse(os.path.exists(config))
        # Without --ca-bundle the system store is used: OpenSSL's SSL_CERT_FILE stands in for it.
        _, config, r = self.register("erin", url=url, name="system-store",
                                     env=dict(os.environ, SSL_CERT_FILE=cert))
        self.assertEqual(r.returncode, 0, r.stderr)
        _, config, r = self.register("erin", url=url, extra=["--ca-bundle", cert])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f'ca_bundle: "{cert}"', read_text(config))
        # expose verifies with the bundle register saved (the system store would refuse it).
        r = self.expose(config, "tls.example.com", "--to", "127.0.0.1:443")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = home("unexpose", "tls.example.com", "--config", config, "--ca-bundle", cert)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
