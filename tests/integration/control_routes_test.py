#!/usr/bin/env python3
"""cloudlink-control `routes` commands, run as a real process on a temporary --data dir.

The binary comes from $CLOUDLINK_CONTROL (set by CTest).
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness as h

CONTROL = os.environ.get("CLOUDLINK_CONTROL", "")


class ControlRoutesTest(unittest.TestCase):
    def setUp(self):
        if not CONTROL or not os.access(CONTROL, os.X_OK):
            self.fail("set CLOUDLINK_CONTROL to the cloudlink-control binary")
        self.data = tempfile.mkdtemp(prefix="control_routes_test.")
        self.addCleanup(shutil.rmtree, self.data, ignore_errors=True)
        init = subprocess.run([CONTROL, "init", "--no-start", "--no-chown", "--data", self.data],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(init.returncode, 0, init.stderr)

    def run_control(self, *args, data=True):
        argv = [CONTROL, *args]
        if data:
            argv += ["--data", self.data]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30)

    def ok(self, *args):
        proc = self.run_control(*args)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        return proc.stdout

    def routes(self):
        return json.loads(self.ok("routes", "list", "--json"))

    def table(self):
        return self.ok("routes", "list")

    def test_add_list_rm(self):
        out = self.ok("routes", "add", "app.test", "127.0.0.1:8443,[::1]:9443",
                      "--proxy-protocol", "v2", "--http-target", "127.0.0.1:8080",
                      "--home", "home-1")
        self.assertIn("added", out)
        self.assertIn("app.test", out)
        self.assertEqual(self.routes(), [{
            "host": "app.test",
            "targets": ["127.0.0.1:8443", "[::1]:9443"],
            "http_target": "127.0.0.1:8080",
            "flags": ["proxy-v2"],
            "home": "home-1",
        }])
        lines = self.table().splitlines()
        self.assertEqual(lines[0].split(), ["HOST", "TARGETS", "HTTP-TARGET", "FLAGS", "HOME"])
        self.assertEqual(lines[1].split(),
                         ["app.test", "127.0.0.1:8443,[::1]:9443", "127.0.0.1:8080",
                          "proxy-v2", "home-1"])

        self.assertIn("removed", self.ok("routes", "rm", "app.test"))
        self.assertEqual(self.routes(), [])
        self.assertEqual(self.table().splitlines()[1:], [])

    def test_add_defaults_and_wildcard(self):
        self.ok("routes", "add", "*.apps.test", "127.0.0.1:1")
        self.assertEqual(self.routes(), [{
            "host": "*.apps.test", "targets": ["127.0.0.1:1"], "http_target": None,
            "flags": [], "home": "cli"}])

    def test_add_existing_host_updates(self):
        self.ok("routes", "add", "app.test", "127.0.0.1:1")
        out = self.ok("routes", "add", "app.test", "127.0.0.1:2")
        self.assertIn("updated", out)
        routes = self.routes()
        self.assertEqual(len(routes), 1)
        self.assertEqual(routes[0]["targets"], ["127.0.0.1:2"])

    def test_rm_missing_host_is_a_runtime_failure(self):
        self.ok("routes", "add", "app.test", "127.0.0.1:1")
        proc = self.run_control("routes", "rm", "other.test")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("other.test", proc.stderr)
        self.assertEqual(len(self.routes()), 1)

    def test_list_of_a_fresh_folder_is_empty_and_changes_nothing(self):
        before = sorted(os.listdir(self.data))
        self.assertEqual(self.routes(), [])
        self.assertEqual(sorted(os.listdir(self.data)), before)

    def test_bad_input_exits_2_and_changes_nothing(self):
        self.ok("routes", "add", "keep.test", "127.0.0.1:1")
        self.ok("routes", "add", "*.wild.test", "127.0.0.1:2", "--proxy-protocol", "v2")
        before = self.table()
        seventeen = ",".join(f"127.0.0.1:{port}" for port in range(1, 18))
        cases = [
            (("routes", "add", "App.test", "127.0.0.1:1"), "app.test"),
            (("routes", "add", "keep.test", "127.0.0.1:9", "--home", "bad home"), "home"),
            (("routes", "add", "a_b.test", "127.0.0.1:1"), "a-z0-9"),
            (("routes", "add", "x." + "a" * 64 + ".test", "127.0.0.1:1"), "63"),
            (("routes", "add", ".".join(["a" * 63] * 4), "127.0.0.1:1"), "253"),
            (("routes", "add", "a.*.test", "127.0.0.1:1"), "*"),
            (("routes", "add", "*.test", "127.0.0.1:1"), "wildcard"),
            (("routes", "add", "app.test.", "127.0.0.1:1"), "dot"),
            (("routes", "add", "keep.test", "127.0.0.1"), "127.0.0.1"),
            (("routes", "add", "keep.test", "127.0.0.1:0"), "port"),
            (("routes", "add", "keep.test", "example.com:443"), "example.com"),
            (("routes", "add", "keep.test", "::1:443"), "brackets"),
            (("routes", "add", "keep.test", "127.0.0.1:1,"), "empty"),
            (("routes", "add", "keep.test", "127.0.0.1:1,127.0.0.1:1"), "twice"),
            (("routes", "add", "keep.test", seventeen), "16"),
            (("routes", "add", "keep.test", "127.0.0.1:1", "--proxy-protocol", "v3"), "v2"),
            (("routes", "add", "keep.test", "127.0.0.1:1", "--http-target", "nope"),
             "--http-target"),
            (("routes", "add", "keep.test"), "required"),
            (("routes", "add", "keep.test", "127.0.0.1:1", "--bogus"), "bogus"),
            (("routes", "rm", "KEEP.test"), "keep.test"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                proc = self.run_control(*args)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(proc.stdout, "")
                lines = proc.stderr.splitlines()
                self.assertEqual(len(lines), 1, proc.stderr)
                msg = h.assert_diagnostic(self, lines[0], "cloudlink-control", "error")
                self.assertIn(needle, msg)
                self.assertEqual(self.table(), before)

    def test_unwritable_routes_are_a_runtime_failure(self):
        routes = os.path.join(self.data, "routes")
        shutil.rmtree(routes)
        with open(routes, "w") as f:
            f.write("not a directory")
        proc = self.run_control("routes", "add", "app.test", "127.0.0.1:1")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        h.assert_diagnostic(self, proc.stderr.strip(), "cloudlink-control", "error")

    def test_help_exits_0(self):
        proc = self.run_control("routes", "add", "--help", data=False)
        self.assertEqual(proc.returncode, 0)
        self.assertIn("--proxy-protocol", proc.stdout)


if __name__ == "__main__":
    unittest.main()
