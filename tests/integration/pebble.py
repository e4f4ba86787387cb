"""pebble (Debian's ACME test server) for integration tests: real HTTP-01 validation on a port
the test chooses, DNS answered by pebble-challtestsrv (127.0.0.1 for every name unless
add_a() says otherwise), its own HTTPS certificate from a throwaway CA.

    ca = Pebble(owner, workdir, http_port=port)   # owner: a TestCase or its class
    ca.directory        https URL of the ACME directory
    ca.https_ca         PEM file a client must trust to talk to pebble itself
    ca.root             PEM file of the root that signs the certificates pebble issues
"""
import json
import os
import shutil
import subprocess
import urllib.request

import harness as h


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=h.WAIT)


class Pebble:
    def __init__(self, owner, workdir, http_port):
        for tool in ("pebble", "pebble-challtestsrv"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} is missing: deploy/install-deps.sh installs it")
        work = self.work = os.path.join(workdir, "pebble")
        os.makedirs(work)
        # pebble's own HTTPS listener needs a certificate; clients trust ca.pem for it.
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA",
                 cwd=work)
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", "pebble.key", "-out", "pebble.csr", "-subj", "/CN=localhost", cwd=work)
        with open(os.path.join(work, "ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        _openssl("x509", "-req", "-in", "pebble.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "pebble.pem", "-days", "2", "-extfile", "ext",
                 cwd=work)
        self.https_ca = os.path.join(work, "ca.pem")
        self.acme_port, self.management_port = h.free_port(), h.free_port()
        self.http_port = http_port
        dns_port = h.free_port()
        self.dns_management_port = h.free_port()
        with open(os.path.join(work, "pebble.json"), "w") as f:
            f.write('{"pebble": {"listenAddress": "127.0.0.1:%d", '
                    '"managementListenAddress": "127.0.0.1:%d", "certificate": "pebble.pem", '
                    '"privateKey": "pebble.key", "httpPort": %d, "tlsPort": %d, '
                    '"ocspResponderURL": "", "externalAccountBindingRequired": false}}'
                    % (self.acme_port, self.management_port, http_port, h.free_port()))
        self.dns = h.Process(owner, ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns_port}",
                                     "-http01", "", "-https01", "", "-tlsalpn01", "",
                                     "-management", f"127.0.0.1:{self.dns_management_port}",
                                     "-defaultIPv6", ""], "challtestsrv", work)
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        self.proc = h.Process(owner, ["env", *[f"{k}={v}" for k, v in env.items()
                                               if k.startswith("PEBBLE_")],
                                      "pebble", "-config", "pebble.json", "-dnsserver",
                                      f"127.0.0.1:{dns_port}"], "pebble", work)
        h.wait_for_listen(self.acme_port, self.proc)
        h.wait_for_listen(self.management_port, self.proc)
        h.wait_for_listen(self.dns_management_port, self.dns)
        self.directory = f"https://127.0.0.1:{self.acme_port}/dir"
        root = subprocess.run(["curl", "-sS", "--cacert", self.https_ca,
                               f"https://127.0.0.1:{self.management_port}/roots/0"],
                              capture_output=True, text=True, timeout=h.WAIT, check=True)
        self.root = os.path.join(work, "pebble-root.pem")
        with open(self.root, "w") as f:
            f.write(root.stdout)

    def add_a(self, host, address):
        """From now on, pebble's DNS answers address for host."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.dns_management_port}/add-a",
            data=json.dumps({"host": host, "addresses": [address]}).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=h.WAIT) as r:
            r.read()
