"""A real OpenSSH sshd with deploy/sshd/cloudlink.conf enforces each home's tunnels.

sshd runs as root on a free loopback port with its own host key and a config made of a few
test lines plus the drop-in, whose AuthorizedKeysCommand points at the built cloudlink-control
(copied into a root-owned directory, as sshd requires) with a temporary --data. The test makes
the `cloudlink` and `cloudlink-keys` system users when they are missing (and removes those it
made). Skipped only when sshd cannot run here: not root, or no /usr/sbin/sshd.
"""
import json
import os
import pwd
import grp
import shutil
import subprocess
import unittest

import harness
import sshd_fixture
from harness import WAIT

SSHD = "/usr/sbin/sshd"
DROP_IN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "sshd",
                       "cloudlink.conf")
INSTALLED_BINARY = "/usr/local/bin/cloudlink-control"
INSTALLED_DATA = "--data /var/lib/cloudlink"
SSH_TIMEOUT = 30


# The helpers are sshd_fixture's (shared with tenant_sessions_test); the underscored names stay
# for the tests that import them from here.
_skip_reason = sshd_fixture.skip_reason
_ensure_user = sshd_fixture.ensure_user
_keygen = sshd_fixture.keygen
_root_owned_bin_dir = sshd_fixture.root_owned_bin_dir


