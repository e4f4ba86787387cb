"""A real OpenSSH sshd with deploy/sshd/cloudlink.conf for integration tests, as root.

    skip = sshd_fixture.skip_reason()                 # None when sshd can run here
    fx = sshd_fixture.SshdFixture(owner, workdir)     # users, a root-owned copy of the binary,
    fx.make_data()                                    # a data dir sshd's key user may read
    ... fx.control_ok("users", "add", ...) ...        # the CLI on that data
    fx.grant_data()                                   # (again) after new state files
    fx.start_sshd()                                   # sshd -D on a free loopback port
    proc = fx.open_tunnel(owner, key, port, target)   # ssh -N -R 127.0.0.1:port:...

sshd's AuthorizedKeysCommand points at the copied cloudlink-control with the temporary
--data. The `cloudlink` and `cloudlink-keys` users are made when missing (and removed by
the cleanup of the owner that made them).
"""
import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import unittest

import harness
from harness import WAIT

SSHD = "/usr/sbin/sshd"
DROP_IN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "sshd",
                       "cloudlink.conf")
INSTALLED_BINARY = "/usr/local/bin/cloudlink-control"
INSTALLED_DATA = "--data /var/lib/cloudlink"
INSTALLED_SESSIONS = "--sessions-dir /run/cloudlink-sessions"
SSH_TIMEOUT = 30


def skip_reason():
    if os.geteuid() != 0:
        return "sshd must run as root"
    if not os.access(SSHD, os.X_OK):
        return f"{SSHD} is not installed (apt-get install openssh-server)"
    for tool in ("ssh", "ssh-keygen", "useradd"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def ensure_user(owner, name, group=None):
    """Makes the system user the production layout runs sshd's sessions as, once per machine.

    It is kept afterwards, like the package's own users: tests run in parallel, and deleting it
    at one test's cleanup pulled it from under another that still needed it."""
    del owner  # kept for the callers' signature: nothing of the user is torn down per test
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    argv = ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
            "--shell", "/usr/sbin/nologin"]
    if group:
        argv += ["--gid", group]
    made = subprocess.run(argv + [name], timeout=WAIT, capture_output=True, text=True)
    # 9: a test running beside this one made it first.
    if made.returncode not in (0, 9):
        raise RuntimeError(f"useradd {name}: {made.stderr.strip()}")


def keygen(path, kind="ed25519"):
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "test", "-f", path],
                   check=True, timeout=WAIT, capture_output=True)
    with open(path + ".pub") as f:
        return f.read().strip()


def root_owned_bin_dir(owner):
    """A directory sshd accepts for AuthorizedKeysCommand: it and every parent root-owned and
    not group/world-writable (so not under /tmp)."""
    for parent in ("/run", "/var/lib", "/usr/local/lib"):
        st = os.stat(parent)
        if st.st_uid == 0 and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            path = tempfile.mkdtemp(prefix="cloudlink-sshd-test.", dir=parent)
            os.chmod(path, 0o755)
            harness.on_cleanup(owner, shutil.rmtree, path, ignore_errors=True)
            return path
    raise unittest.SkipTest("no root-owned, non-writable directory for the key command")


