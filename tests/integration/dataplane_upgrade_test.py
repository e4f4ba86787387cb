#!/usr/bin/env python3
"""cloudlink-dataplane upgrades without a refused connection: SIGHUP starts a successor that
takes the listening sockets over (SCM_RIGHTS), the old process stops accepting and drains.
Real processes on 127.0.0.1: 4 clients connect back to back and a 200 MB transfer runs across
5 consecutive upgrades; no connection may be refused or reset, the transfer is byte-exact.

The test process is a child subreaper (prctl), so each successor, orphaned when its
predecessor exits, becomes our child: its exit status is checked and nothing outlives the test.
"""
import ctypes
import hashlib
import os
import re
import signal
import socket
import struct
import threading
import time
import unittest

import harness as h

PR_SET_CHILD_SUBREAPER = 36
TRANSFER = 200 << 20
UPGRADES = 5
CLIENTS = 4


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class Successors:
    """The pids of the dataplane processes started by upgrades (read from their log lines)."""

    def __init__(self, testcase, dp):
        self.dp = dp
        self.pids = []
        self.status = {}
        testcase.addCleanup(self.kill_all)

    def took_over(self):
        return [int(p) for p in re.findall(r"took over \d+ listeners \(pid (\d+)\)",
                                           self.dp.proc.stderr_text())]

    def wait_new(self):
        want = len(self.pids) + 1
        pids = h.wait_until(lambda: len(self.took_over()) >= want and self.took_over(),
                            what=f"successor {want} to take over")
        self.pids = pids
        return pids[-1]

    def reap(self, pid, timeout=h.WAIT):
        """Exit status of an orphaned successor (our child through the subreaper)."""
        def exited():
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                self.status[pid] = os.waitstatus_to_exitcode(status)
                return True
            return False
        h.wait_until(exited, timeout, f"pid {pid} to exit")
        return self.status[pid]

    def kill_all(self):
        for pid in self.pids:
            if pid in self.status:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


class Clients:
    """CLIENTS threads, each making connections back to back: connect, ClientHello + a line,
    read the echo, close. Every failure is kept with what it was."""

    def __init__(self, testcase, port, host):
        self.port = port
        self.hello = h.client_hello(host)
        self.done = 0
        self.failures = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(CLIENTS)]
        for t in self.threads:
            t.start()
        testcase.addCleanup(self.finish)

    def one(self, i, n):
        payload = self.hello + f"client {i} connection {n}\n".encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=h.WAIT) as s:
            s.sendall(payload)
            got = h.recv_exactly(s, len(payload))
            if got != payload:
                raise AssertionError("echo differs")

    def run(self, i):
        n = 0
        while not self.stop.is_set():
            try:
                self.one(i, n)
                with self.lock:
                    self.done += 1
            except (OSError, AssertionError) as e:
                with self.lock:
                    if len(self.failures) < 10:  # a refusing port fails thousands a second
                        self.failures.append(f"client {i} connection {n}: {e!r}")
            n += 1

    def count(self):
        with self.lock:
            return self.done

    def wait_more(self, n):
        start = self.count()
        h.wait_until(lambda: self.count() >= start + n, what=f"{n} more client connections")

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(h.WAIT)


