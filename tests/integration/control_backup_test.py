"""cloudlink-control backup / restore with the real programs.

A backup taken while a client creates mappings through the REST API as fast as it can holds
every mapping acknowledged before the backup began; restored onto a fresh data folder, serve
answers for the same users, homes, mappings and audit, and the dataplane relays to the restored
routes. Restore refuses a folder that holds files and hostile or damaged archives, leaving the
folder as it was.
"""
import hashlib
import io
import json
import os
import socket
import stat
import subprocess
import tarfile
import threading
import unittest

import control_api
import harness as h
import sshd_tunnel_test as sshd_setup

SECRETS = {"acme/account.pem": b"-----BEGIN PRIVATE KEY-----\naccount\n",
           "tls/fullchain.pem": b"-----BEGIN CERTIFICATE-----\nchain\n",
           "tls/key.pem": b"-----BEGIN PRIVATE KEY-----\ncontrol\n"}


def control_cli(*args, stdin=None):
    return subprocess.run([h.CONTROL] + [str(a) for a in args], input=stdin, capture_output=True,
                          text=True, timeout=60)


def small_state(testcase, data):
    """A data folder with one admin, made by the CLI."""
    h.init_data(data)
    r = control_cli("users", "add", "root", "--admin", "--password-stdin", "--data", data,
                    stdin="pw-123456789\n")
    testcase.assertEqual(r.returncode, 0, r.stderr)


