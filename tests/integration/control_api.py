"""A real `cloudlink-control serve` for integration tests, and a small client for its REST API.

    server = ControlServer(testcase, workdir)            # starts serve on a free loopback port
    admin = server.admin()                               # the first admin, made with the CLI
    alice = server.active_user("alice")                  # signed up, approved, logged in
    status, body = alice.call("POST", "/api/homes", {"name": "h", "public_key": key})
"""
import http.client
import json
import os
import ssl
import subprocess

import harness as h

ADMIN_PASSWORD = "admin-password-1"


def ssh_keygen(workdir, name, kind="ed25519", bits=None):
    """A new OpenSSH key pair in workdir; returns (private key path, public key line)."""
    path = os.path.join(workdir, name)
    argv = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", name, "-f", path]
    if bits:
        argv[4:4] = ["-b", str(bits)]
    subprocess.run(argv, check=True, timeout=h.WAIT, stdin=subprocess.DEVNULL)
    with open(path + ".pub") as f:
        return path, f.read().strip()


class Client:
    """Calls the API as one identity (a bearer token, or none)."""

    def __init__(self, port, token=None, username=None, tls=False):
        self.port = port
        self.token = token
        self.username = username
        self.tls = tls

    def raw(self, method, path, body=None, content_type="application/json", headers=None):
        """(status, headers, bytes) for any body: dict/list (sent as JSON), str or bytes."""
        if self.tls:  # the test's own certificate: not verified
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=h.WAIT,
                                               context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=h.WAIT)
        try:
            hdrs = dict(headers or {})
            if self.token:
                hdrs.setdefault("Authorization", f"Bearer {self.token}")
            if body is not None:
                if isinstance(body, (dict, list)):
                    body = json.dumps(body)
                if isinstance(body, str):
                    body = body.encode()
                if content_type:
                    hdrs["Content-Type"] = content_type
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def call(self, method, path, body=None, **kwargs):
        """(status, parsed JSON body or None)."""
        status, _, data = self.raw(method, path, body, **kwargs)
        return status, (json.loads(data) if data else None)

    def ok(self, testcase, method, path, body=None, status=200):
        got, answer = self.call(method, path, body)
        testcase.assertEqual(got, status, f"{method} {path}: {answer}")
        return answer


def check(condition, message):
    """assert that survives python -O and works with a test class (setUpClass) as owner."""
    if not condition:
        raise AssertionError(message)


class ControlServer:
    def __init__(self, testcase, workdir, data=None, extra_args=(), tls=None):
        """tls: (certificate file, key file) to serve HTTPS (--listen-tls) instead of HTTP."""
        h.require_binaries(control=True, dataplane=False)
        self.tls = tls
        self.testcase = testcase
        self.workdir = workdir
        self.data = data or os.path.join(workdir, "var")
        self.extra_args = list(extra_args)
        self.port = h.free_port()
        self.proc = None
        self._admin = None
        self.start()

    def start(self):
        h.init_data(self.data)
        listen = ["--listen", f"127.0.0.1:{self.port}"]
        if self.tls:
            listen = ["--listen-tls", f"127.0.0.1:{self.port}", "--tls-cert", self.tls[0],
                      "--tls-key", self.tls[1]]
        self.proc = h.Process(self.testcase,
                              [h.CONTROL, "serve", "--data", self.data] + listen + self.extra_args,
                              f"control-{self.port}", self.workdir)
        h.wait_for_listen(self.port, self.proc)

    def cli(self, *args, stdin=None):
        return subprocess.run([h.CONTROL] + [str(a) for a in args] + ["--data", self.data],
                              input=stdin, capture_output=True, text=True, timeout=h.WAIT)

    def anonymous(self):
        return Client(self.port, tls=bool(self.tls))

    def login(self, username, password):
        status, body = self.anonymous().call("POST", "/api/login",
                                             {"username": username, "password": password})
        check(status == 200, f"login {username}: {status} {body}")
        return Client(self.port, body["token"], username, tls=bool(self.tls))

    def admin(self):
        """The first admin (added with the CLI, as an operator would), logged in."""
        if self._admin is None:
            r = self.cli("users", "add", "root", "--admin", "--password-stdin",
                         stdin=ADMIN_PASSWORD + "\n")
            check(r.returncode == 0, f"users add root: {r.stderr}")
            self._admin = self.login("root", ADMIN_PASSWORD)
        return self._admin

    def active_user(self, username, password=None):
        """Signs up over the API, is approved by the admin, logs in."""
        password = password or f"{username}-password"
        anon = self.anonymous()
        status, body = anon.call("POST", "/api/signup",
                                 {"username": username, "password": password})
        check(status == 201, f"signup {username}: {status} {body}")
        status, body = self.admin().call("POST", f"/api/admin/users/{username}/approve")
        check(status == 200, f"approve {username}: {status} {body}")
        return self.login(username, password)

    def routes_on_disk(self):
        """The routes environment as the dataplane would read it, through the CLI."""
        r = subprocess.run([h.CONTROL, "routes", "list", "--json", "--data", self.data],
                           capture_output=True, text=True, timeout=h.WAIT)
        check(r.returncode == 0, f"routes list: {r.stderr}")
        return {entry["host"]: entry for entry in json.loads(r.stdout)}