class UpgradeTest(unittest.TestCase):
    def setUp(self):
        h.require_binaries()
        become_subreaper()
        self.work = h.temp_dir(self, "UpgradeTest.")

    def paced_download(self, portions):
        """A backend handler sending TRANSFER bytes in len(portions) parts, each once its event
        is set (so the flow spans the upgrades), and the SHA-256 the client must see."""
        block = os.urandom(1 << 20)
        expected = hashlib.sha256()
        for _ in range(TRANSFER // len(block)):
            expected.update(block)
        view = memoryview(block)

        def handler(backend, conn):
            conn.note(h.recv_exactly_raw(conn.sock, len(self.download_hello)))
            sent = 0
            for i, event in enumerate(portions):
                if not event.wait(h.WAIT * 8):
                    raise TimeoutError(f"portion {i} never released")
                end = TRANSFER * (i + 1) // len(portions)
                while sent < end:
                    at = sent % len(block)
                    n = min(len(block) - at, end - sent)
                    conn.sock.sendall(view[at:at + n])
                    sent += n
            conn.sock.shutdown(socket.SHUT_WR)
            conn.read_to_end()
        return handler, expected.hexdigest()

    def test_five_upgrades_refuse_and_reset_nothing(self):
        dp = h.Dataplane(self, self.work, workers=2, drain_timeout="120s")
        echo = h.TcpBackend(self, h.echo_handler)
        h.routes_add(self, dp.data, "echo.test", [echo.address])
        portions = [threading.Event() for _ in range(UPGRADES + 1)]
        self.download_hello = h.client_hello("download.test")
        handler, digest = self.paced_download(portions)
        downloads = h.TcpBackend(self, handler)
        h.routes_add(self, dp.data, "download.test", [downloads.address])
        successors = Successors(self, dp)

        download = socket.create_connection(("127.0.0.1", dp.port), timeout=h.WAIT * 8)
        self.addCleanup(download.close)
        download.sendall(self.download_hello)
        result = {}
        reader = threading.Thread(
            target=lambda: result.update(zip(("digest", "length", "how"),
                                             h.hash_until_closed(download))), daemon=True)
        reader.start()
        clients = Clients(self, dp.port, "echo.test")
        portions[0].set()
        clients.wait_more(20)

        current = dp.proc.popen.pid
        for upgrade in range(UPGRADES):
            os.kill(current, signal.SIGHUP)
            new = successors.wait_new()
            self.assertNotEqual(new, current)
            clients.wait_more(20)  # served across and after the hand-over
            portions[upgrade + 1].set()
            current = new

        reader.join(h.WAIT * 8)
        self.assertFalse(reader.is_alive(), "the download did not finish")
        download.close()  # the first process still relays it: its drain ends here
        clients.finish()
        self.assertEqual(clients.failures, [])
        self.assertGreater(clients.count(), 20 * (UPGRADES + 1))
        self.assertEqual((result["length"], result["how"]), (TRANSFER, "eof"))
        self.assertEqual(result["digest"], digest)

        # Every predecessor drained and exited cleanly; the last one serves, /metrics included.
        self.assertEqual(dp.proc.wait(), 0, dp.proc.stderr_text())
        for pid in successors.pids[:-1]:
            self.assertEqual(successors.reap(pid), 0, dp.proc.stderr_text())
        self.assertEqual(dp.metric("cloudlink_connections_active"), 0)
        results = {e["result"] for e in dp.access_log()}
        self.assertEqual(results, {"ok"}, dp.proc.stderr_text())
        os.kill(current, signal.SIGTERM)
        self.assertEqual(successors.reap(current), 0, dp.proc.stderr_text())
        h.wait_refused(dp.port)


class ReloadSettingsTest(unittest.TestCase):
    """A reload reads the settings file again; a file that does not parse fails the successor
    and the running process keeps serving."""

    def setUp(self):
        h.require_binaries()
        become_subreaper()
        self.work = h.temp_dir(self, "ReloadSettingsTest.")
        self.conf = os.path.join(self.work, "dataplane.conf")

    def write_conf(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def test_bad_file_keeps_the_old_process_and_a_good_one_is_applied(self):
        self.write_conf("max-connections = 100\nhello-timeout = 5s\n")
        dp = h.Dataplane(self, self.work, workers=1, config=self.conf)
        echo = h.TcpBackend(self, h.echo_handler)
        h.routes_add(self, dp.data, "echo.test", [echo.address])
        successors = Successors(self, dp)
        self.assertEqual(dp.metric("cloudlink_connections_max"), 100)

        self.write_conf("max-connections = 200\nhello-timeout = soon\n")
        dp.proc.send_signal(signal.SIGHUP)
        h.wait_until(lambda: "upgrade failed" in dp.proc.stderr_text(), what="a failed upgrade")
        err = dp.proc.stderr_text()
        self.assertIn(f"{self.conf}:2: key hello-timeout", err)
        self.assertEqual(successors.took_over(), [])
        self.assertTrue(dp.proc.alive())
        hello = h.client_hello("echo.test")
        with socket.create_connection(("127.0.0.1", dp.port), timeout=h.WAIT) as s:
            s.sendall(hello)
            self.assertEqual(h.recv_exactly(s, len(hello)), hello)
        self.assertEqual(dp.metric("cloudlink_connections_max"), 100)

        self.write_conf("max-connections = 200\n")
        dp.proc.send_signal(signal.SIGHUP)
        new = successors.wait_new()
        self.assertEqual(dp.proc.wait(), 0, dp.proc.stderr_text())
        # /metrics moved to the successor with the new setting.
        h.wait_until(lambda: self._metric_or_none(dp) == 200, what="the new max-connections")
        os.kill(new, signal.SIGTERM)
        self.assertEqual(successors.reap(new), 0, dp.proc.stderr_text())

    @staticmethod
    def _metric_or_none(dp):
        try:
            return dp.metric("cloudlink_connections_max")
        except OSError:
            return None


class FakeSystemd:
    """systemd's end of sd_notify: a datagram socket named by NOTIFY_SOCKET that records each
    message with the sender's pid (SO_PASSCRED) and closes any descriptor sent along (what
    sd_notify_barrier waits for)."""

    def __init__(self, testcase, workdir):
        self.path = os.path.join(workdir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages = []  # (pid, {field: value})
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        testcase.addCleanup(self.close)

    def run(self):
        creds = struct.calcsize("3i")
        while not self.stop.is_set():
            try:
                data, ancillary, _, _ = self.sock.recvmsg(
                    4096, socket.CMSG_SPACE(creds) + socket.CMSG_SPACE(16 * 4))
            except socket.timeout:
                continue
            pid = None
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:creds])[0]
                elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    for i in range(len(payload) // 4):
                        os.close(struct.unpack_from("i", payload, 4 * i)[0])
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self.lock:
                self.messages.append((pid, fields))

    def sent(self, pid, field, value=None):
        with self.lock:
            return [f for p, f in self.messages
                    if p == pid and field in f and (value is None or f[field] == value)]

    def wait(self, pid, field, value=None):
        return h.wait_until(lambda: self.sent(pid, field, value),
                            what=f"{field}={value or '*'} from pid {pid}")

    def close(self):
        self.stop.set()
        self.thread.join(h.WAIT)
        self.sock.close()


class NotifyTest(unittest.TestCase):
    """sd_notify as a Type=notify unit with NotifyAccess=all and WatchdogSec= sees it."""

    def setUp(self):
        h.require_binaries()
        become_subreaper()
        self.work = h.temp_dir(self, "NotifyTest.")

    def test_ready_watchdog_reload_to_a_new_main_pid_and_stopping(self):
        systemd = FakeSystemd(self, self.work)

        def as_systemd_starts_it():
            # systemd names the main process in WATCHDOG_PID: the successor must not inherit it.
            os.environ["NOTIFY_SOCKET"] = systemd.path
            os.environ["WATCHDOG_USEC"] = "400000"
            os.environ["WATCHDOG_PID"] = str(os.getpid())

        dp = h.Dataplane(self, self.work, workers=2, preexec_fn=as_systemd_starts_it)
        old = dp.proc.popen.pid
        ready = systemd.wait(old, "READY", "1")
        self.assertIn("serving TLS on 127.0.0.1:%d" % dp.port, ready[0].get("STATUS", ""))
        systemd.wait(old, "WATCHDOG", "1")

        successors = Successors(self, dp)
        dp.proc.send_signal(signal.SIGHUP)
        new = successors.wait_new()
        systemd.wait(old, "RELOADING", "1")
        self.assertEqual(systemd.wait(new, "MAINPID")[0]["MAINPID"], str(new))
        systemd.wait(new, "READY", "1")
        systemd.wait(new, "WATCHDOG", "1")
        self.assertEqual(dp.proc.wait(), 0, dp.proc.stderr_text())
        self.assertEqual(systemd.sent(old, "STOPPING"), [], "a handover is not a stop")

        os.kill(new, signal.SIGTERM)
        self.assertEqual(successors.reap(new), 0, dp.proc.stderr_text())
        systemd.wait(new, "STOPPING", "1")


if __name__ == "__main__":
    unittest.main(verbosity=2)
