#!/usr/bin/env python3
"""common/acme against pebble (Debian's ACME test server, real HTTP-01 validation, its DNS
answered by pebble-challtestsrv with 127.0.0.1): a certificate is issued, verifies against
pebble's root and serves curl over TLS; the account key is kept and reused; a challenge the CA
cannot reach, or a CA that is not trusted, fails with a clear error and leaves the files that
were there untouched. The path through dataplane :80 → sshd → agent comes with the agent's
`cert` command."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from pebble import Pebble  # noqa: E402

CLIENT = os.environ.get("CLOUDLINK_ACME_TESTCLIENT", "")


class AcmePebble(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CLIENT:
            raise AssertionError("set CLOUDLINK_ACME_TESTCLIENT")
        cls.work = h.temp_dir(cls)
        cls.challenge_port = h.free_port()
        cls.ca = Pebble(cls, cls.work, http_port=cls.challenge_port)
        cls.directory = cls.ca.directory
        cls.root = cls.ca.root

    def obtain(self, out, hostname, challenge_port=None, ca_bundle=None, key="account.pem"):
        os.makedirs(out, exist_ok=True)
        return h.run([CLIENT, "--directory", self.directory,
                      "--ca-bundle", ca_bundle or self.ca.https_ca,
                      "--account-key", os.path.join(self.work, key), "--hostname", hostname,
                      "--challenge-port", challenge_port or self.challenge_port, "--out", out],
                     timeout=120)

    def test_issues_a_certificate_that_verifies_and_serves(self):
        out = os.path.join(self.work, "issued")
        r = self.obtain(out, "app.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        chain, key = os.path.join(out, "fullchain.pem"), os.path.join(out, "key.pem")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        v = h.run(["openssl", "verify", "-CAfile", self.root, "-untrusted", chain, chain])
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        san = h.run(["openssl", "x509", "-in", chain, "-noout", "-ext", "subjectAltName"])
        self.assertIn("DNS:app.test", san.stdout)
        # A TLS server with it, and curl trusting only pebble's root.
        port = h.free_port()
        server = h.Process(self, ["openssl", "s_server", "-accept", f"127.0.0.1:{port}",
                                  "-cert", chain, "-cert_chain", chain, "-key", key, "-www",
                                  "-quiet"], "s_server", self.work)
        h.wait_for_listen(port, server)
        c = h.run(["curl", "-sS", "--max-time", "10", "--cacert", self.root, "--resolve",
                   f"app.test:{port}:127.0.0.1", f"https://app.test:{port}/"])
        self.assertEqual(c.returncode, 0, c.stderr)
        self.assertIn("s_server", c.stdout)

    def test_account_key_is_kept_and_reused(self):
        first = self.obtain(os.path.join(self.work, "a1"), "one.test", key="reused.pem")
        second = self.obtain(os.path.join(self.work, "a2"), "two.test", key="reused.pem")
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(second.returncode, 0, second.stderr)
        account = [line for line in first.stdout.splitlines() if line.startswith("account ")]
        self.assertEqual(len(account), 1)
        self.assertIn(account[0], second.stdout)
        self.assertEqual(os.stat(os.path.join(self.work, "reused.pem")).st_mode & 0o777, 0o600)

    def test_unreachable_challenge_fails_clearly_and_keeps_old_files(self):
        out = os.path.join(self.work, "kept")
        os.makedirs(out)
        for name in ("fullchain.pem", "key.pem"):
            with open(os.path.join(out, name), "w") as f:
                f.write(f"old {name}\n")
        # The CA validates on challenge_port; the client answers on another port.
        r = self.obtain(out, "refused.test", challenge_port=h.free_port())
        self.assertEqual(r.returncode, 1)
        self.assertIn("http-01 for refused.test failed", r.stderr)
        self.assertIn("connection", r.stderr)
        for name in ("fullchain.pem", "key.pem"):
            with open(os.path.join(out, name)) as f:
                self.assertEqual(f.read(), f"old {name}\n")
        self.assertEqual(sorted(os.listdir(out)), ["fullchain.pem", "key.pem"])

    def test_untrusted_acme_server_is_refused(self):
        r = self.obtain(os.path.join(self.work, "untrusted"), "x.test", ca_bundle=self.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn("ACME: directory", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
