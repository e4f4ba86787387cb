"""cloudlink-control's state commands through the real binary: users, homes, routes sync and
authorized-keys, with their exit codes (0 ok, 1 runtime, 2 bad input) and messages."""
import json
import os
import subprocess
import unittest

import harness
from harness import WAIT


class ControlStateCliTest(unittest.TestCase):

    def setUp(self):
        if not harness.CONTROL or not os.access(harness.CONTROL, os.X_OK):
            raise AssertionError("set CLOUDLINK_CONTROL to the built cloudlink-control")
        self.work = harness.temp_dir(self)
        self.data = harness.init_data(os.path.join(self.work, "data"))

    def control(self, *args, stdin=None, data=None):
        return subprocess.run([harness.CONTROL, *args, "--data", data or self.data], input=stdin,
                              capture_output=True, text=True, timeout=WAIT)

    def keygen(self, name):
        path = os.path.join(self.work, name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True,
                       timeout=WAIT, capture_output=True)
        with open(path + ".pub") as f:
            return f.read().split()

    def test_users(self):
        added = self.control("users", "add", "root1", "--admin", "--password-stdin",
                             stdin="a long password\n")
        self.assertEqual(added.returncode, 0, added.stderr)
        self.assertEqual(added.stdout, "added admin root1\n")
        self.assertEqual(self.control("users", "add", "alice", "--password-stdin",
                                      stdin="alice password\n").returncode, 0)
        taken = self.control("users", "add", "alice", "--password-stdin", stdin="another one\n")
        self.assertEqual(taken.returncode, 2)
        self.assertIn("username: alice is taken", taken.stderr)
        short = self.control("users", "add", "bob", "--password-stdin", stdin="short\n")
        self.assertEqual(short.returncode, 2)
        self.assertIn("password", short.stderr)
        no_stdin_flag = self.control("users", "add", "bob")
        self.assertEqual(no_stdin_flag.returncode, 2)
        missing = self.control("users", "approve", "nobody")
        self.assertEqual(missing.returncode, 2)
        self.assertIn("user nobody not found", missing.stderr)
        self.assertEqual(self.control("users", "approve", "alice").returncode, 0)
        listed = self.control("users", "list", "--json")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        users = {u["username"]: u for u in json.loads(listed.stdout)}
        self.assertEqual(set(users), {"alice", "root1"})
        self.assertEqual(users["root1"]["role"], "admin")
        self.assertTrue(users["alice"]["active"])
        self.assertNotIn("hash", listed.stdout)

    def test_homes_and_authorized_keys(self):
        self.control("users", "add", "alice", "--password-stdin", stdin="alice password\n")
        key_type, key, _ = self.keygen("a")
        created = self.control("homes", "create", "Home A", "--owner", "alice", "--key",
                               f"{key_type} {key}", "--json")
        self.assertEqual(created.returncode, 0, created.stderr)
        home = json.loads(created.stdout)
        self.assertEqual(home["ports"], list(range(20000, 20010)))
        self.assertEqual(home["slug"], "home-a")

        line = self.control("authorized-keys", "cloudlink", key_type, key)
        self.assertEqual(line.returncode, 0, line.stderr)
        lines = line.stdout.splitlines()
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith('restrict,port-forwarding,permitopen="192.0.2.1:9",'
                                           'permitlisten="127.0.0.1:20000"'))
        self.assertTrue(lines[0].endswith(f' {key_type} {key}'))
        self.assertEqual(lines[0].count("permitlisten="), 10)
        for args in (["root", key_type, key], ["cloudlink", "ssh-rsa", key],
                     ["cloudlink", key_type, self.keygen("b")[1]]):
            other = self.control("authorized-keys", *args)
            self.assertEqual((other.returncode, other.stdout), (0, ""), args)

        bad = self.control("homes", "create", "x", "--owner", "alice", "--key", "ssh-ed25519 !!")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("public_key", bad.stderr)
        nobody = self.control("homes", "create", "x", "--owner", "nobody", "--key",
                              " ".join(self.keygen("c")[:2]))
        self.assertEqual(nobody.returncode, 2)
        self.assertIn("owner", nobody.stderr)

        deleted = self.control("homes", "delete", home["id"])
        self.assertEqual(deleted.returncode, 0, deleted.stderr)
        gone = self.control("authorized-keys", "cloudlink", key_type, key)
        self.assertEqual((gone.returncode, gone.stdout), (0, ""))
        listed = self.control("homes", "list", "--json")
        self.assertEqual(json.loads(listed.stdout), [])

    def test_authorized_keys_on_a_folder_never_initialised(self):
        # sshd takes the failure as "no key": nobody logs in, and the reason is in its log.
        fresh = os.path.join(self.work, "fresh")
        out = self.control("authorized-keys", "cloudlink", "ssh-ed25519", "AAAA", data=fresh)
        self.assertEqual((out.returncode, out.stdout), (2, ""))
        self.assertIn("never initialised", out.stderr)
        self.assertFalse(os.path.exists(fresh))

    def test_routes_sync_drops_routes_the_state_does_not_have(self):
        harness.routes_add(self, self.data, "manual.example.com", ["127.0.0.1:10001"])
        synced = self.control("routes", "sync")
        self.assertEqual(synced.returncode, 0, synced.stderr)
        self.assertEqual(synced.stdout, "synced 0 routes\n")
        listed = self.control("routes", "list", "--json")
        self.assertEqual(json.loads(listed.stdout), [])


if __name__ == "__main__":
    unittest.main()