class EchoServer:
    """Echoes on 127.0.0.1:port (a home's tunnel port) until the test ends."""

    def __init__(self, testcase, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        h.on_cleanup(testcase, self.sock.close)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                while chunk := conn.recv(65536):
                    conn.sendall(chunk)


class ControlBackupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.require_binaries()
        cls.work = h.temp_dir(cls, "control_backup.")
        cls.base = sshd_setup.SshdTunnelTest.pick_port_base()
        cls.serve_args = ["--quota-mappings", "1000", "--port-range",
                          f"{cls.base}-{cls.base + 29}"]

    def fresh(self, name):
        path = os.path.join(self.work, name)
        self.assertFalse(os.path.exists(path))
        return path

    def test_backup_during_a_burst_restores_every_acknowledged_mapping(self):
        data = self.fresh("live")
        server = control_api.ControlServer(self, self.work, data=data, extra_args=self.serve_args)
        alice = server.active_user("alice")
        _, key = control_api.ssh_keygen(self.work, "alice_home")
        home = alice.ok(self, "POST", "/api/homes", {"name": "alice-home", "public_key": key},
                        status=201)
        ports = home["ports"]
        for member, content in SECRETS.items():
            os.makedirs(os.path.join(data, os.path.dirname(member)), exist_ok=True)
            with open(os.path.join(data, member), "wb") as f:
                f.write(content)

        acked = []
        attempted = []
        stop = threading.Event()
        failures = []

        def burst():
            client = server.login("alice", "alice-password")
            i = 0
            while not stop.is_set() and i < 900:
                name = f"m{i}.backup.test"
                attempted.append(name)
                status, body = client.call("POST", f"/api/homes/{home['id']}/mappings",
                                           {"hostname": name, "tls_ports": [ports[i % 10]]})
                if status != 201:
                    failures.append((name, status, body))
                    return
                acked.append(name)
                i += 1

        writer = threading.Thread(target=burst, daemon=True)
        writer.start()
        self.addCleanup(stop.set)
        h.wait_until(lambda: len(acked) >= 30 or failures, what="30 mappings acknowledged")
        before = list(acked)
        archive = os.path.join(self.work, "live.tar")
        r = control_cli("backup", archive, "--data", data)
        during = len(acked)
        h.wait_until(lambda: len(acked) >= during + 20 or failures or not writer.is_alive(),
                     what="more mappings after the backup")
        stop.set()
        writer.join(h.WAIT)
        self.assertEqual(failures, [])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("state/data.mdb", r.stdout)
        self.assertGreater(during, len(before), "the burst kept writing while backup ran")
        self.assertEqual(stat.S_IMODE(os.stat(archive).st_mode), 0o600)
        with tarfile.open(archive) as t:
            names = t.getnames()
            manifest = json.load(t.extractfile("manifest.json"))
        self.assertEqual(names[0], "manifest.json")
        self.assertEqual(sorted(names[1:]), sorted(["state/data.mdb"] + list(SECRETS)))
        self.assertEqual((manifest["format"], manifest["format_version"]), ("cloudlink-backup", 1))

        # Restore onto a fresh folder: routes rebuilt, every acknowledged mapping there.
        restored = self.fresh("restored")
        os.makedirs(os.path.join(restored, "state"))  # empty folders (a package's) are fine
        r = control_cli("restore", archive, "--data", restored)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("restored", r.stdout)
        r = control_cli("routes", "list", "--json", "--data", restored)
        self.assertEqual(r.returncode, 0, r.stderr)
        routes = {entry["host"] for entry in json.loads(r.stdout)}
        self.assertEqual(set(before) - routes, set(), "acknowledged before the backup, but lost")
        self.assertLessEqual(routes, set(attempted))
        for member, content in SECRETS.items():
            path = os.path.join(restored, member)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), content)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, member)
        self.assertFalse(any(n.startswith(".restore") for n in os.listdir(restored)))

        # serve on the restored folder: the same user logs in, the same home and mappings, audit.
        server.proc.stop()
        again = control_api.ControlServer(self, self.work, data=restored,
                                          extra_args=self.serve_args)
        alice2 = again.login("alice", "alice-password")
        mappings = alice2.ok(self, "GET", f"/api/homes/{home['id']}/mappings")
        self.assertLessEqual(set(before), {m["hostname"] for m in mappings})
        root = again.login("root", control_api.ADMIN_PASSWORD)  # the admin came back too
        records = root.ok(self, "GET", "/api/admin/audit?limit=1000")
        created = {rec["target"] for rec in records if rec["action"] == "mappings.create"}
        self.assertLessEqual(set(before), created)

        # The dataplane on the restored folder relays a restored name to the home's port.
        EchoServer(self, ports[0])
        dp = h.Dataplane(self, self.work, data=restored)
        sock = h.connect(dp.port)
        self.addCleanup(sock.close)
        hello = h.client_hello(before[0])
        sock.sendall(hello)
        self.assertEqual(h.recv_exactly(sock, len(hello)), hello)

    def assert_refused(self, archive, folder, message):
        r = control_cli("restore", archive, "--data", folder)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(message, r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        leftovers = [] if not os.path.exists(folder) else [
            os.path.join(d, f) for d, _, files in os.walk(folder) for f in files]
        self.assertEqual(leftovers, [], "a refused restore left files behind")

    def test_restore_refuses_a_folder_with_files(self):
        data = self.fresh("busy")
        small_state(self, data)
        archive = os.path.join(self.work, "busy.tar")
        self.assertEqual(control_cli("backup", archive, "--data", data).returncode, 0)
        r = control_cli("restore", archive, "--data", data)
        self.assertEqual(r.returncode, 2)
        self.assertIn("is not empty", r.stderr)
        self.assertTrue(os.path.exists(os.path.join(data, "state", "data.mdb")))

    def test_restore_refuses_hostile_and_damaged_archives(self):
        data = self.fresh("source")
        small_state(self, data)
        good = os.path.join(self.work, "good.tar")
        self.assertEqual(control_cli("backup", good, "--data", data).returncode, 0)
        with tarfile.open(good) as t:
            manifest = t.extractfile("manifest.json").read()
            state = t.extractfile("state/data.mdb").read()

        def tar(name, members):
            path = os.path.join(self.work, name)
            with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
                for member_name, content, kind in members:
                    info = tarfile.TarInfo(member_name)
                    info.type = kind
                    if kind == tarfile.SYMTYPE:
                        info.linkname = "/etc/shadow"
                    info.size = len(content) if kind == tarfile.REGTYPE else 0
                    t.addfile(info, io.BytesIO(content) if kind == tarfile.REGTYPE else None)
            return path

        reg = tarfile.REGTYPE
        manifest_v9 = manifest.replace(b'"format_version": 1', b'"format_version": 9')
        damaged = bytearray(state)
        damaged[len(damaged) // 2] ^= 0xFF
        cases = [
            (tar("traversal.tar", [("manifest.json", manifest, reg),
                                   ("../escape/data.mdb", state, reg)]),
             "is not part of a backup"),
            (tar("symlink.tar", [("manifest.json", manifest, reg),
                                 ("state/data.mdb", b"", tarfile.SYMTYPE)]),
             "not a regular file"),
            (tar("no_manifest.tar", [("state/data.mdb", state, reg)]),
             "does not start with manifest.json"),
            (tar("version.tar", [("manifest.json", manifest_v9, reg),
                                 ("state/data.mdb", state, reg)]),
             "format version 9"),
            (tar("damaged.tar", [("manifest.json", manifest, reg),
                                 ("state/data.mdb", bytes(damaged), reg)]),
             "SHA-256 differs"),
            (os.path.join(self.work, "missing.tar"), "missing.tar"),
        ]
        for i, (archive, message) in enumerate(cases):
            with self.subTest(archive=os.path.basename(archive)):
                self.assert_refused(archive, os.path.join(self.work, f"target{i}"), message)

        # A state file that is not LMDB at all, with a manifest that vouches for it: the check
        # runs in a child, so the refusal is a message, not a crash.
        junk = b"\xde\xad\xbe\xef" * 4096
        forged = json.loads(manifest)
        forged["members"] = [{"name": "state/data.mdb", "bytes": len(junk),
                              "sha256": hashlib.sha256(junk).hexdigest()}]
        path = tar("forged.tar", [("manifest.json", json.dumps(forged).encode(), reg),
                                  ("state/data.mdb", junk, reg)])
        self.assert_refused(path, os.path.join(self.work, "target_forged"), "does not open")


if __name__ == "__main__":
    unittest.main()
