"""Restarting cloudlink-control (an upgrade, `systemctl restart`) with the real programs.

The dataplane reads the route table on its own, so the routes stay served while control is
down: a client relaying through the dataplane back to back sees no failure across three
restarts (SIGTERM, and one kill -9). An API client sees at most a retryable error while control
is away (the connection is refused: nothing half-done), and afterwards its token, its home and
its mappings are all still there.
"""
import signal
import socket
import threading
import unittest

import control_api
import harness as h
from control_backup_test import EchoServer
import sshd_tunnel_test as sshd_setup

RESTARTS = 3


class ControlRestartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.require_binaries()
        cls.work = h.temp_dir(cls, "control_restart.")

    def test_routes_stay_served_and_api_clients_retry_across_restarts(self):
        base = sshd_setup.SshdTunnelTest.pick_port_base()
        server = control_api.ControlServer(self, self.work,
                                           extra_args=["--port-range", f"{base}-{base + 29}"])
        alice = server.active_user("alice")
        _, key = control_api.ssh_keygen(self.work, "alice_home")
        home = alice.ok(self, "POST", "/api/homes", {"name": "alice-home", "public_key": key},
                        status=201)
        port = home["ports"][0]
        alice.ok(self, "POST", f"/api/homes/{home['id']}/mappings",
                 {"hostname": "restart.test", "tls_ports": [port]}, status=201)
        EchoServer(self, port)
        dp = h.Dataplane(self, self.work, data=server.data)

        hello = h.client_hello("restart.test")
        relayed = []
        failures = []
        stop = threading.Event()
        self.addCleanup(stop.set)

        def client():
            while not stop.is_set():
                try:
                    with h.connect(dp.port) as sock:
                        sock.sendall(hello)
                        if h.recv_exactly(sock, len(hello)) != hello:
                            failures.append("echo differs")
                            return
                    relayed.append(1)
                except OSError as e:
                    failures.append(repr(e))
                    return

        relay = threading.Thread(target=client, daemon=True)
        relay.start()
        h.wait_until(lambda: len(relayed) >= 20 or failures, what="20 relayed connections")

        refused = 0
        for round_ in range(RESTARTS):
            if round_ == RESTARTS - 1:
                server.proc.popen.send_signal(signal.SIGKILL)  # a crash, not a clean stop
                server.proc.wait()
            else:
                server.proc.stop()
            # Control is away: the API refuses the connection, which a client retries.
            try:
                alice.call("GET", "/api/homes")
            except ConnectionRefusedError:
                refused += 1
            seen = len(relayed)
            h.wait_until(lambda: len(relayed) >= seen + 20 or failures,
                         what="20 connections relayed while control is down")
            server.start()
            # The same token, home and mapping after the restart.
            homes = alice.ok(self, "GET", "/api/homes")
            self.assertEqual([x["id"] for x in homes], [home["id"]])
            mappings = alice.ok(self, "GET", f"/api/homes/{home['id']}/mappings")
            self.assertEqual([m["hostname"] for m in mappings], ["restart.test"])

        seen = len(relayed)
        h.wait_until(lambda: len(relayed) >= seen + 20 or failures,
                     what="20 connections relayed after the last restart")
        stop.set()
        relay.join(h.WAIT)
        print(f"control restarts: {RESTARTS}, relayed connections: {len(relayed)}, "
              f"failed: {len(failures)}, API calls refused while down: {refused}", flush=True)
        self.assertEqual(failures, [])
        self.assertEqual(refused, RESTARTS)


if __name__ == "__main__":
    unittest.main()