def run_sshd(owner, work, host_key, drop_in, config_name="sshd_config", process_name="sshd"):
    """sshd on a free loopback port for the cloudlink user, with drop_in after the test's base
    settings, checked with `sshd -t` first; (its Process, its port) once it listens. The names
    may hold {port}."""
    port = harness.free_port()
    config = os.path.join(work, config_name.format(port=port))
    with open(config, "w") as f:
        f.write(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
                "PidFile none\nUsePAM no\nStrictModes yes\nLogLevel VERBOSE\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "AuthorizedKeysFile none\nAllowUsers cloudlink\n\n")
        f.write(drop_in)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
    check = subprocess.run([SSHD, "-t", "-f", config], capture_output=True, text=True,
                           timeout=WAIT)
    if check.returncode != 0:
        raise AssertionError(f"sshd -t refused the config: {check.stderr}")
    sshd = harness.Process(owner, [SSHD, "-D", "-e", "-f", config],
                           process_name.format(port=port), work)
    harness.wait_for_listen(port, sshd)
    return sshd, port


def pick_port_base(width=30):
    """The first of `width` free ports in 20000-31000 (below the ephemeral range)."""
    busy = harness.listening_ports()
    slots = (31000 - 20000) // width
    for n in range(slots):
        base = 20000 + ((os.getpid() + n) % slots) * width
        if not any(p in busy for p in range(base, base + width)):
            return base
    raise AssertionError(f"no {width} free ports in 20000-31000")


class SshdFixture:
    def __init__(self, owner, work):
        if not harness.CONTROL or not os.access(harness.CONTROL, os.X_OK):
            raise AssertionError("set CLOUDLINK_CONTROL to the built cloudlink-control")
        self.owner = owner
        self.work = work
        ensure_user(owner, "cloudlink")
        # '*': no password, but not a locked account (sshd without PAM refuses locked ones).
        subprocess.run(["usermod", "-p", "*", "cloudlink"], check=True, timeout=WAIT,
                       capture_output=True)
        ensure_user(owner, "cloudlink-keys")
        self.keys_gid = pwd.getpwnam("cloudlink-keys").pw_gid
        bin_dir = root_owned_bin_dir(owner)
        self.control = os.path.join(bin_dir, "cloudlink-control")
        shutil.copy(harness.CONTROL, self.control)
        os.chmod(self.control, 0o755)
        self.data = os.path.join(work, "data")
        # Where authorized-keys records each session's key (the key user's, as deployed).
        self.sessions = os.path.join(work, "sessions")
        os.makedirs(self.sessions, mode=0o700)
        os.chown(self.sessions, pwd.getpwnam("cloudlink-keys").pw_uid, 0)
        self.sshd = None
        self.ssh_port = None

    def make_data(self):
        os.chmod(self.work, 0o755)  # the key user passes through to data/ and sessions/
        os.makedirs(self.data, exist_ok=True)
        harness.init_data(self.data)

    def grant_data(self):
        """The data dir: root's, readable (its lock files writable) by the key user's group."""
        for root, dirs, files in os.walk(self.data):
            for name in dirs + files:
                path = os.path.join(root, name)
                os.chown(path, 0, self.keys_gid)
                os.chmod(path, 0o770 if os.path.isdir(path) else 0o660)
        os.chown(self.data, 0, self.keys_gid)
        os.chmod(self.data, 0o750)

    def control_run(self, *args, stdin=None):
        return subprocess.run([self.control, *[str(a) for a in args], "--data", self.data],
                              input=stdin, capture_output=True, text=True, timeout=WAIT)

    def control_ok(self, *args, stdin=None):
        proc = self.control_run(*args, stdin=stdin)
        if proc.returncode != 0:
            raise AssertionError(f"cloudlink-control {' '.join(map(str, args))}: {proc.stderr}")
        return proc.stdout

    def create_home(self, owner, name, key, base, block=10, width=30, extra=()):
        out = self.control_ok("homes", "create", name, "--owner", owner, "--key", key, "--json",
                              "--port-range", f"{base}-{base + width - 1}", "--port-block",
                              str(block), *extra)
        return json.loads(out)

    def start_sshd(self, edits=()):
        """Starts sshd (the drop-in with each (old, new) of edits applied); its Process. The
        first one started is the one ssh_argv() connects to."""
        host_key = os.path.join(self.work, f"host_key.{len(os.listdir(self.work))}")
        keygen(host_key)
        with open(DROP_IN) as f:
            drop_in = f.read()
        for installed in (INSTALLED_BINARY, INSTALLED_DATA, INSTALLED_SESSIONS):
            assert installed in drop_in, f"{DROP_IN} no longer has {installed!r}"
        drop_in = drop_in.replace(INSTALLED_BINARY, self.control)
        drop_in = drop_in.replace(INSTALLED_DATA, f"--data {self.data}")
        drop_in = drop_in.replace(INSTALLED_SESSIONS, f"--sessions-dir {self.sessions}")
        for old, new in edits:
            assert old in drop_in, f"{DROP_IN} no longer has {old!r}"
            drop_in = drop_in.replace(old, new)
        sshd, port = run_sshd(self.owner, self.work, host_key, drop_in,
                              config_name="sshd_config.{port}", process_name="sshd-{port}")
        sshd.port = port
        if self.sshd is None:
            self.sshd, self.ssh_port = sshd, port
        return sshd

    def ssh_argv(self, key, *extra, port=None):
        return ["ssh", "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes",
                "-o", "IdentityAgent=none", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=10", "-o", "ExitOnForwardFailure=yes",
                "-o", "ServerAliveInterval=5", "-o", "LogLevel=ERROR",
                "-p", str(port or self.ssh_port), *extra, "cloudlink@127.0.0.1"]

    def ssh(self, key, *extra, command=(), port=None):
        return subprocess.run(self.ssh_argv(key, *extra, port=port) + list(command), capture_output=True,
                              text=True, timeout=SSH_TIMEOUT, stdin=subprocess.DEVNULL)

    def open_tunnel(self, owner, key, port, target_port, name):
        proc = harness.Process(owner, self.ssh_argv(key, "-N", "-R",
                                                    f"127.0.0.1:{port}:127.0.0.1:{target_port}"),
                               name, self.work)
        try:
            harness.wait_for_listen(port, proc, timeout=SSH_TIMEOUT)
        except AssertionError as e:
            raise AssertionError(f"{e}\nsshd's log ends:\n{self.sshd.stderr_text()[-3000:]}") \
                from None
        return proc
