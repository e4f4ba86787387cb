#!/usr/bin/env python3
"""The whole path a home service is reached by, with real processes on loopback:
curl -> cloudlink-dataplane -> sshd (deploy/sshd/cloudlink.conf, keys from
cloudlink-control authorized-keys) -> cloudlink-home run -> openssl s_server.

The home is made the way a user makes it: `cloudlink-home keygen`, `register` against
`cloudlink-control serve`, `expose` with two connections; `run` brings both tunnels up; curl is
answered through the dataplane, and through each tunnel port on its own. After `unexpose` the name is unknown to the dataplane again.
sshd is set up as sshd_tunnel_test.py does (its helpers are reused). Skipped only when sshd
cannot run here (not root, no /usr/sbin/sshd).
"""
import grp
import os
import pwd
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import control_api  # noqa: E402
import harness as h  # noqa: E402
import home_enroll_test as enroll  # noqa: E402
import sshd_tunnel_test as sshd_setup  # noqa: E402

NAME = "app.test"


@unittest.skipIf(sshd_setup._skip_reason() is not None, sshd_setup._skip_reason() or "")
class HomeTunnelTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        h.require_binaries(control=True, dataplane=True)
        if not enroll.HOME or not os.access(enroll.HOME, os.X_OK):
            raise AssertionError("set CLOUDLINK_HOME to the built cloudlink-home")
        cls.work = h.temp_dir(cls, "cloudlink-tunnel.")
        os.chmod(cls.work, 0o755)
        cls.setup_vps(cls)
        cls.dp = h.Dataplane(cls, cls.work, data=cls.data)
        cert, key = h.make_cert(cls.work, NAME)
        cls.s_server, cls.s_server_port = h.start_s_server(cls, cls.work, cert, key)

    @staticmethod
    def setup_vps(cls):
        """The VPS side without the dataplane: control serve (user alice, password alice-pw-1)
        and sshd with the cloudlink drop-in; home_reload_test.py shares it."""
        sshd_setup._ensure_user(cls, "cloudlink")
        subprocess.run(["usermod", "-p", "*", "cloudlink"], check=True, timeout=h.WAIT,
                       capture_output=True)
        sshd_setup._ensure_user(cls, "cloudlink-keys")
        bin_dir = sshd_setup._root_owned_bin_dir(cls)
        cls.key_command = os.path.join(bin_dir, "cloudlink-control")
        shutil.copy(h.CONTROL, cls.key_command)
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
        cls.share_state_with_key_command()
        cls.start_sshd()

    @classmethod
    def share_state_with_key_command(cls):
        """The key command runs as cloudlink-keys: group access to DATA/state, nothing else."""
        gid = grp.getgrgid(pwd.getpwnam("cloudlink-keys").pw_gid).gr_gid
        state = os.path.join(cls.data, "state")
        for path, mode in [(cls.data, 0o750), (state, 0o770)] + [
                (os.path.join(state, f), 0o660) for f in os.listdir(state)]:
            os.chown(path, 0, gid)
            os.chmod(path, mode)

    @classmethod
    def start_sshd(cls):
        host_key = os.path.join(cls.work, "host_key")
        sshd_setup._keygen(host_key)
        with open(sshd_setup.DROP_IN) as f:
            drop_in = f.read()
        drop_in = drop_in.replace(sshd_setup.INSTALLED_BINARY, cls.key_command)
        drop_in = drop_in.replace(sshd_setup.INSTALLED_DATA, f"--data {cls.data}")
        config = os.path.join(cls.work, "sshd_config")
        with open(config, "w") as f:
            f.write(f"Port {cls.ssh_port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
                    "PidFile none\nUsePAM no\nAuthorizedKeysFile none\nAllowUsers cloudlink\n\n")
            f.write(drop_in)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        cls.sshd = h.Process(cls, [sshd_setup.SSHD, "-D", "-e", "-f", config], "sshd", cls.work)
        h.wait_for_listen(cls.ssh_port, cls.sshd)

    def home_ok(self, *args, stdin=None):
        r = enroll.home(*args, stdin=stdin)
        self.assertEqual(r.returncode, 0, f"cloudlink-home {' '.join(args)}: {r.stderr}")
        return r.stdout

    def test_curl_reaches_the_home_service_through_its_tunnels(self):
        folder = h.temp_dir(self)
        key = os.path.join(folder, "home_key")
        config = os.path.join(folder, "cloudlink.yaml")
        self.home_ok("keygen", "--output", key)
        self.home_ok("register", "--server", f"http://127.0.0.1:{self.control.port}",
                     "--username", "alice", "--password-stdin", "--public-key", key + ".pub",
                     "--private-key", key, "--config", config, stdin="alice-pw-1\n")
        self.home_ok("expose", NAME, "--to", f"127.0.0.1:{self.s_server_port}",
                     "--connections", "2", "--config", config)
        ports = self.control.routes_on_disk()[NAME]["targets"]
        self.assertEqual(len(ports), 2)

        agent = h.Process(self, [enroll.HOME, "--config", config, "run"], "agent", folder)
        for target in ports:
            h.wait_for_listen(int(target.rsplit(":", 1)[1]), agent, timeout=30)
        r = h.curl(NAME, self.dp.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        # s_server -www prints its own command line: the answer came from the home service.
        self.assertIn(f"s_server -accept 127.0.0.1:{self.s_server_port}", r.stdout)
        entry = self.dp.wait_log(lambda e: e["sni"] == NAME, "curl's access log line")
        self.assertEqual(entry["result"], "ok")
        self.assertIn(entry["target"], ports)
        # Each tunnel on its own (the dataplane's choice between them is its business).
        for target in ports:
            r = h.curl(NAME, int(target.rsplit(":", 1)[1]))
            self.assertEqual(r.returncode, 0, f"through {target}: {r.stderr}")
            self.assertIn(f"s_server -accept 127.0.0.1:{self.s_server_port}", r.stdout)

        self.home_ok("unexpose", NAME, "--config", config)
        r = h.curl(NAME, self.dp.port)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unrecognized name", r.stderr.lower())
        agent.stop()


if __name__ == "__main__":
    unittest.main()
