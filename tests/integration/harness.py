"""Shared pieces for the cloudlink integration tests: real processes on 127.0.0.1.

Everything here is Python 3 standard library plus the openssl and curl command-line tools.
Every wait is bounded (WAIT seconds unless a caller says otherwise) and every process or
thread a test starts is stopped by the cleanup the helper registers, even when the test fails.

The binaries come from the environment (set by CTest):
  CLOUDLINK_DATAPLANE  path to cloudlink-dataplane
  CLOUDLINK_CONTROL    path to cloudlink-control
"""
import atexit
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request

DATAPLANE = os.environ.get("CLOUDLINK_DATAPLANE", "")
CONTROL = os.environ.get("CLOUDLINK_CONTROL", "")

# Generous bound for anything that should happen "soon"; a test waiting this long has failed.
WAIT = 15.0

# Fatal alerts unrecognized_name (112) and decode_error (50) in TLS 1.2-versioned records.
ALERT_UNRECOGNIZED_NAME = bytes.fromhex("15030300020270")
ALERT_DECODE_ERROR = bytes.fromhex("15030300020232")

ACCESS_LOG_KEYS = ["ts", "client", "sni", "target", "result", "bytes_from_client",
                   "bytes_to_client", "duration_s"]

_live_processes = []


def _kill_leftovers():
    for proc in list(_live_processes):
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_kill_leftovers)


def require_binaries(control=True, dataplane=True):
    """Fails (not skips: a missing binary is a broken build) without the binaries."""
    wanted = [("CLOUDLINK_DATAPLANE", DATAPLANE)] if dataplane else []
    if control:
        wanted.append(("CLOUDLINK_CONTROL", CONTROL))
    for name, path in wanted:
        if not path or not os.access(path, os.X_OK):
            raise AssertionError(f"set {name} to the built binary (got {path!r})")


_LOGFMT_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)')


def logfmt(line):
    """The key/value pairs of one logfmt line (common/log.h), quoted values unescaped."""
    fields = {}
    for key, value in _LOGFMT_PAIR.findall(line):
        if value.startswith('"'):
            value = re.sub(r'\\x([0-9a-f]{2})', lambda m: chr(int(m.group(1), 16)), value[1:-1])
            value = re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)),
                           value)
        fields[key] = value
    return fields


