#!/usr/bin/env python3
"""The control API's HTTP layer (control/http) over real sockets, behind control_http_testserver:
JSON errors with the right status, body limits and schema errors naming the field, the OpenAPI
document (walked: every operation is called), /metrics checked by promtool, and slow clients
cut off by bounded timeouts without holding up others."""
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import unittest.mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TESTSERVER = os.environ.get("CLOUDLINK_CONTROL_HTTP_TESTSERVER", "")
QUICK = 2  # seconds: "at once" on a busy box
REQUEST_TIMEOUT = 4
THREADS = 4


class ControlHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not TESTSERVER or not os.access(TESTSERVER, os.X_OK):
            raise AssertionError(f"set CLOUDLINK_CONTROL_HTTP_TESTSERVER (got {TESTSERVER!r})")
        work = h.temp_dir(cls)
        cls.port = h.free_port()
        cls.server = h.Process(cls, [TESTSERVER, "--listen", f"127.0.0.1:{cls.port}",
                                     "--request-timeout", REQUEST_TIMEOUT,
                                     "--threads", THREADS], "testserver", work)
        h.wait_for_listen(cls.port, cls.server)

    # ---- helpers ----

    def request(self, method, path, body=None, headers=None, content_type="application/json"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=h.WAIT)
        try:
            hdrs = dict(headers or {})
            if body is not None:
                if isinstance(body, (dict, list)):
                    body = json.dumps(body)
                if isinstance(body, str):
                    body = body.encode()
                if content_type is not None:
                    hdrs.setdefault("Content-Type", content_type)
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, dict(resp.getheaders()), data
        finally:
            conn.close()

    def json_request(self, *args, **kwargs):
        status, headers, data = self.request(*args, **kwargs)
        self.assertEqual(headers.get("Content-Type"), "application/json", data)
        return status, headers, json.loads(data)

    def assert_error(self, result, status, code, message_part=None):
        got_status, _, body = result
        self.assertEqual(got_status, status, body)
        self.assertEqual(set(body), {"error"}, body)
        self.assertEqual(set(body["error"]), {"code", "message"}, body)
        self.assertEqual(body["error"]["code"], code, body)
        if message_part is not None:
            self.assertIn(message_part, body["error"]["message"])

    def raw_exchange(self, data, timeout=h.WAIT):
        """Sends raw bytes, returns (everything read until the server closed, seconds taken)."""
        with h.connect(self.port, timeout=timeout) as sock:
            start = time.monotonic()
            sock.sendall(data)
            out, how = h.recv_until_closed(sock)
            return out, how, time.monotonic() - start

    def metrics(self):
        status, _, data = self.request("GET", "/metrics")
        self.assertEqual(status, 200)
        return data.decode()

    AUTH = {"Authorization": "Bearer test-token"}
    MAPPINGS = "/api/demo/homes/7/mappings"
    GOOD = {"hostname": "app.example.com", "tls_ports": [10001, 10002]}

    # ---- routes and errors ----

    def test_health(self):
        self.assertEqual(self.json_request("GET", "/api/health"), (200, unittest.mock.ANY,
                                                                   {"status": "ok"}))

    def test_unknown_path_is_404_json(self):
        self.assert_error(self.json_request("GET", "/api/nothing"), 404, "not_found")
        self.assert_error(self.json_request("DELETE", "/"), 404, "not_found")

    def test_wrong_method_is_405_with_allow(self):
        result = self.json_request("PUT", "/api/health")
        self.assert_error(result, 405, "method_not_allowed")
        self.assertEqual(result[1].get("Allow"), "GET")
        result = self.json_request("POST", "/api/demo/homes/1")
        self.assert_error(result, 405, "method_not_allowed")
        self.assertEqual(result[1].get("Allow"), "GET, DELETE")

    def test_valid_body_reaches_the_handler(self):
        status, _, body = self.json_request("POST", self.MAPPINGS, dict(self.GOOD, http_port=80),
                                            headers=self.AUTH)
        self.assertEqual(status, 201, body)
        self.assertEqual(body, {"home": "7", "hostname": "app.example.com",
                                "tls_ports": [10001, 10002], "http_port": 80,
                                "token": "test-token", "source": "127.0.0.1"})

    def test_missing_bearer_is_401(self):
        self.assert_error(self.json_request("POST", self.MAPPINGS, self.GOOD), 401,
                          "unauthorized")
        self.assert_error(self.json_request("POST", self.MAPPINGS, self.GOOD,
                                            headers={"Authorization": "Basic eDp5"}),
                          401, "unauthorized")

    def test_wrong_content_type_is_415(self):
        for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
            self.assert_error(self.json_request("POST", self.MAPPINGS, json.dumps(self.GOOD),
                                                headers=self.AUTH, content_type=ctype),
                              415, "unsupported_media_type")

    def test_malformed_json_is_400(self):
        self.assert_error(self.json_request("POST", self.MAPPINGS, '{"hostname": "a", ',
                                            headers=self.AUTH), 400, "invalid_body",
                          "not valid JSON")
        self.assert_error(self.json_request("POST", self.MAPPINGS, b'{"hostname":"\xff"}',
                                            headers=self.AUTH), 400, "invalid_body", "UTF-8")
        self.assert_error(self.json_request("POST", self.MAPPINGS, "[1]", headers=self.AUTH),
                          400, "invalid_body", "JSON object")

    def test_schema_errors_name_the_field(self):
        cases = [
            ({"hostname": "a", "tls_ports": "443"}, "invalid_field",
             'field "tls_ports": expected an array of integers'),
            ({"hostname": "a", "tls_ports": [70000]}, "invalid_field", 'field "tls_ports"'),
            ({"hostname": 5, "tls_ports": [1]}, "invalid_field",
             'field "hostname": expected a string'),
            ({"hostname": "a", "tls_ports": [1], "http_port": "80"}, "invalid_field",
             'field "http_port": expected an integer'),
            ({"hostname": "a", "tls_ports": [1], "owner": "root"}, "unknown_field",
             'field "owner"'),
            ({"tls_ports": [1]}, "missing_field", 'field "hostname": is required'),
            ({"hostname": "a" * 254, "tls_ports": [1]}, "invalid_field",
             'field "hostname": longer than 253 bytes'),
        ]
        for body, code, message in cases:
            with self.subTest(body=body):
                self.assert_error(self.json_request("POST", self.MAPPINGS, body,
                                                    headers=self.AUTH), 400, code, message)
        self.assert_error(self.json_request(
            "POST", self.MAPPINGS, '{"hostname":"a","tls_ports":[1],"hostname":"b"}',
            headers=self.AUTH), 400, "invalid_field", 'field "hostname": appears more than once')

    def test_oversized_body_is_413_and_the_connection_closes(self):
        # Declared length over the cap: refused before the body is read, connection closed
        # (the unread body must not be taken for the next request).
        head = (f"POST {self.MAPPINGS} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer x\r\nContent-Length: 100000\r\n\r\n").encode()
        smuggled = b"GET /api/health HTTP/1.1\r\nHost: t\r\n\r\n"
        out, how, _ = self.raw_exchange(head + smuggled)
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out)
        self.assertIn(b'"code":"payload_too_large"', out)
        self.assertEqual(out.count(b"HTTP/1.1"), 1, "the body was parsed as a request")
        self.assertEqual(how, "eof")
        # The same through http.client, with the whole body sent.
        body = json.dumps({"hostname": "a" * 70000, "tls_ports": [1]})
        try:
            result = self.json_request("POST", self.MAPPINGS, body, headers=self.AUTH)
        except (BrokenPipeError, ConnectionResetError):
            return  # the server answered and closed while the client was still sending
        self.assert_error(result, 413, "payload_too_large")

    def test_oversized_body_refused_before_100_continue(self):
        head = (f"POST {self.MAPPINGS} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer x\r\nContent-Length: 100000\r\n"
                f"Expect: 100-continue\r\n\r\n").encode()
        out, how, _ = self.raw_exchange(head)
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out)
        self.assertNotIn(b"100 Continue", out)
        self.assertIn(b'"code":"payload_too_large"', out)
        self.assertEqual(how, "eof")
        # Within the cap, the client is invited to send the body.
        body = json.dumps(self.GOOD).encode()
        head = (f"POST {self.MAPPINGS} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer x\r\nContent-Length: {len(body)}\r\n"
                f"Expect: 100-continue\r\nConnection: close\r\n\r\n").encode()
        with h.connect(self.port) as sock:
            sock.sendall(head)
            self.assertTrue(sock.recv(100).startswith(b"HTTP/1.1 100 Continue"))
            sock.sendall(body)
            out, _ = h.recv_until_closed(sock)
        self.assertIn(b"HTTP/1.1 201 ", out)

    def test_handler_exception_is_500_json(self):
        self.assert_error(self.json_request("GET", "/api/demo/throw"), 500, "internal",
                          "internal error")
        # The server is still serving.
        self.assertEqual(self.request("GET", "/api/health")[0], 200)

    def test_unparsable_request_gets_json_400_and_close(self):
        out, how, _ = self.raw_exchange(b"NONSENSE\r\n\r\nGET /api/health HTTP/1.1\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out)
        self.assertIn(b'"error":{"code":"bad_request"', out)
        self.assertEqual(out.count(b"HTTP/1.1"), 1)
        self.assertEqual(how, "eof")

    def test_keep_alive_and_pipelining(self):
        req = b"GET /api/health HTTP/1.1\r\nHost: t\r\n\r\n"
        last = b"GET /api/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        out, how, _ = self.raw_exchange(req + req + last)
        self.assertEqual(out.count(b'{"status":"ok"}'), 3, out)
        self.assertEqual(how, "eof")

    def test_head_too_large_is_431_and_request_line_too_long_is_414(self):
        head = b"GET /api/health HTTP/1.1\r\nHost: t\r\n" + b"X-Big: " + b"x" * 17000 + b"\r\n\r\n"
        out, how, _ = self.raw_exchange(head)
        self.assertTrue(out.startswith(b"HTTP/1.1 431 "), out[:100])
        self.assertIn(b'"code":"headers_too_large"', out)
        self.assertIn(how, ("eof", "reset"))
        # 15 KiB of headers is within the cap.
        fits = b"GET /api/health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"x" * 15000 + b"\r\n"
        out, _, _ = self.raw_exchange(fits + b"Connection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out[:100])
        out, _, _ = self.raw_exchange(b"GET /" + b"a" * 17000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 414 "), out[:100])
        self.assertIn(b'"code":"uri_too_long"', out)

    def test_chunked_body_is_411_and_other_expectations_417(self):
        head = (f"POST {self.MAPPINGS} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer x\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
        out, how, _ = self.raw_exchange(head + b"5\r\nhello\r\n0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 411 "), out)
        self.assertIn(b'"code":"length_required"', out)
        self.assertEqual(out.count(b"HTTP/1.1"), 1, "the chunks were parsed as a request")
        out, _, _ = self.raw_exchange(b"POST /api/demo/homes/1/mappings HTTP/1.1\r\nHost: t\r\n"
                                      b"Content-Length: 2\r\nExpect: magic\r\n\r\n{}")
        self.assertTrue(out.startswith(b"HTTP/1.1 417 "), out)
        self.assertIn(b'"code":"expectation_failed"', out)

    def test_head_request_gets_the_length_without_a_body(self):
        with h.connect(self.port) as sock:
            sock.sendall(b"HEAD /api/health HTTP/1.1\r\nHost: t\r\n\r\n"
                         b"GET /api/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            out, _ = h.recv_until_closed(sock)
        first, second = out.split(b"HTTP/1.1 200 OK", 2)[1:]
        self.assertIn(b"Content-Length: 15\r\n", first)
        self.assertTrue(first.endswith(b"\r\n\r\n"), first)
        self.assertTrue(second.endswith(b'{"status":"ok"}'), second)

    def test_bad_percent_escape_is_400(self):
        out, _, _ = self.raw_exchange(b"GET /api/demo/homes/%zz HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out)
        self.assertIn(b"percent-escape", out)
        status, _, body = self.json_request("GET", "/api/demo/homes/a%20b")
        self.assertEqual((status, body), (200, {"id": "a b"}))

    def test_delete_without_content_length(self):
        out, _, seconds = self.raw_exchange(
            b"DELETE /api/demo/homes/3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 204 "), out)
        self.assertLess(seconds, QUICK, "the server waited for a body that has no length")

    # ---- OpenAPI ----

    @staticmethod
    def example_body(schema):
        body = {}
        for name, prop in schema.get("properties", {}).items():
            if name not in schema.get("required", []):
                continue
            kind = prop["type"]
            if kind == "string":
                body[name] = "x" * max(1, prop.get("minLength", 1))
            elif kind == "integer":
                body[name] = max(prop.get("minimum", 0), 1)
            elif kind == "boolean":
                body[name] = True
            elif kind == "array":
                body[name] = [max(prop["items"].get("minimum", 0), 1)]
        return body

    def test_openapi_document_matches_the_routes(self):
        status, _, doc = self.json_request("GET", "/api/openapi.json")
        self.assertEqual(status, 200)
        self.assertRegex(doc["openapi"], r"^3\.\d+\.\d+$")
        self.assertIn("title", doc["info"])
        self.assertIn("version", doc["info"])
        expected = {("/api/health", "get"), ("/api/openapi.json", "get"), ("/metrics", "get"),
                    ("/api/demo/homes/{id}/mappings", "post"), ("/api/demo/homes/{id}", "get"),
                    ("/api/demo/homes/{id}", "delete"), ("/api/demo/throw", "get"),
                    ("/api/demo/sleep", "get")}
        found = {(path, method) for path, ops in doc["paths"].items() for method in ops}
        self.assertEqual(found, expected)
        ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
        self.assertEqual(len(ids), len(set(ids)), "operationId must be unique")
        # Every $ref resolves.
        text = json.dumps(doc)
        for ref in set(part.split('"')[0] for part in text.split('"$ref": "')[1:]):
            node = doc
            for key in ref.lstrip("#/").split("/"):
                node = node[key]

    def test_walk_openapi_and_call_every_operation(self):
        _, _, doc = self.json_request("GET", "/api/openapi.json")
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                with self.subTest(op=op["operationId"]):
                    url = path
                    for param in op.get("parameters", []):
                        if param["in"] == "query":
                            continue  # optional: the walk calls without them
                        self.assertEqual(param["in"], "path")
                        self.assertIn("{" + param["name"] + "}", path)
                        url = url.replace("{" + param["name"] + "}", "42")
                    headers = dict(self.AUTH) if op.get("security") else {}
                    body = None
                    if "requestBody" in op:
                        schema = op["requestBody"]["content"]["application/json"]["schema"]
                        self.assertFalse(schema["additionalProperties"])
                        body = self.example_body(schema)
                    status, _, _ = self.request(method.upper(), url, body, headers)
                    self.assertIn(str(status), op["responses"],
                                  f"{method.upper()} {url} answered {status}")
                    self.assertLess(status, 500 if op["operationId"] != "get_api_demo_throw"
                                    else 501)
                    if op.get("security"):
                        status, _, _ = self.request(method.upper(), url, body)
                        self.assertEqual(status, 401)
                        self.assertIn("401", op["responses"])

    # ---- metrics ----

    def test_promtool_accepts_metrics(self):
        self.request("GET", "/api/health")
        text = self.metrics()
        for name in ("cloudlink_control_http_requests_total",
                     "cloudlink_control_http_request_duration_seconds"):
            self.assertIn(f"# TYPE {name} ", text)
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=h.WAIT)
        self.assertEqual(r.returncode, 0, f"promtool:\n{r.stdout}{r.stderr}\n---\n{text}")

    def test_requests_counted_by_route_method_and_status(self):
        def sample(route, method, status):
            key = ("cloudlink_control_http_requests_total",
                   (("method", method), ("route", route), ("status", str(status))))
            return h.parse_metrics(self.metrics()).get(key, 0)

        def duration_count(route):
            key = ("cloudlink_control_http_request_duration_seconds_count", (("route", route),))
            return h.parse_metrics(self.metrics()).get(key, 0)

        route = "/api/demo/homes/{id}"
        before_ok = sample(route, "GET", 200)
        before_405 = sample(route, "PUT", 405)
        before_404 = sample("unmatched", "GET", 404)
        before_count = duration_count(route)
        for i in range(3):
            self.request("GET", f"/api/demo/homes/{i}")
        self.request("PUT", "/api/demo/homes/1")
        self.request("GET", "/api/demo/homes/1/nothing")
        self.request("GET", "/very/random/path/" + "x" * 50)
        # Each request is counted when its response has been written: after the client read it.
        h.wait_until(lambda: sample(route, "GET", 200) == before_ok + 3, what="3 GETs counted")
        self.assertEqual(sample(route, "PUT", 405), before_405 + 1)
        self.assertEqual(sample("unmatched", "GET", 404), before_404 + 2)
        self.assertEqual(duration_count(route), before_count + 4)
        self.assertNotIn("/very/random/path", self.metrics(), "raw paths must not be labels")

    # ---- slow clients ----

    def test_stalled_clients_do_not_block_others_and_are_cut_off(self):
        # More stalled connections than handler threads, each holding half a request: they
        # hold a timer each, not a thread.
        stalled = []
        for _ in range(THREADS * 4):
            sock = h.connect(self.port)
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: t\r\n")
            stalled.append(sock)
        self.addCleanup(lambda: [s.close() for s in stalled])
        time.sleep(0.2)
        start = time.monotonic()
        for _ in range(5):
            self.assertEqual(self.request("GET", "/api/health")[0], 200)
        self.assertLess(time.monotonic() - start, QUICK,
                        "requests waited behind stalled clients")
        # Each stalled connection is answered 408 and closed at the request deadline.
        for sock in stalled:
            sock.settimeout(REQUEST_TIMEOUT + 5)
            out, how = h.recv_until_closed(sock)
            self.assertTrue(out.startswith(b"HTTP/1.1 408 "), out)
            self.assertIn(b'"code":"request_timeout"', out)
            self.assertEqual(how, "eof")

    def test_trickling_client_is_cut_off_by_the_request_deadline(self):
        # One byte per second is under the per-read timeout; the request deadline still ends it.
        sock = h.connect(self.port)
        self.addCleanup(sock.close)
        sock.sendall(b"GET /api/health HTTP/1.1\r\n")
        start = time.monotonic()
        closed = threading.Event()

        def trickle():
            for _ in range(REQUEST_TIMEOUT * 4):
                if closed.is_set():
                    return
                try:
                    sock.sendall(b"X")
                except OSError:
                    return
                time.sleep(QUICK / 2)

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        sock.settimeout(REQUEST_TIMEOUT * 3)
        out, how = h.recv_until_closed(sock)
        closed.set()
        elapsed = time.monotonic() - start
        self.assertIn(how, ("eof", "reset"))
        self.assertLess(elapsed, REQUEST_TIMEOUT + QUICK + 1, out)
        self.assertGreaterEqual(elapsed, REQUEST_TIMEOUT - 1)


class ControlHttpPoolAndProxy(unittest.TestCase):
    """A testserver of its own per test: one handler thread and a short queue, or
    --accept-proxy-from and a per-source limit."""

    def serve(self, *flags):
        work = h.temp_dir(self)
        port = h.free_port()
        proc = h.Process(self, [TESTSERVER, "--listen", f"127.0.0.1:{port}", *flags],
                         "testserver", work)
        h.wait_for_listen(port, proc)
        return port

    @staticmethod
    def get(port, path, source="127.0.0.1", prefix=b""):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(h.WAIT)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        with s:
            s.sendall(prefix + f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                      .encode())
            out, _ = h.recv_until_closed(s)
        return out

    def test_blocked_handlers_do_not_block_the_loop_and_the_queue_is_bounded(self):
        port = self.serve("--threads", 1, "--max-queued", 1)
        results = {}

        def slow(name):
            results[name] = self.get(port, "/api/demo/sleep?ms=1500")

        first = threading.Thread(target=slow, args=("first",))
        first.start()
        # The one handler thread sleeps: the loop still answers what needs no handler.
        time.sleep(0.3)
        start = time.monotonic()
        out = self.get(port, "/api/nothing" + "x" * 20000)
        self.assertTrue(out.startswith(b"HTTP/1.1 414 "), out[:80])
        self.assertLess(time.monotonic() - start, 1.0, "the loop waited for a handler")
        second = threading.Thread(target=slow, args=("second",))
        second.start()  # queued behind the first
        time.sleep(0.3)
        third = self.get(port, "/api/health")  # the queue (1) is full: 503 at once
        self.assertTrue(third.startswith(b"HTTP/1.1 503 "), third)
        self.assertIn(b"Retry-After: 1", third)
        first.join(h.WAIT)
        second.join(h.WAIT)
        self.assertIn(b'"slept_ms":1500', results["first"])
        self.assertIn(b'"slept_ms":1500', results["second"])
        self.assertTrue(self.get(port, "/api/health").startswith(b"HTTP/1.1 200 "))

    def test_proxy_header_from_the_trusted_network_names_the_client(self):
        port = self.serve("--accept-proxy-from", "127.0.0.1/32",
                          "--max-connections-per-source", 2)
        v1 = b"PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n"
        out = self.get(port, "/api/demo/sleep", prefix=v1)
        self.assertIn(b'"source":"203.0.113.7"', out)
        # v2, one byte at a time.
        v2 = (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + socket.inet_aton("192.0.2.9")
              + socket.inet_aton("198.51.100.1") + struct.pack("!HH", 40000, 80))
        with socket.create_connection(("127.0.0.1", port), timeout=h.WAIT) as s:
            for i in range(len(v2)):
                s.sendall(v2[i:i + 1])
                time.sleep(0.005)
            s.sendall(b"GET /api/demo/sleep HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            out, _ = h.recv_until_closed(s)
        self.assertIn(b'"source":"192.0.2.9"', out)
        # Trusted peer, no header: closed without an answer. Untrusted peer with one: the same.
        self.assertEqual(self.get(port, "/api/health"), b"")
        self.assertEqual(self.get(port, "/api/health", source="127.0.0.2", prefix=v1), b"")
        self.assertTrue(self.get(port, "/api/health", source="127.0.0.2")
                        .startswith(b"HTTP/1.1 200 "))
        # The per-source limit counts the client the header names, not the balancer.
        held = []
        for i in range(2):
            s = socket.create_connection(("127.0.0.1", port), timeout=h.WAIT)
            s.sendall(b"PROXY TCP4 203.0.113.8 198.51.100.1 %d 443\r\n" % (1000 + i))
            held.append(s)
        self.addCleanup(lambda: [s.close() for s in held])
        h.wait_until(lambda: b"503" in self.get(
            port, "/api/health", prefix=b"PROXY TCP4 203.0.113.8 198.51.100.1 3 443\r\n")[:20],
            what="a third connection of 203.0.113.8 refused")
        out = self.get(port, "/api/demo/sleep",
                       prefix=b"PROXY TCP4 203.0.113.9 198.51.100.1 4 443\r\n")
        self.assertIn(b'"source":"203.0.113.9"', out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
