"""`cloudlink-control init`, the first-run step on a VPS, through the real binary: a fresh
folder becomes one that serves (its admin logs in), control.conf is edited in place with its
comments kept, a re-run changes nothing, a conflicting re-run is refused unless --force, and
every other command refuses a folder init never made. Also control's sd_notify: READY once
listening, watchdog pings while the loop turns, STOPPING at SIGTERM (a NOTIFY_SOCKET of our
own stands in for systemd).

systemctl is a recording script (--systemctl), so no service of this machine is touched.
"""
import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import unittest

import control_api
import harness as h

PASSWORD = "admin-password-1"
SHIPPED_CONF = """\
# /etc/cloudlink/control.conf: settings of `cloudlink-control serve` (names as its flags).

# The VPS's own DNS name, for control's certificate:
# acme-hostname = vps.example.net

# An operator's own choices, kept:
registration = closed
quota_homes=3
"""


class ControlInit(unittest.TestCase):
    def setUp(self):
        h.require_binaries(control=True, dataplane=False)
        self.work = h.temp_dir(self, "control_init.")
        os.chmod(self.work, 0o755)
        self.data = os.path.join(self.work, "var")
        self.conf = os.path.join(self.work, "etc", "control.conf")
        os.makedirs(os.path.dirname(self.conf))
        with open(self.conf, "w") as f:
            f.write(SHIPPED_CONF)
        # A stand-in for systemctl that records each call.
        self.calls = os.path.join(self.work, "systemctl.calls")
        self.systemctl = os.path.join(self.work, "systemctl")
        with open(self.systemctl, "w") as f:
            f.write(f'#!/bin/sh\necho "$@" >> {self.calls}\n')
        os.chmod(self.systemctl, 0o755)

    def init(self, *extra, password=PASSWORD, domain="Relay.Example.com"):
        argv = [h.CONTROL, "init", "--data", self.data, "--config", self.conf,
                "--systemctl", self.systemctl, "--acme-email", "ops@example.com"]
        if domain:
            argv += ["--domain", domain]
        if password is not None:
            argv += ["--admin", "root", "--password-stdin"]
        return subprocess.run(argv + list(extra), input=(password or "") + "\n",
                              capture_output=True, text=True, timeout=h.WAIT)

    def systemctl_calls(self):
        if not os.path.exists(self.calls):
            return []
        with open(self.calls) as f:
            return f.read().splitlines()

    def read_conf(self):
        with open(self.conf) as f:
            return f.read()

    def serve(self, *args):
        port = h.free_port()
        proc = h.Process(self, [h.CONTROL, "serve", "--listen", f"127.0.0.1:{port}",
                                "--config", os.devnull] + list(args),
                         f"control-{port}", self.work)
        h.wait_for_listen(port, proc)
        return proc, port

    def login(self, port, password):
        return control_api.Client(port).call("POST", "/api/login",
                                             {"username": "root", "password": password})

    def test_a_fresh_folder_serves_and_its_admin_logs_in(self):
        r = self.init()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"initialised {self.data}", r.stdout)
        self.assertIn("added admin root", r.stdout)
        self.assertIn(f"to {self.conf}", r.stdout)
        self.assertEqual(self.systemctl_calls(),
                         ["try-restart cloudlink-control.service",
                          "enable --now cloudlink-control.service cloudlink-dataplane.service "
                          "cloudlink-reaper.service"])
        # Group access for the dataplane and sshd's key lookup: what UMask=0007 would make.
        for name in ("data.mdb", "lock.mdb"):
            mode = stat.S_IMODE(os.stat(os.path.join(self.data, "state", name)).st_mode)
            self.assertEqual(mode, 0o660, name)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.data, "routes",
                                                           "lock.mdb")).st_mode), 0o660)

        # The shipped comments and the operator's own settings stay; the new values land after
        # their commented example or at the end under a heading.
        conf = self.read_conf()
        self.assertTrue(conf.startswith(SHIPPED_CONF.split("registration")[0].replace(
            "# acme-hostname = vps.example.net\n",
            "# acme-hostname = vps.example.net\nacme-hostname = relay.example.com\n")), conf)
        self.assertIn("# An operator's own choices, kept:\nregistration = closed\nquota_homes=3\n",
                      conf)
        self.assertIn("\n# Written by `cloudlink-control init --domain relay.example.com`\n", conf)
        for line in (f"data = {self.data}", "listen-tls = 127.0.0.1:8443",
                     "acme-directory = https://acme-v02.api.letsencrypt.org/directory",
                     "acme-email = ops@example.com", f"tls-dir = {self.data}/tls",
                     "ssh-host = relay.example.com", "accept-proxy-from = 127.0.0.1/32"):
            self.assertIn(line + "\n", conf)

        # serve on the new folder, the admin logs in.
        _, port = self.serve("--data", self.data)
        status, body = self.login(port, PASSWORD)
        self.assertEqual(status, 200, body)

        # serve reads every key init wrote (data included: no --data here), with an ACME
        # directory where nothing answers (set by init, as an operator moving from staging
        # would) and the listener on a free port.
        r = self.init("--force", "--acme-directory", "https://127.0.0.1:1/dir", "--no-start")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("wrote acme-directory to", r.stdout)
        tls_port = h.free_port()
        # A flag whose partner is in the file is taken (--acme-email needs --acme-hostname).
        proc = h.Process(self, [h.CONTROL, "serve", "--config", self.conf, "--listen-tls",
                                f"127.0.0.1:{tls_port}", "--acme-email", "flag@example.com"],
                         "control-conf", self.work)
        h.wait_for_listen(tls_port, proc)
        self.assertIn(f"data {self.data}", proc.stderr_text())
        listed = h.run([h.CONTROL, "routes", "list", "--json", "--data", self.data])
        self.assertEqual(listed.returncode, 0, listed.stderr)
        h.wait_until(lambda: "relay.example.com" in h.run(
            [h.CONTROL, "routes", "list", "--data", self.data]).stdout,
            what="control's own route for relay.example.com")

    def test_a_rerun_changes_nothing_and_a_conflict_needs_force(self):
        self.assertEqual(self.init().returncode, 0)
        conf_before = os.stat(self.conf)
        text_before = self.read_conf()
        os.remove(self.calls)

        again = self.init(password="another-password")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("initialised already", again.stdout)
        self.assertIn("user root exists (admin): left as it is, password unchanged", again.stdout)
        self.assertIn("in place already", again.stdout)
        self.assertEqual(self.read_conf(), text_before)
        self.assertEqual(os.stat(self.conf).st_ino, conf_before.st_ino)  # not even rewritten
        self.assertEqual(self.systemctl_calls(),
                         ["enable --now cloudlink-control.service cloudlink-dataplane.service "
                          "cloudlink-reaper.service"])
        _, port = self.serve("--data", self.data)
        self.assertEqual(self.login(port, PASSWORD)[0], 200)
        self.assertEqual(self.login(port, "another-password")[0], 401)

        # Another domain: refused, nothing changed, unless --force.
        other = self.init(domain="other.example.com")
        self.assertEqual(other.returncode, 2, other.stderr)
        self.assertIn("acme-hostname is 'relay.example.com'", other.stderr)
        self.assertIn("--force", other.stderr)
        self.assertEqual(self.read_conf(), text_before)
        forced = self.init("--force", domain="other.example.com")
        self.assertEqual(forced.returncode, 0, forced.stderr)
        conf = self.read_conf()
        self.assertIn("acme-hostname = other.example.com\n", conf)
        self.assertIn("ssh-host = other.example.com\n", conf)
        self.assertNotIn("relay.example.com\n", conf.replace("init --domain relay", ""))
        self.assertEqual(conf.count("acme-hostname ="), 2)  # the example and the setting
        self.assertEqual(self.systemctl_calls()[-2:],
                         ["try-restart cloudlink-control.service",
                          "enable --now cloudlink-control.service cloudlink-dataplane.service "
                          "cloudlink-reaper.service"])

    def test_bad_input_changes_nothing(self):
        cases = [
            (self.init, {"domain": "*.example.com"}, "wildcard"),
            (self.init, {"domain": "bad_name.example.com"}, "--domain"),
            (self.init, {"password": "short"}, "password"),
        ]
        for run, kwargs, needle in cases:
            with self.subTest(kwargs=kwargs):
                r = run(**kwargs)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(needle, r.stderr)
                self.assertFalse(os.path.exists(self.data))
                self.assertEqual(self.read_conf(), SHIPPED_CONF)
        r = h.run([h.CONTROL, "init", "--data", self.data, "--admin", "root", "--no-start"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--password-stdin", r.stderr)
        r = h.run([h.CONTROL, "init", "--data", self.data, "--owner", "no-such-user-here",
                   "--no-start"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no-such-user-here", r.stderr)
        self.assertFalse(os.path.exists(self.data))

    def test_the_folder_goes_to_its_owner(self):
        if os.geteuid() != 0:
            self.skipTest("chown needs root")
        nobody = pwd.getpwnam("nobody")
        r = self.init("--owner", "nobody", "--no-start")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("owner nobody:", r.stdout)
        st = os.stat(self.data)
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                         (nobody.pw_uid, nobody.pw_gid, 0o750))
        for sub in ("state", "routes"):
            for name in os.listdir(os.path.join(self.data, sub)):
                st = os.stat(os.path.join(self.data, sub, name))
                self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (nobody.pw_uid, 0o660))
        self.assertEqual(self.systemctl_calls(), [])  # --no-start
        again = self.init("--owner", "nobody", "--no-start")
        self.assertIn("owner nobody already", again.stdout)

    def test_without_systemd_nothing_is_started(self):
        if os.path.isdir("/run/systemd/system"):
            self.skipTest("systemd runs this machine; init would start its services")
        r = h.run([h.CONTROL, "init", "--data", self.data, "--no-chown"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("systemd is not running here", r.stdout)

    def test_every_other_command_refuses_a_folder_never_initialised(self):
        fresh = os.path.join(self.work, "fresh")
        commands = [
            ["homes", "list"], ["users", "list"], ["users", "approve", "x"],
            ["routes", "list"], ["routes", "sync"], ["routes", "add", "a.test", "127.0.0.1:1"],
            ["routes", "rm", "a.test"], ["invitations", "list"],
            ["authorized-keys", "cloudlink", "ssh-ed25519", "AAAA"],
            ["serve", "--listen", f"127.0.0.1:{h.free_port()}", "--config", os.devnull],
        ]
        for args in commands:
            with self.subTest(args=args):
                r = h.run([h.CONTROL, *args, "--data", fresh])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                lines = r.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn(f"data folder {fresh} was never initialised", lines[0])
                self.assertIn(f"cloudlink-control init --data {fresh}", lines[0])
                self.assertFalse(os.path.exists(fresh))
        r = h.run([h.CONTROL, "users", "add", "x", "--password-stdin", "--data", fresh])
        self.assertEqual(r.returncode, 2, r.stderr)
        if not os.path.exists("/var/lib/cloudlink/state/data.mdb"):
            # The default folder: named without --data in the advice.
            r = h.run([h.CONTROL, "homes", "list"])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("data folder /var/lib/cloudlink was never initialised", r.stderr)
            self.assertIn("run `cloudlink-control init ...`", r.stderr)


class ControlServiceNotify(unittest.TestCase):
    def test_ready_watchdog_and_stopping(self):
        h.require_binaries(control=True, dataplane=False)
        work = h.temp_dir(self, "control_notify.")
        data = h.init_data(os.path.join(work, "var"))
        path = os.path.join(work, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        sock.settimeout(h.WAIT)
        port = h.free_port()
        saved = dict(os.environ)
        os.environ.update(NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
        try:
            proc = h.Process(self, [h.CONTROL, "serve", "--data", data, "--listen",
                                    f"127.0.0.1:{port}", "--config", os.devnull],
                             "control-notify", work)
        finally:
            os.environ.clear()
            os.environ.update(saved)

        def next_message():
            return sock.recv(4096).decode()

        first = next_message()
        self.assertIn("READY=1", first)
        self.assertIn(f"STATUS=serving on port {port}", first)
        # Listening by then: READY comes after the bind.
        with socket.create_connection(("127.0.0.1", port), timeout=h.WAIT):
            pass
        # Half of WatchdogSec, from the loop: several pings within a second.
        pings = [next_message() for _ in range(4)]
        self.assertEqual(pings, ["WATCHDOG=1"] * 4)
        proc.send_signal(signal.SIGTERM)
        while True:
            message = next_message()
            if message != "WATCHDOG=1":
                break
        self.assertEqual(message, "STOPPING=1")
        self.assertEqual(proc.wait(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