def assert_diagnostic(testcase, line, program, level=None):
    """line is one of program's diagnostics (ts, level, prog, msg); returns its msg."""
    fields = logfmt(line)
    testcase.assertRegex(fields.get("ts", ""), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", line)
    testcase.assertIn(fields.get("level"), ("debug", "info", "warn", "error"), line)
    if level:
        testcase.assertEqual(fields["level"], level, line)
    testcase.assertEqual(fields.get("prog"), program, line)
    testcase.assertIn("msg", fields, line)
    return fields["msg"]


def on_cleanup(owner, fn, *args, **kwargs):
    """Registers fn with a test (addCleanup) or, from setUpClass, with its class."""
    if isinstance(owner, type):
        owner.addClassCleanup(fn, *args, **kwargs)
    else:
        owner.addCleanup(fn, *args, **kwargs)


def temp_dir(owner, prefix="cloudlink-it."):
    path = tempfile.mkdtemp(prefix=prefix)
    on_cleanup(owner, shutil.rmtree, path, ignore_errors=True)
    return path


# ---- waiting and ports ----

def wait_until(predicate, timeout=WAIT, what="condition", interval=0.02):
    """Polls predicate until it returns a truthy value, which is returned; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port():
    """A loopback TCP port nobody listens on right now (the kernel's pick, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_ports():
    """Local ports in LISTEN state on IPv4/IPv6, read from /proc (no probe connection made)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A":
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            pass
    return ports


def wait_for_listen(port, proc=None, timeout=WAIT):
    """Waits until something listens on port; fails early, with its stderr, if proc exits."""
    def ready():
        if proc is not None and not proc.alive():
            raise AssertionError(
                f"{proc.name} exited with {proc.returncode()} before listening on {port}:\n"
                f"{proc.stderr_text()}")
        return port in listening_ports()
    wait_until(ready, timeout, f"a listener on 127.0.0.1:{port}")


def connect(port, timeout=WAIT):
    dataplane = _dataplane_listening_on.get(port)
    log_size = dataplane.log_size() if dataplane is not None else 0
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if dataplane is not None:
        dataplane.mark_client(s.getsockname(), log_size)
    return s


# Listening port -> the Dataplane on it, so connect() can tell a dataplane where in its access
# log a client's line can start (client ports are reused over thousands of flows).
_dataplane_listening_on = {}


# ---- processes ----

class Process:
    """A child process with stdout and stderr captured to files (no pipe can fill up)."""

    def __init__(self, testcase, argv, name, workdir, preexec_fn=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.stdout_path = os.path.join(workdir, f"{name}.stdout")
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=err, cwd=workdir, preexec_fn=preexec_fn)
        _live_processes.append(self.popen)
        on_cleanup(testcase, self.stop)

    def alive(self):
        return self.popen.poll() is None

    def returncode(self):
        return self.popen.poll()

    def send_signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def wait(self, timeout=WAIT):
        """Exit status; raises AssertionError if it does not exit within timeout."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout:.0f}s") from None

    def stop(self):
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        if self.popen in _live_processes:
            _live_processes.remove(self.popen)

    def stdout_text(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")


def run(argv, timeout=WAIT, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)


# ---- the data folder and routes (through the real cloudlink-control) ----

def init_data(data):
    """Initialises data as `cloudlink-control init` does on a VPS, without systemd or chown;
    every other control command refuses a folder init never made. Does nothing once done."""
    if os.path.exists(os.path.join(data, "state", "data.mdb")):
        return data
    proc = run([CONTROL, "init", "--no-start", "--no-chown", "--data", data])
    if proc.returncode != 0:
        raise AssertionError(f"init --data {data}: {proc.stderr}")
    return data


def routes_add(testcase, data, host, targets, proxy_v2=False, http_target=None):
    init_data(data)
    argv = [CONTROL, "routes", "add", host, ",".join(targets)]
    if proxy_v2:
        argv += ["--proxy-protocol", "v2"]
    if http_target:
        argv += ["--http-target", http_target]
    proc = run(argv + ["--data", data])
    testcase.assertEqual(proc.returncode, 0, f"routes add {host}: {proc.stderr}")


def routes_rm(testcase, data, host):
    proc = run([CONTROL, "routes", "rm", host, "--data", data])
    testcase.assertEqual(proc.returncode, 0, f"routes rm {host}: {proc.stderr}")


# ---- TLS material and the openssl s_server backend ----

def make_cert(workdir, cn="app.test"):
    """A self-signed P-256 certificate and key, made with the openssl CLI."""
    cert = os.path.join(workdir, "cert.pem")
    key = os.path.join(workdir, "key.pem")
    proc = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}", "-days", "2"])
    if proc.returncode != 0:
        raise AssertionError(f"openssl req failed: {proc.stderr}")
    return cert, key


def start_s_server(testcase, workdir, cert, key):
    """`openssl s_server -www` on a free loopback port; returns (process, port)."""
    port = free_port()
    proc = Process(testcase, ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
                              cert, "-key", key, "-www", "-quiet"], f"s_server-{port}", workdir)
    wait_for_listen(port, proc)
    return proc, port


def curl(host, port, path="/", extra=(), timeout=WAIT):
    return run(["curl", "-sS", "-k", "--max-time", str(int(timeout)), "--resolve",
                f"{host}:{port}:127.0.0.1", *extra, f"https://{host}:{port}{path}"],
               timeout=timeout + 5)


# ---- ClientHellos ----

