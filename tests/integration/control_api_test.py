#!/usr/bin/env python3
"""cloudlink-control serve, end to end over HTTP on loopback: the whole account → home →
mapping → route flow, isolation between users, hostile input leaving state unchanged, tokens
and login throttling, the audit log, kill -9 in the middle of a burst of writes, and the
OpenAPI document walked operation by operation against the real handlers."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from control_api import ControlServer, ssh_keygen  # noqa: E402


class ControlApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = h.temp_dir(cls)
        # Every user here signs up from 127.0.0.1: lift the per-source sign-up limit, and the
        # default quotas, which ControlApiTenancy tests on a server of its own.
        cls.server = ControlServer(cls, cls.work, extra_args=[
            "--ssh-host", "vps.example.net", "--ssh-port", "2222", "--signups-per-hour", "1000",
            "--quota-homes", "100", "--quota-port-blocks", "100", "--quota-mappings", "1000"])
        cls.admin = cls.server.admin()
        cls.key_count = 0

    def new_key(self, kind="ed25519", bits=None):
        type(self).key_count += 1
        return ssh_keygen(self.work, f"key{self.key_count}", kind, bits)[1]

    def new_home(self, client, name="home"):
        return client.ok(self, "POST", "/api/homes",
                         {"name": name, "public_key": self.new_key()}, status=201)

    def snapshot(self):
        """Everything an admin can see of the state, and the routes on disk."""
        homes = self.admin.ok(self, "GET", "/api/homes")
        mappings = {home["id"]: self.admin.ok(self, "GET", f"/api/homes/{home['id']}/mappings")
                    for home in homes}
        return {"users": self.admin.ok(self, "GET", "/api/admin/users"), "homes": homes,
                "mappings": mappings, "routes": self.admin.ok(self, "GET", "/api/admin/routes"),
                "disk": self.server.routes_on_disk()}

    def assert_error(self, answer, status, code=None, mentions=None):
        got, body = answer
        self.assertEqual(got, status, body)
        self.assertEqual(set(body), {"error"}, body)
        self.assertEqual(set(body["error"]), {"code", "message"}, body)
        if code:
            self.assertEqual(body["error"]["code"], code, body)
        if mentions:
            self.assertIn(mentions, body["error"]["message"], body)

    # ---- the whole flow ----

    def test_whole_flow_signup_to_route_and_back(self):
        anon = self.server.anonymous()
        status, user = anon.call("POST", "/api/signup",
                                 {"username": "flow", "password": "flow-password"})
        self.assertEqual(status, 201, user)
        self.assertEqual((user["username"], user["role"], user["active"]), ("flow", "user", False))
        self.assert_error(anon.call("POST", "/api/login",
                                    {"username": "flow", "password": "flow-password"}),
                          401, "unauthorized")
        self.admin.ok(self, "POST", "/api/admin/users/flow/approve")
        status, login = anon.call("POST", "/api/login",
                                  {"username": "flow", "password": "flow-password"})
        self.assertEqual(status, 200, login)
        self.assertGreaterEqual(len(login["token"]), 22)  # >= 128 bits, base64url or hex
        self.assertGreater(login["expires_at"], time.time())
        user = self.server.login("flow", "flow-password")
        self.assertEqual(user.ok(self, "GET", "/api/me"), {"username": "flow", "role": "user"})

        home = self.new_home(user, "Flow Home")
        self.assertEqual((home["ssh_user"], home["ssh_host"], home["ssh_port"]),
                         ("cloudlink", "vps.example.net", 2222))
        self.assertEqual(len(home["ports"]), 10)
        self.assertEqual(home["ports"], list(range(home["ports"][0], home["ports"][0] + 10)))
        ports = home["ports"]
        mapping = user.ok(self, "POST", f"/api/homes/{home['id']}/mappings",
                          {"hostname": "Flow.Example.TEST", "tls_ports": ports[:2],
                           "http_port": ports[2], "proxy_protocol": "v2"}, status=201)
        self.assertEqual(mapping["hostname"], "flow.example.test")
        route = self.server.routes_on_disk()["flow.example.test"]
        self.assertEqual(route["targets"], [f"127.0.0.1:{p}" for p in ports[:2]])
        self.assertEqual(route["http_target"], f"127.0.0.1:{ports[2]}")
        self.assertEqual(route["flags"], ["proxy-v2"])
        self.assertEqual(route["home"], home["id"])
        self.assertIn("flow.example.test",
                      {r["host"] for r in self.admin.ok(self, "GET", "/api/admin/routes")})

        path = f"/api/homes/{home['id']}/mappings/flow.example.test"
        self.assertEqual(user.ok(self, "GET", path), mapping)
        patched = user.ok(self, "PATCH", path, {"tls_ports": [ports[5]], "http_port": 0})
        self.assertEqual((patched["tls_ports"], patched["http_port"], patched["proxy_protocol"]),
                         ([ports[5]], None, "v2"))
        route = self.server.routes_on_disk()["flow.example.test"]
        self.assertEqual((route["targets"], route["http_target"]),
                         ([f"127.0.0.1:{ports[5]}"], None))

        self.assertEqual(user.raw("DELETE", path)[0], 204)
        self.assertNotIn("flow.example.test", self.server.routes_on_disk())
        self.assert_error(user.call("GET", path), 404, "not_found")
        user.ok(self, "POST", f"/api/homes/{home['id']}/mappings",
                {"hostname": "flow2.example.test", "tls_ports": [ports[0]]}, status=201)
        self.assertEqual(user.raw("DELETE", f"/api/homes/{home['id']}")[0], 204)
        self.assertNotIn("flow2.example.test", self.server.routes_on_disk())
        self.assert_error(user.call("GET", f"/api/homes/{home['id']}"), 404)
        self.assertEqual(user.ok(self, "GET", "/api/homes"), [])

    def test_key_rotation_and_ports_never_overlap(self):
        user = self.server.active_user("rotor")
        first, second = self.new_home(user, "one"), self.new_home(user, "two")
        self.assertFalse(set(first["ports"]) & set(second["ports"]))
        new_key = self.new_key("ecdsa")
        rotated = user.ok(self, "PUT", f"/api/homes/{first['id']}/key", {"public_key": new_key})
        self.assertEqual(rotated["public_key"], new_key.rsplit(" ", 1)[0])
        self.assertEqual(rotated["ports"], first["ports"])
        # The key of the other home is taken.
        self.assert_error(user.call("PUT", f"/api/homes/{first['id']}/key",
                                    {"public_key": second["public_key"]}), 409, "conflict")

    # ---- isolation ----

    def test_users_cannot_touch_each_others_homes_or_mappings(self):
        a, b = self.server.active_user("iso-a"), self.server.active_user("iso-b")
        home_a, home_b = self.new_home(a, "a"), self.new_home(b, "b")
        a.ok(self, "POST", f"/api/homes/{home_a['id']}/mappings",
             {"hostname": "a.iso.test", "tls_ports": [home_a["ports"][0]]}, status=201)
        before = self.snapshot()

        mine = f"/api/homes/{home_a['id']}"
        self.assertEqual([x["id"] for x in b.ok(self, "GET", "/api/homes")], [home_b["id"]])
        for method, path, body in [
                ("GET", mine, None),
                ("DELETE", mine, None),
                ("PUT", f"{mine}/key", {"public_key": self.new_key()}),
                ("GET", f"{mine}/mappings", None),
                ("POST", f"{mine}/mappings", {"hostname": "b.iso.test",
                                              "tls_ports": [home_b["ports"][0]]}),
                ("GET", f"{mine}/mappings/a.iso.test", None),
                ("PATCH", f"{mine}/mappings/a.iso.test", {"tls_ports": [home_b["ports"][0]]}),
                ("DELETE", f"{mine}/mappings/a.iso.test", None)]:
            with self.subTest(method=method, path=path):
                self.assert_error(b.call(method, path, body), 404, "not_found")
        # A's hostname is A's, whoever asks; A's ports are not B's to point at.
        self.assert_error(b.call("POST", f"/api/homes/{home_b['id']}/mappings",
                                 {"hostname": "a.iso.test", "tls_ports": [home_b["ports"][0]]}),
                          409, "conflict", "a.iso.test")
        self.assert_error(b.call("POST", f"/api/homes/{home_b['id']}/mappings",
                                 {"hostname": "b.iso.test", "tls_ports": [home_a["ports"][0]]}),
                          403, "forbidden", str(home_a["ports"][0]))
        self.assert_error(b.call("POST", "/api/homes", {"name": "x", "owner": "iso-a",
                                                         "public_key": self.new_key()}),
                          403, "forbidden")
        for method, path in [("GET", "/api/admin/users"), ("GET", "/api/admin/routes"),
                             ("POST", "/api/admin/routes/sync"), ("GET", "/api/admin/audit"),
                             ("POST", "/api/admin/users/iso-b/approve"),
                             ("POST", "/api/admin/users/iso-a/revoke-tokens")]:
            with self.subTest(method=method, path=path):
                self.assert_error(b.call(method, path), 403, "forbidden")
        self.assertEqual(self.snapshot(), before)
        # The admin sees both.
        ids = {x["id"] for x in self.admin.ok(self, "GET", "/api/homes")}
        self.assertLessEqual({home_a["id"], home_b["id"]}, ids)

    # ---- hostile input ----

    def test_bad_input_gets_4xx_naming_the_field_and_changes_nothing(self):
        user = self.server.active_user("hostile")
        home = self.new_home(user, "target")
        port = home["ports"][0]
        mappings = f"/api/homes/{home['id']}/mappings"
        user.ok(self, "POST", mappings, {"hostname": "ok.hostile.test", "tls_ports": [port]},
                status=201)
        _, rsa2048 = ssh_keygen(self.work, "rsa2048", "rsa", 2048)
        before = self.snapshot()
        cases = [
            # (method, path, body, status, code, mentions)
            ("POST", "/api/homes", "{not json", 400, "invalid_body", None),
            ("POST", "/api/homes", '{"name":"x","public_key":"k"', 400, "invalid_body", None),
            ("POST", "/api/homes", "[]", 400, "invalid_body", None),
            ("POST", "/api/homes", "", 400, "invalid_body", None),
            ("POST", "/api/homes", {"name": "x", "public_key": "x" * 70000}, 413, None, None),
            ("POST", "/api/homes", {"name": 5, "public_key": "k"}, 400, "invalid_field", "name"),
            ("POST", "/api/homes", {"name": "x"}, 400, "missing_field", "public_key"),
            ("POST", "/api/homes", {"name": "x", "public_key": "k", "admin": True}, 400,
             "unknown_field", "admin"),
            ("POST", "/api/homes", '{"name":"x","name":"y","public_key":"k"}', 400, None, "name"),
            ("POST", "/api/homes", {"name": "x", "public_key": "ssh-ed25519 AAAA"}, 400,
             "invalid", "public_key"),
            ("POST", "/api/homes", {"name": "x", "public_key": "ssh-dss AAAAB3NzaC1kc3M="}, 400,
             "invalid", "public_key"),
            ("POST", "/api/homes", {"name": "x", "public_key": rsa2048}, 400, "invalid",
             "public_key"),
            ("POST", "/api/homes", {"name": "x\u0001y", "public_key": self.new_key()}, 400,
             "invalid", "name"),
            ("PUT", f"/api/homes/{home['id']}/key", {"public_key": "garbage"}, 400, "invalid",
             "public_key"),
            ("POST", mappings, {"hostname": "bad_host!.test", "tls_ports": [port]}, 400,
             "invalid", "hostname"),
            ("POST", mappings, {"hostname": "-x.test", "tls_ports": [port]}, 400, "invalid",
             "hostname"),
            ("POST", mappings, {"hostname": "a..b.test", "tls_ports": [port]}, 400, "invalid",
             "hostname"),
            ("POST", mappings, {"hostname": "a" * 64 + ".test", "tls_ports": [port]}, 400,
             "invalid", "hostname"),
            ("POST", mappings, {"hostname": "x" * 300, "tls_ports": [port]}, 400,
             "invalid_field", "hostname"),
            ("POST", mappings, {"hostname": "", "tls_ports": [port]}, 400, "invalid",
             "hostname"),
            ("POST", mappings, {"hostname": "t.test", "tls_ports": str(port)}, 400,
             "invalid_field", "tls_ports"),
            ("POST", mappings, {"hostname": "t.test", "tls_ports": []}, 400, "invalid_field",
             "tls_ports"),
            ("POST", mappings, {"hostname": "t.test", "tls_ports": [70000]}, 400,
             "invalid_field", "tls_ports"),
            ("POST", mappings, {"hostname": "t.test", "tls_ports": [port, port]}, 400, "invalid",
             "tls_ports"),
            ("POST", mappings, {"hostname": "t.test", "tls_ports": [port], "http_port": "80"},
             400, "invalid_field", "http_port"),
            ("POST", mappings, {"hostname": "t.test", "tls_ports": [port],
                                "proxy_protocol": "v9"}, 400, "invalid", "proxy_protocol"),
            ("POST", mappings, {"hostname": "t.test", "tls_ports": [[port]]}, 400,
             "invalid_field", "tls_ports"),
            ("PATCH", f"{mappings}/ok.hostile.test", {"tls_ports": [1]}, 403, "forbidden", "1"),
            ("PATCH", f"{mappings}/ok.hostile.test", {"hostname": "x.test"}, 400,
             "unknown_field", "hostname"),
            ("PATCH", f"{mappings}/ok.hostile.test", {"http_port": -1}, 400, "invalid_field",
             "http_port"),
            ("POST", "/api/signup", {"username": "Bad Name", "password": "long-enough"}, 400,
             "invalid", "username"),
            ("POST", "/api/signup", {"username": "shorty", "password": "short"}, 400, "invalid",
             "password"),
            ("POST", "/api/signup", {"username": "hostile", "password": "long-enough"}, 409,
             "conflict", "hostile"),
            ("GET", "/api/admin/audit?limit=0", None, 400, None, "limit"),
        ]
        for method, path, body, status, code, mentions in cases:
            with self.subTest(method=method, path=path, body=str(body)[:80]):
                client = self.admin if path.startswith("/api/admin") else user
                self.assert_error(client.call(method, path, body), status, code, mentions)
        # Not JSON at all, and no token.
        got, _, _ = user.raw("POST", "/api/homes", "name=x", content_type="text/plain")
        self.assertEqual(got, 415)
        self.assert_error(self.server.anonymous().call("GET", "/api/homes"), 401)
        self.assertEqual(self.snapshot(), before)

    # ---- tokens, throttling, audit ----

    def test_logout_and_admin_revocation_end_tokens(self):
        self.server.active_user("leaver", "leaver-password")
        first = self.server.login("leaver", "leaver-password")
        second = self.server.login("leaver", "leaver-password")
        self.assertNotEqual(first.token, second.token)
        self.assertEqual(first.raw("POST", "/api/logout")[0], 204)
        self.assert_error(first.call("GET", "/api/me"), 401, "unauthorized")
        second.ok(self, "GET", "/api/me")
        revoked = self.admin.ok(self, "POST", "/api/admin/users/leaver/revoke-tokens")
        self.assertEqual(revoked, {"revoked": 2})  # second's, and active_user's own login
        self.assert_error(second.call("GET", "/api/me"), 401)
        bogus = type(second)(self.server.port, "A" * 43)
        self.assert_error(bogus.call("GET", "/api/homes"), 401)

    def test_deactivated_user_is_locked_out_until_approved(self):
        user = self.server.active_user("paused", "paused-password")
        self.new_home(user, "paused-home")
        off = self.admin.ok(self, "POST", "/api/admin/users/paused/deactivate")
        self.assertFalse(off["active"])
        self.assert_error(user.call("GET", "/api/homes"), 401)
        self.assert_error(self.server.anonymous().call(
            "POST", "/api/login", {"username": "paused", "password": "paused-password"}), 401)
        self.assert_error(self.admin.call("POST", "/api/admin/users/root/deactivate"), 403)
        self.assert_error(self.admin.call("POST", "/api/admin/users/nobody/deactivate"), 404)
        self.admin.ok(self, "POST", "/api/admin/users/paused/approve")
        again = self.server.login("paused", "paused-password")
        self.assertEqual(len(again.ok(self, "GET", "/api/homes")), 1)

    def test_request_log_names_the_route_pattern_not_the_path(self):
        user = self.server.active_user("logged")
        home = self.new_home(user, "logged-home")
        user.ok(self, "POST", f"/api/homes/{home['id']}/mappings",
                {"hostname": "secret-name.example.test", "tls_ports": home["ports"][:1]},
                status=201)
        user.ok(self, "GET", f"/api/homes/{home['id']}/mappings/secret-name.example.test")
        self.server.anonymous().call("GET", "/no/such/path/secret-name")

        def lines():
            return [line for line in self.server.proc.stderr_text().splitlines()
                    if " msg=request " in line]
        h.wait_until(lambda: any("unmatched" in line for line in lines()), what="request log")
        requests = [h.logfmt(line) for line in lines()]
        for line in lines():
            h.assert_diagnostic(self, line, "cloudlink-control", "info")
            self.assertNotIn("secret-name", line)
            self.assertNotIn(home["id"], line)
        mine = [r for r in requests if r["user"] == "logged"]
        self.assertIn(("GET", "/api/homes/{id}/mappings/{hostname}", "200", "127.0.0.1"),
                      {(r["method"], r["route"], r["status"], r["source"]) for r in mine})
        self.assertIn(("POST", "/api/homes/{id}/mappings", "201"),
                      {(r["method"], r["route"], r["status"]) for r in mine})
        logins = [r for r in requests if r["route"] == "/api/login" and r["user"] == "logged"]
        self.assertTrue(logins, "a successful login names its user")
        unmatched = [r for r in requests if r["route"] == "unmatched"]
        self.assertEqual({(r["status"], r["user"]) for r in unmatched}, {("404", "-")})
        for r in requests:
            self.assertRegex(r["duration_s"], r"^\d+\.\d{6}$|^-$")

    def test_audit_records_who_what_when_and_from_where(self):
        user = self.server.active_user("audited")
        started = int(time.time())
        home = self.new_home(user, "audited-home")
        records = self.admin.ok(self, "GET", "/api/admin/audit?limit=50")
        mine = [r for r in records if r["action"] == "homes.create" and r["target"] == home["id"]]
        self.assertEqual(len(mine), 1, records)
        self.assertEqual((mine[0]["actor"], mine[0]["source"]), ("audited", "127.0.0.1"))
        self.assertGreaterEqual(mine[0]["at"], started - 1)
        seqs = [r["seq"] for r in records]
        self.assertEqual(seqs, sorted(seqs, reverse=True))
        page = self.admin.ok(self, "GET", f"/api/admin/audit?limit=2&before={seqs[0]}")
        self.assertEqual([r["seq"] for r in page], seqs[1:3])

    def test_metrics_count_requests_by_route_and_status(self):
        self.admin.ok(self, "GET", "/api/homes")
        text = self.server.anonymous().raw("GET", "/metrics")[2].decode()
        samples = h.parse_metrics(text)
        key = ("cloudlink_control_http_requests_total",
               (("method", "GET"), ("route", "/api/homes"), ("status", "200")))
        self.assertGreaterEqual(samples.get(key, 0), 1, text)
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=h.WAIT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    # ---- the OpenAPI document against the handlers ----

    def test_walk_openapi_and_call_every_operation(self):
        doc = self.admin.ok(self, "GET", "/api/openapi.json")
        user = self.server.active_user("walker", "walker-password")
        home = self.new_home(user, "walk")
        user.ok(self, "POST", f"/api/homes/{home['id']}/mappings",
                {"hostname": "walk.test", "tls_ports": [home["ports"][0]]}, status=201)
        self.server.anonymous().call("POST", "/api/signup",
                                     {"username": "walk-new", "password": "walk-password"})
        invitation = self.admin.ok(self, "POST", "/api/admin/invitations", {}, status=201)
        values = {"id": home["id"], "hostname": "walk.test", "name": "walk-new",
                  "invitation": invitation["id"]}
        operations = [(path, method, op) for path, ops in doc["paths"].items()
                      for method, op in ops.items()]
        # Creations first, removals and sign-outs last, so every call finds what it needs.
        def order(entry):
            path, method, _ = entry
            if path.endswith(("logout", "revoke-tokens")):
                return 4
            return {"post": 0, "put": 1, "patch": 1, "get": 2, "delete": 3}[method] + (
                0.5 if method == "delete" and path.endswith("{id}") else 0)
        operations.sort(key=order)
        self.assertEqual(len(operations), 32)
        called = set()
        for path, method, op in operations:
            with self.subTest(op=op["operationId"]):
                url = path
                for param in op.get("parameters", []):
                    if param["in"] == "path":
                        url = url.replace("{" + param["name"] + "}", values[param["name"]])
                    else:
                        self.assertEqual(param["in"], "query")
                body = None
                if "requestBody" in op:
                    schema = op["requestBody"]["content"]["application/json"]["schema"]
                    self.assertFalse(schema["additionalProperties"])
                    body = self.example_body(path, method, schema, home)
                client = self.admin if "/admin/" in path or not op.get("security") else user
                status, _, data = client.raw(method.upper(), url, body)
                self.assertIn(str(status), op["responses"], f"{method} {url}: {data[:300]}")
                self.assertLess(status, 300, f"{method.upper()} {url}: {data[:300]}")
                called.add(op["operationId"])
                if op.get("security"):
                    anon_status, _, _ = self.server.anonymous().raw(method.upper(), url, body)
                    self.assertEqual(anon_status, 401)
        self.assertEqual(len(called), len(operations))

    def test_hostile_path_parameters_never_get_a_5xx(self):
        """Every path parameter of every operation in the served document, with values a
        hostile client would send, for an admin and a plain user: 4xx each time, never 5xx,
        and the server (and its audit log) still works afterwards."""
        doc = self.admin.ok(self, "GET", "/api/openapi.json")
        user = self.server.active_user("prober", "prober-password")
        home = self.new_home(user, "probe")
        hostile = {
            "invalid utf-8": "%ff%fe", "nul": "%00", "nul inside": "a%00b",
            "very long": "a" * 4000, "dot dot": "..", "dot": ".", "encoded slash": "a%2fb",
            "encoded dot dot slash": "..%2f..%2fetc", "unicode": "%C3%A9t%C3%A9",
            "emoji": "%F0%9F%98%80", "overlong utf-8": "%C0%AF", "surrogate": "%ED%A0%80",
            "spaces": "a%20b", "control chars": "%01%1b[2J", "percent": "%25", "empty": "",
            "upper case": "ALICE", "backslash": "%5c..%5c", "json": "%7b%22a%22%3a1%7d",
        }
        probed = 0
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                names = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
                for name in names:
                    for label, value in hostile.items():
                        url = path
                        for other in names:
                            fill = value if other == name else {
                                "id": home["id"], "hostname": "probe.test",
                                "name": "prober", "invitation": "0123456789abcdef"}[other]
                            url = url.replace("{" + other + "}", fill)
                        body = None
                        if "requestBody" in op:
                            schema = op["requestBody"]["content"]["application/json"]["schema"]
                            body = self.example_body(path, method, schema, home)
                        for client in (self.admin, user):
                            with self.subTest(op=op["operationId"], param=name, value=label,
                                              who=client.username):
                                status, _, data = client.raw(method.upper(), url, body)
                                self.assertLess(status, 500, f"{method.upper()} {url[:200]}: "
                                                             f"{data[:300]}")
                                self.assertGreaterEqual(status, 200)
                                probed += 1
        self.assertGreater(probed, 200)
        print(f"hostile path parameters: {probed} requests, none answered 5xx", file=sys.stderr)
        # A name that cannot be a user is 400 naming the parameter; a missing user is 404.
        self.assert_error(self.admin.call("POST", "/api/admin/users/%ff%fe/revoke-tokens"), 400,
                          "invalid", "path parameter name")
        self.assert_error(self.admin.call("POST", "/api/admin/users/nobody-here/revoke-tokens"),
                          404, "not_found")
        self.admin.ok(self, "GET", "/api/admin/audit?limit=1000")
        self.admin.ok(self, "GET", "/api/health")

    def example_body(self, path, method, schema, home):
        if path == "/api/login":
            return {"username": "walker", "password": "walker-password"}
        if path == "/api/signup":
            return {"username": "walk-signup", "password": "walk-password"}
        if path == "/api/homes":
            return {"name": "walk-2", "public_key": self.new_key()}
        if path.endswith("/key"):
            return {"public_key": self.new_key()}
        if path == "/api/admin/invitations":
            return {"expires_in": 3600}
        if path.endswith("/quota"):
            return {"homes": 5}
        if path.endswith("/expiry"):
            return {"expires_at": 0}  # "never": the walk goes on with the same user and home
        if path.endswith("/mappings"):
            return {"hostname": "walk-created.test", "tls_ports": [home["ports"][1]]}
        if method == "patch":
            return {"tls_ports": [home["ports"][2]]}
        self.fail(f"no example body for {method} {path}: {json.dumps(schema)}")


class ControlApiLogins(unittest.TestCase):
    """Own server: failed logins are counted per source address across the whole process."""

    def test_failed_logins_are_throttled_per_user(self):
        work = h.temp_dir(self)
        server = ControlServer(self, work)
        server.active_user("guessed", "right-password")
        anon = server.anonymous()
        wrong = {"username": "guessed", "password": "wrong-password"}
        # Five failures are free; then each waits 1, 2, 4 ... s after the last one. Keep
        # guessing until seven have been counted: the next attempt has 4 s to wait.
        failures, throttled = 0, 0
        deadline = time.monotonic() + 30
        while failures < 7 and time.monotonic() < deadline:
            status, body = anon.call("POST", "/api/login", wrong)
            self.assertIn(status, (401, 429), body)
            if status == 401:
                failures += 1
            else:
                self.assertGreaterEqual(failures, 5, "throttled before five failures")
                self.assertEqual(body["error"]["code"], "throttled")
                throttled += 1
                time.sleep(0.2)
        self.assertEqual(failures, 7)
        self.assertGreater(throttled, 0, "never throttled")
        # Even the right password waits now.
        status, body = anon.call("POST", "/api/login",
                                 {"username": "guessed", "password": "right-password"})
        self.assertEqual(status, 429, body)
        # Another user from the same address is not locked out by this one's failures.
        server.active_user("bystander", "bystander-password")
        server.login("bystander", "bystander-password")
        records = server.admin().ok(self, "GET", "/api/admin/audit?limit=100")
        self.assertGreaterEqual(sum(r["action"] == "login.failed" for r in records), 5)


class ControlApiCrash(unittest.TestCase):
    """kill -9 in the middle of a burst of writes: every acknowledged write survives, no half
    mapping is visible, and the routes the dataplane reads equal a fresh sync."""

    def test_kill_9_mid_burst(self):
        work = h.temp_dir(self)
        # Hundreds of mappings for one user: past the default quota of 20.
        server = ControlServer(self, work, extra_args=["--quota-mappings", "100000"])
        user = server.active_user("bursty")
        home = user.ok(self, "POST", "/api/homes",
                       {"name": "burst", "public_key": ssh_keygen(work, "k")[1]}, status=201)
        ports = home["ports"]
        state = {}  # hostname -> (present, acknowledged)
        lock = threading.Lock()
        stop = threading.Event()

        def writer(n):
            i = 0
            while not stop.is_set():
                name = f"w{n}-{i}.burst.test"
                with lock:
                    state[name] = (True, False)
                try:
                    status, _ = user.call("POST", f"/api/homes/{home['id']}/mappings",
                                          {"hostname": name, "tls_ports": [ports[i % 10]],
                                           "http_port": ports[(i + 1) % 10]})
                except OSError:
                    return
                with lock:
                    state[name] = (True, status == 201)
                if i % 3 == 2:
                    old = f"w{n}-{i - 2}.burst.test"
                    with lock:
                        state[old] = (False, False)
                    try:
                        status, _, _ = user.raw("DELETE",
                                                f"/api/homes/{home['id']}/mappings/{old}")
                    except OSError:
                        return
                    with lock:
                        state[old] = (False, status == 204)
                i += 1

        threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(4)]
        for t in threads:
            t.start()
        h.wait_until(lambda: sum(ack for _, ack in state.values()) >= 60, timeout=60,
                     what="60 acknowledged writes")
        server.proc.popen.send_signal(signal.SIGKILL)
        server.proc.wait()
        stop.set()
        for t in threads:
            t.join(h.WAIT)
        acknowledged = {name: present for name, (present, ack) in state.items() if ack}
        uncertain = {name for name, (_, ack) in state.items() if not ack}
        self.assertGreaterEqual(len(acknowledged), 60)

        # What the dataplane would read right now, before control comes back: at most the
        # writes in flight at the kill differ from the acknowledged ones.
        on_disk = set(server.routes_on_disk())
        expected_now = {name for name, present in acknowledged.items() if present}
        self.assertLessEqual(on_disk ^ expected_now, uncertain)

        server.start()
        listed = {m["hostname"]: m
                  for m in user.ok(self, "GET", f"/api/homes/{home['id']}/mappings")}
        for name, present in acknowledged.items():
            self.assertEqual(name in listed, present, name)
        for name, mapping in listed.items():
            self.assertEqual(mapping["home_id"], home["id"])
            self.assertEqual(len(mapping["tls_ports"]), 1, mapping)
            self.assertIn(mapping["tls_ports"][0], ports)
            self.assertIn(mapping["http_port"], ports)
        admin = server.admin()
        routes_after_restart = admin.ok(self, "GET", "/api/admin/routes")
        self.assertEqual({r["host"] for r in routes_after_restart}, set(listed))
        self.assertEqual(admin.ok(self, "POST", "/api/admin/routes/sync"),
                         {"routes": len(listed)})
        self.assertEqual(admin.ok(self, "GET", "/api/admin/routes"), routes_after_restart)
        self.assertEqual(list(server.routes_on_disk().values()), routes_after_restart)


if __name__ == "__main__":
    unittest.main(verbosity=2)