@unittest.skipIf(_skip_reason() is not None, _skip_reason() or "")
class SshdTunnelTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not harness.CONTROL or not os.access(harness.CONTROL, os.X_OK):
            raise AssertionError("set CLOUDLINK_CONTROL to the built cloudlink-control")
        cls.work = harness.temp_dir(cls, "cloudlink-sshd.")
        _ensure_user(cls, "cloudlink")
        # '*': no password, but not a locked account (sshd without PAM refuses locked ones).
        subprocess.run(["usermod", "-p", "*", "cloudlink"], check=True, timeout=WAIT,
                       capture_output=True)
        _ensure_user(cls, "cloudlink-keys")
        keys_group = grp.getgrgid(pwd.getpwnam("cloudlink-keys").pw_gid).gr_name

        bin_dir = _root_owned_bin_dir(cls)
        cls.control = os.path.join(bin_dir, "cloudlink-control")
        shutil.copy(harness.CONTROL, cls.control)
        os.chmod(cls.control, 0o755)

        # The data dir: root's, readable (and its lock files writable) by cloudlink-keys' group.
        cls.data = os.path.join(cls.work, "data")
        os.chmod(cls.work, 0o755)
        os.makedirs(cls.data)
        harness.init_data(cls.data)
        cls.control_ok("users", "add", "alice", "--password-stdin", stdin="alice-password\n")
        cls.control_ok("users", "add", "bob", "--password-stdin", stdin="bob-password\n")
        # A block of 20 ports for two homes, away from the kernel's ephemeral range.
        cls.base = cls.pick_port_base()
        cls.key_a = os.path.join(cls.work, "home_a")
        cls.key_b = os.path.join(cls.work, "home_b")
        cls.home_a = cls.create_home("alice", "A", _keygen(cls.key_a))
        cls.home_b = cls.create_home("bob", "B", _keygen(cls.key_b))
        assert cls.home_a["ports"][0] == cls.base, cls.home_a
        assert cls.home_b["ports"][0] == cls.base + 10, cls.home_b
        for root, dirs, files in os.walk(cls.data):
            for name in dirs + files:
                path = os.path.join(root, name)
                os.chown(path, 0, grp.getgrnam(keys_group).gr_gid)
                os.chmod(path, 0o770 if os.path.isdir(path) else 0o660)
        os.chown(cls.data, 0, grp.getgrnam(keys_group).gr_gid)
        os.chmod(cls.data, 0o750)

        cls.start_sshd()

    @classmethod
    def control_ok(cls, *args, stdin=None):
        proc = subprocess.run([cls.control, *args, "--data", cls.data], input=stdin,
                              capture_output=True, text=True, timeout=WAIT)
        if proc.returncode != 0:
            raise AssertionError(f"cloudlink-control {' '.join(args)}: {proc.stderr}")
        return proc.stdout

    @classmethod
    def create_home(cls, owner, name, key, block=10):
        out = cls.control_ok("homes", "create", name, "--owner", owner, "--key", key, "--json",
                             "--port-range", f"{cls.base}-{cls.base + 29}", "--port-block",
                             str(block))
        return json.loads(out)

    @staticmethod
    def pick_port_base():
        busy = harness.listening_ports()
        for base in range(20000 + (os.getpid() % 300) * 30, 31000, 30):
            if not any(p in busy for p in range(base, base + 30)):
                return base
        raise AssertionError("no 30 free ports in 20000-31000")

    @classmethod
    def start_sshd(cls):
        host_key = os.path.join(cls.work, "host_key")
        _keygen(host_key)
        with open(DROP_IN) as f:
            drop_in = f.read()
        for installed in (INSTALLED_BINARY, INSTALLED_DATA):
            assert installed in drop_in, f"{DROP_IN} no longer has {installed!r}"
        drop_in = drop_in.replace(INSTALLED_BINARY, cls.control)
        drop_in = drop_in.replace(INSTALLED_DATA, f"--data {cls.data}")
        cls.sshd, cls.ssh_port = sshd_fixture.run_sshd(cls, cls.work, host_key, drop_in)

    def ssh_argv(self, key, *extra):
        return ["ssh", "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes",
                "-o", "IdentityAgent=none", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=10", "-o", "ExitOnForwardFailure=yes",
                "-o", "ServerAliveInterval=5", "-o", "LogLevel=ERROR",
                "-p", str(self.ssh_port), *extra, "cloudlink@127.0.0.1"]

    def ssh(self, key, *extra, command=()):
        return subprocess.run(self.ssh_argv(key, *extra) + list(command), capture_output=True,
                              text=True, timeout=SSH_TIMEOUT, stdin=subprocess.DEVNULL)

    def open_tunnel(self, key, port, target_port, name):
        proc = harness.Process(self, self.ssh_argv(key, "-N", "-R",
                                                   f"127.0.0.1:{port}:127.0.0.1:{target_port}"),
                               name, self.work)
        harness.wait_for_listen(port, proc, timeout=SSH_TIMEOUT)
        return proc

    def home_server(self, payload):
        def handler(backend, conn):
            conn.sock.sendall(payload)
        return harness.TcpBackend(self, handler)

    def assert_forward_refused(self, key, port):
        proc = self.ssh(key, "-N", "-R", f"127.0.0.1:{port}:127.0.0.1:9")
        self.assertNotEqual(proc.returncode, 0, f"-R {port} was allowed")
        self.assertIn("forwarding failed", proc.stderr)
        self.assertNotIn(port, harness.listening_ports())

    # ---- tests ----

    def test_home_listens_on_its_own_ports(self):
        backend = self.home_server(b"hello from home A\n")
        port = self.home_a["ports"][3]
        tunnel = self.open_tunnel(self.key_a, port, backend.port, "tunnel_a")
        with harness.connect(port) as s:
            data, _ = harness.recv_until_closed(s)
        self.assertEqual(data, b"hello from home A\n")
        self.assertTrue(tunnel.alive())

    def test_home_cannot_listen_on_other_ports(self):
        self.assert_forward_refused(self.key_a, self.home_b["ports"][0])  # B's
        self.assert_forward_refused(self.key_a, self.base + 25)           # nobody's
        self.assert_forward_refused(self.key_a, harness.free_port())      # arbitrary
        # Not on another address of its own port either (GatewayPorts no, permitlisten).
        proc = self.ssh(self.key_a, "-N", "-R", f"0.0.0.0:{self.home_a['ports'][0]}:127.0.0.1:9")
        self.assertNotEqual(proc.returncode, 0)

    def test_no_shell_or_command(self):
        for command in (["true"], ["echo", "pwned"]):
            proc = self.ssh(self.key_a, command=command)
            self.assertNotEqual(proc.returncode, 0, f"ssh {command} succeeded")
            self.assertNotIn("pwned", proc.stdout)
        proc = self.ssh(self.key_a, "-tt", command=["echo", "pwned"])
        self.assertNotEqual(proc.returncode, 0)
        self.assertNotIn("pwned", proc.stdout)

    def test_drop_in_changes_nothing_for_other_users(self):
        # As installed on Debian: sshd_config includes sshd_config.d/*.conf before its own lines.
        inc = os.path.join(self.work, "inc")
        os.makedirs(inc, exist_ok=True)
        shutil.copy(DROP_IN, os.path.join(inc, "cloudlink.conf"))
        config = os.path.join(inc, "sshd_config")
        with open(config, "w") as f:
            f.write(f"Include {inc}/*.conf\nHostKey {self.work}/host_key\nX11Forwarding yes\n")

        def effective(user):
            proc = subprocess.run([SSHD, "-T", "-f", config, "-C",
                                   f"user={user},host=x,addr=127.0.0.1"],
                                  capture_output=True, text=True, timeout=WAIT)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            return dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)

        other = effective("someone")
        self.assertEqual(other["x11forwarding"], "yes")
        self.assertEqual(other["authorizedkeyscommand"], "none")
        tunnel = effective("cloudlink")
        self.assertEqual(tunnel["x11forwarding"], "no")
        self.assertEqual(tunnel["allowtcpforwarding"], "remote")
        self.assertEqual(tunnel["permittty"], "no")
        self.assertEqual(tunnel["authorizedkeysfile"], "none")
        self.assertEqual(tunnel["passwordauthentication"], "no")
        self.assertEqual(tunnel["clientaliveinterval"], "15")

    def test_unknown_key_is_refused(self):
        stranger = os.path.join(self.work, "stranger")
        if not os.path.exists(stranger):
            _keygen(stranger)
        proc = self.ssh(stranger, "-N", "-R", f"127.0.0.1:{self.home_a['ports'][0]}:127.0.0.1:9")
        self.assertEqual(proc.returncode, 255)
        self.assertIn("Permission denied", proc.stderr)

    def test_deleted_home_is_refused(self):
        key = os.path.join(self.work, "home_c")
        home = self.create_home("alice", "C", _keygen(key), block=5)
        port = home["ports"][0]
        backend = self.home_server(b"C\n")
        tunnel = self.open_tunnel(key, port, backend.port, "tunnel_c")
        tunnel.stop()
        harness.wait_until(lambda: port not in harness.listening_ports(), WAIT,
                           f"sshd to close {port}")
        self.control_ok("homes", "delete", home["id"])
        proc = self.ssh(key, "-N", "-R", f"127.0.0.1:{port}:127.0.0.1:{backend.port}")
        self.assertEqual(proc.returncode, 255)
        self.assertIn("Permission denied", proc.stderr)
        self.assertNotIn(port, harness.listening_ports())


if __name__ == "__main__":
    unittest.main()