def client_hello(sni):
    """The ClientHello Python's ssl module sends for server_hostname=sni (None: no SNI)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[0] == 0x16 and len(hello) == 5 + struct.unpack("!H", hello[3:5])[0], hello[:5]
    return hello


def build_client_hello(sni, padding=0):
    """A minimal hand-built TLS 1.3 ClientHello for sni with a padding extension of `padding`
    bytes (a stand-in for a large post-quantum key share), in as many records as needed."""
    def vector(length_bytes, body):
        return len(body).to_bytes(length_bytes, "big") + body

    extensions = b""
    if sni is not None:
        name = sni.encode()
        extensions += struct.pack("!H", 0) + vector(2, vector(2, b"\x00" + vector(2, name)))
    extensions += struct.pack("!H", 43) + vector(2, vector(1, b"\x03\x04"))
    if padding:
        extensions += struct.pack("!H", 21) + vector(2, bytes(padding))
    body = (b"\x03\x03" + os.urandom(32) + vector(1, os.urandom(32)) + vector(2, b"\x13\x01")
            + vector(1, b"\x00") + vector(2, extensions))
    handshake = b"\x01" + vector(3, body)
    out = b""
    for i in range(0, len(handshake), 16384):
        out += b"\x16\x03\x01" + vector(2, handshake[i:i + 16384])
    return out


def split_into_records(hello, pieces=2):
    """The same handshake message carried in `pieces` TLS records instead of one."""
    body = hello[5:]
    step = -(-len(body) // pieces)
    out = b""
    for i in range(0, len(body), step):
        chunk = body[i:i + step]
        out += hello[:3] + struct.pack("!H", len(chunk)) + chunk
    return out


# ---- socket helpers ----

def recv_exactly(sock, n):
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = sock.recv(min(n - len(buf), 1 << 20))
        except ConnectionResetError:
            raise AssertionError(f"reset after {len(buf)} of {n} bytes") from None
        if not chunk:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_until_closed(sock):
    """Reads to the end. Returns (bytes, "eof" | "reset")."""
    buf = bytearray()
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return bytes(buf), "eof"
            buf += chunk
    except ConnectionResetError:
        return bytes(buf), "reset"


def hash_until_closed(sock):
    """Reads to the end, hashing. Returns (sha256 hex, length, "eof" | "reset")."""
    h = hashlib.sha256()
    total = 0
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return h.hexdigest(), total, "eof"
            h.update(chunk)
            total += len(chunk)
    except ConnectionResetError:
        return h.hexdigest(), total, "reset"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def reset(sock):
    """Closes with an RST instead of a FIN (SO_LINGER with a zero timeout)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def send_in_thread(sock, data, then_shutdown=True):
    """Sends data (then FIN) from a thread; join() it and check .error afterwards."""
    def body():
        try:
            sock.sendall(data)
            if then_shutdown:
                sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            thread.error = e
    thread = threading.Thread(target=body, daemon=True)
    thread.error = None
    thread.start()
    return thread


# ---- raw TCP backends ----

class BackendConnection:
    """What a backend saw on one accepted connection."""

    def __init__(self, sock, peer):
        self.sock = sock
        self.peer = peer
        self.received = hashlib.sha256()
        self.received_length = 0
        self.head = bytearray()  # the first bytes received (the ClientHello, a PROXY header)
        self.ended = None  # "eof" or "reset" once reading stopped
        self.proxy_source = None
        self.proxy_destination = None
        self.error = None
        self.done = threading.Event()

    def note(self, chunk):
        self.received.update(chunk)
        self.received_length += len(chunk)
        if len(self.head) < 65536:
            self.head += chunk[:65536 - len(self.head)]

    def read_to_end(self):
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    self.ended = "eof"
                    return
                self.note(chunk)
        except ConnectionResetError:
            self.ended = "reset"

    def digest(self):
        return self.received.hexdigest()


class TcpBackend:
    """A loopback TCP server running handler(BackendConnection) on a thread per connection."""

    def __init__(self, testcase, handler):
        self.handler = handler
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.connections = []
        self.release = threading.Event()  # handlers that hold a flow open wait for this
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()
        on_cleanup(testcase, self.close)

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                sock, peer = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(WAIT * 4)
            conn = BackendConnection(sock, peer)
            with self._lock:
                self.connections.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn):
        try:
            self.handler(self, conn)
        except Exception as e:  # recorded for the test to assert on
            conn.error = e
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass
            conn.done.set()

    def wait_connections(self, n, timeout=WAIT):
        wait_until(lambda: len(self.connections) >= n, timeout,
                   f"{n} connection(s) at backend {self.address}")
        return self.connections[n - 1]

    def close(self):
        self._stopping.set()
        self.release.set()
        self._acceptor.join(WAIT)
        self.listener.close()
        for conn in list(self.connections):
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(WAIT)


def echo_handler(backend, conn):
    """Sends back everything it receives; closes its write side after the client's FIN."""
    try:
        while True:
            chunk = conn.sock.recv(1 << 20)
            if not chunk:
                conn.ended = "eof"
                break
            conn.note(chunk)
            conn.sock.sendall(chunk)
    except ConnectionResetError:
        conn.ended = "reset"
        return
    conn.sock.shutdown(socket.SHUT_WR)


def sink_then_send(payload):
    """Reads to EOF, then sends payload and closes."""
    def handler(backend, conn):
        conn.read_to_end()
        conn.sock.sendall(payload)
    return handler


def sink_and_send_at_once(payload):
    """Sends payload (then FIN) while reading to EOF: both directions busy at the same time."""
    def handler(backend, conn):
        sender = send_in_thread(conn.sock, payload)
        conn.read_to_end()
        sender.join(WAIT * 4)
        if sender.error:
            raise sender.error
    return handler


def proxy_v2_echo_handler(backend, conn):
    """Parses a PROXY protocol v2 header (TCP over IPv4/IPv6), records the addresses it
    carries, then echoes the rest like echo_handler."""
    fixed = recv_exactly_raw(conn.sock, 16)
    if fixed[:12] != b"\r\n\r\n\x00\r\nQUIT\n":
        raise ValueError(f"no PROXY v2 signature: {fixed!r}")
    version_command, family, length = fixed[12], fixed[13], struct.unpack("!H", fixed[14:16])[0]
    if version_command != 0x21:
        raise ValueError(f"not PROXY v2 command: {version_command:#x}")
    rest = recv_exactly_raw(conn.sock, length)
    if family == 0x11:
        src, dst, sport, dport = struct.unpack("!4s4sHH", rest[:12])
        conn.proxy_source = (socket.inet_ntop(socket.AF_INET, src), sport)
        conn.proxy_destination = (socket.inet_ntop(socket.AF_INET, dst), dport)
    elif family == 0x21:
        src, dst, sport, dport = struct.unpack("!16s16sHH", rest[:36])
        conn.proxy_source = (socket.inet_ntop(socket.AF_INET6, src), sport)
        conn.proxy_destination = (socket.inet_ntop(socket.AF_INET6, dst), dport)
    else:
        raise ValueError(f"unexpected PROXY v2 family {family:#x}")
    echo_handler(backend, conn)


def reset_after_head(head_length):
    """Reads head_length bytes (the ClientHello), then resets the connection."""
    def handler(backend, conn):
        conn.note(recv_exactly_raw(conn.sock, head_length))
        reset(conn.sock)
    return handler


def recv_exactly_raw(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ValueError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


# ---- the dataplane under test ----

def parse_access_line(line):
    fields = line.split(" ")
    keys = [f.split("=", 1)[0] for f in fields]
    if keys != ACCESS_LOG_KEYS:
        raise AssertionError(f"access log keys {keys} != {ACCESS_LOG_KEYS}: {line!r}")
    entry = dict(f.split("=", 1) for f in fields)
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"]):
        raise AssertionError(f"ts is not RFC 3339 UTC with milliseconds: {line!r}")
    return entry


_METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text format -> {(name, ((label, value), ...)): float}."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC_LINE.match(line)
        if not m:
            raise AssertionError(f"unparseable metrics line: {line!r}")
        labels = tuple(sorted(_LABEL.findall(m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


class Dataplane:
    """cloudlink-dataplane on free loopback ports, with its own --data directory."""

    def __init__(self, testcase, workdir, relay="copy", workers=2, listeners=1, data=None,
                 http_listeners=0, preexec_fn=None, **flags):
        self.workdir = workdir
        self.data = data or os.path.join(workdir, "data")
        os.makedirs(self.data, exist_ok=True)
        self.tls_ports = [free_port() for _ in range(listeners)]
        self.port = self.tls_ports[0]
        self.http_ports = [free_port() for _ in range(http_listeners)]
        self.metrics_port = free_port()
        argv = [DATAPLANE, "--data", self.data, "--metrics", f"127.0.0.1:{self.metrics_port}",
                "--workers", workers, "--relay", relay]
        for p in self.tls_ports:
            argv += ["--listen-tls", f"127.0.0.1:{p}"]
        for p in self.http_ports:
            argv += ["--listen-http", f"127.0.0.1:{p}"]
        for name, value in flags.items():
            argv += ["--" + name.replace("_", "-"), value]
        self.proc = Process(testcase, argv, f"dataplane-{self.port}", workdir,
                            preexec_fn=preexec_fn)
        for p in self.tls_ports + self.http_ports + [self.metrics_port]:
            wait_for_listen(p, self.proc)
        self._client_marks = {}  # "ip:port" -> access log size when that client connected
        for p in self.tls_ports + self.http_ports:
            _dataplane_listening_on[p] = self
            on_cleanup(testcase, _dataplane_listening_on.pop, p, None)

    def log_size(self):
        return os.path.getsize(self.proc.stdout_path)

    def mark_client(self, sock_name, log_size):
        """The access log line of the client at sock_name starts at or after log_size."""
        self._client_marks[f"{sock_name[0]}:{sock_name[1]}"] = log_size

    # access log (stdout)
    def access_log(self, since=0):
        with open(self.proc.stdout_path, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
        return [parse_access_line(line) for line in text.splitlines()]

    def wait_log(self, predicate, what="an access log line", timeout=WAIT, since=0):
        def find():
            for entry in self.access_log(since):
                if predicate(entry):
                    return entry
            return None
        try:
            return wait_until(find, timeout, what)
        except AssertionError as e:
            raise AssertionError(f"{e}; access log:\n{self.proc.stdout_text()}\nstderr:\n"
                                 f"{self.proc.stderr_text()}") from None

    def log_for(self, client_sock_name, timeout=WAIT):
        """The access log line of the connection whose client end had this (ip, port)."""
        client = f"{client_sock_name[0]}:{client_sock_name[1]}"
        return self.wait_log(lambda e: e["client"] == client, f"access log for {client}", timeout,
                             since=self._client_marks.get(client, 0))

    # metrics
    def metrics_text(self):
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=WAIT) as r:
            return r.read().decode()

    def metrics(self):
        return parse_metrics(self.metrics_text())

    def metric(self, name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return self.metrics().get(key, 0.0)

    def wait_metric(self, name, expected, timeout=WAIT, **labels):
        """Waits until the sample equals expected (metrics settle when connections close)."""
        try:
            wait_until(lambda: self.metric(name, **labels) == expected, timeout,
                       f"{name}{labels} == {expected}", interval=0.05)
        except AssertionError as e:
            raise AssertionError(f"{e}; it is {self.metric(name, **labels)}") from None

    # lifecycle
    def stop(self, sig=signal.SIGTERM, timeout=WAIT):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def wait_refused(port, timeout=WAIT):
    """Waits until a connection to port is refused (its listeners are closed)."""
    def refused():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
        s.close()
        return False
    wait_until(refused, timeout, f"connections to {port} to be refused", interval=0.05)


def expect_closed_without_data(testcase, sock):
    """The peer closed (FIN or RST) without sending us anything."""
    data, how = recv_until_closed(sock)
    testcase.assertEqual(data, b"", f"expected a close, got {data[:64]!r} then {how}")
    return how
