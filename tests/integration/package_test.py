"""The Debian packages (deploy/package.sh) on a clean Debian 12, as an operator gets them.

Builds `cloudlink` and `cloudlink-home` from the programs already built (--prebuilt), then:
  * lintian finds no error (warnings are printed);
  * every program prints `NAME VERSION` with the package's version, and usage errors exit 2;
  * the conffiles are /etc/cloudlink/*.conf and the sshd drop-in;
  * `systemd-analyze verify` accepts every unit and `systemd-analyze security --offline=true`
    rates each VPS unit's exposure at most 2.0 (Debian's haproxy.service is printed beside);
  * in a fresh `debootstrap --variant=minbase bookworm` tree (cached under the build folder):
    install, the users and the data folder's modes, an idempotent reinstall, and a purge that
    removes what postinst made and nothing else (not a group that was there before, not
    control's state);
  * when systemd-nspawn can boot that tree here: the installed units started for real by
    systemd, and a request served by the dataplane (its unit's user and capability) through to
    control; otherwise that part is skipped with the reason.

Needs root (dpkg-buildpackage, chroot, mounts). Environment (set by CTest):
  CLOUDLINK_BUILD_DIR   the CMake build folder holding the three programs
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("CLOUDLINK_BUILD_DIR", "")
PROGRAMS = {"cloudlink-dataplane": "dataplane", "cloudlink-control": "control",
            "cloudlink-home": "home-agent"}
VPS_UNITS = ["cloudlink-dataplane.service", "cloudlink-control.service"]
# Root by design (it reads other users' /proc/PID/fd and signals sshd's sessions): verified and
# started, its exposure printed, not held to MAX_EXPOSURE.
REAPER_UNIT = "cloudlink-reaper.service"
MAX_EXPOSURE = 2.0
MIRROR = "http://deb.debian.org/debian"
# What the cached tree holds beyond minbase: systemd to boot it, sshd for the drop-in, curl.
BOOT_PACKAGES = ["systemd", "systemd-sysv", "dbus", "openssh-server", "curl", "iproute2"]
CONFFILES = {"/etc/cloudlink/control.conf", "/etc/cloudlink/dataplane.conf",
             "/etc/ssh/sshd_config.d/cloudlink.conf"}
# path -> (mode, owner, group), as README's production table says.
DATA_MODES = {
    "/var/lib/cloudlink": ("750", "cloudlink-control", "cloudlink-control"),
    "/var/lib/cloudlink/state": ("770", "cloudlink-control", "cloudlink-control"),
    "/var/lib/cloudlink/routes": ("770", "cloudlink-control", "cloudlink-control"),
    "/var/lib/cloudlink/acme": ("700", "cloudlink-control", "cloudlink-control"),
    "/var/lib/cloudlink/tls": ("700", "cloudlink-control", "cloudlink-control"),
    "/var/lib/cloudlink-home": ("700", "cloudlink-home", "cloudlink-home"),
}
# user -> primary group
USERS = {"cloudlink-control": "cloudlink-control", "cloudlink-dataplane": "cloudlink-control",
         "cloudlink-keys": "cloudlink-control", "cloudlink": "cloudlink",
         "cloudlink-home": "cloudlink-home"}


def sh(argv, timeout=600, check=True, **kwargs):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def read(path):
    with open(path) as f:
        return f.read()


def exposure(unit_path):
    r = sh(["systemd-analyze", "security", "--offline=true", "--no-pager", unit_path],
           check=False)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout + r.stderr)
    if not m:
        raise AssertionError(f"no exposure level for {unit_path}:\n{r.stdout}{r.stderr}")
    return float(m.group(1))


class Tree:
    """A writable copy of the cached debootstrap tree (an overlay over it), chrooted into."""

    def __init__(self, testcase, base):
        self.work = harness.temp_dir(testcase, "cloudlink-pkg-tree.")
        self.root = os.path.join(self.work, "root")
        upper, scratch = os.path.join(self.work, "upper"), os.path.join(self.work, "scratch")
        for d in (self.root, upper, scratch):
            os.makedirs(d)
        self.mounts = []
        sh(["mount", "-t", "overlay", "overlay", "-o",
            f"lowerdir={base},upperdir={upper},workdir={scratch}", self.root])
        self.mounts.append(self.root)
        testcase.addCleanup(self.unmount)

    def mount_proc(self):
        proc = os.path.join(self.root, "proc")
        sh(["mount", "-t", "proc", "proc", proc])
        self.mounts.append(proc)

    def unmount(self):
        for path in reversed(self.mounts):
            subprocess.run(["umount", "-l", path], capture_output=True)
        self.mounts = []

    def run(self, *argv, check=True, timeout=300):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8",
               "DEBIAN_FRONTEND": "noninteractive"}
        return sh(["chroot", self.root, *argv], check=check, timeout=timeout, env=env)

    def path(self, inside):
        return os.path.join(self.root, inside.lstrip("/"))

    def exists(self, inside):
        return os.path.lexists(self.path(inside))

    def copy_in(self, files):
        inside = []
        for f in files:
            shutil.copy(f, self.path("/tmp"))
            inside.append("/tmp/" + os.path.basename(f))
        return inside

    def accounts(self):
        return (read(self.path("/etc/passwd")), read(self.path("/etc/group")))


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: dpkg-buildpackage, chroot and mounts")
        if not BUILD or not os.path.isdir(BUILD):
            raise AssertionError(f"set CLOUDLINK_BUILD_DIR to the CMake build folder ({BUILD!r})")
        cls.work = harness.temp_dir(cls, "cloudlink-pkg.")
        cls.dist = os.path.join(cls.work, "dist")
        started = time.monotonic()
        r = sh(["bash", os.path.join(SOURCE, "deploy/package.sh"), "--prebuilt", BUILD,
                "--out", cls.dist], check=False, timeout=900)
        cls.package_output = r.stdout + r.stderr
        print(f"package.sh: {time.monotonic() - started:.0f} s", flush=True)
        if r.returncode != 0:
            raise AssertionError(f"deploy/package.sh failed:\n{cls.package_output}")
        cls.debs = {}
        for deb in glob.glob(os.path.join(cls.dist, "*.deb")):
            name = sh(["dpkg-deb", "-f", deb, "Package"]).stdout.strip()
            cls.debs[name] = deb
        assert set(cls.debs) == {"cloudlink", "cloudlink-home"}, cls.debs
        cls.version = sh(["dpkg-deb", "-f", cls.debs["cloudlink"], "Version"]).stdout.strip()
        cls.extracted = os.path.join(cls.work, "extracted")
        for deb in cls.debs.values():
            sh(["dpkg-deb", "-x", deb, cls.extracted])

    # ---- the packages themselves ----

    def test_lintian_has_no_errors(self):
        lines = [l for l in self.package_output.splitlines() if re.match(r"^[EWIX]: ", l)]
        print("lintian:\n  " + "\n  ".join(lines or ["(nothing at warning level)"]), flush=True)
        self.assertFalse([l for l in lines if l.startswith("E: ")])
        self.assertIn("== lintian", self.package_output)

    def test_version_is_the_package_version_and_usage_errors_exit_2(self):
        home_version = sh(["dpkg-deb", "-f", self.debs["cloudlink-home"], "Version"]).stdout
        self.assertEqual(home_version.strip(), self.version)
        for name, folder in PROGRAMS.items():
            binary = os.path.join(self.extracted, "usr/bin", name)
            self.assertTrue(os.access(binary, os.X_OK), binary)
            r = sh([binary, "--version"])
            self.assertEqual(r.stdout, f"{name} {self.version}\n")
            built = os.path.join(BUILD, folder, name)
            self.assertEqual(sh([built, "--version"]).stdout, r.stdout)
            self.assertEqual(sh([binary, "--help"]).returncode, 0)
            bad = sh([binary, "--no-such-flag"], check=False)
            self.assertEqual(bad.returncode, 2, bad.stderr)
            self.assertEqual(bad.stderr.count("\n"), 1, bad.stderr)
            self.assertIn("(see --help)", bad.stderr)

    def test_conffiles_and_layout(self):
        def conffiles(deb):
            ctrl = os.path.join(self.work, "ctrl-" + os.path.basename(deb))
            sh(["dpkg-deb", "-e", deb, ctrl])
            path = os.path.join(ctrl, "conffiles")
            return set(read(path).split()) if os.path.exists(path) else set()
        self.assertEqual(conffiles(self.debs["cloudlink"]), CONFFILES)
        self.assertEqual(conffiles(self.debs["cloudlink-home"]), set())
        drop_in = read(os.path.join(self.extracted, "etc/ssh/sshd_config.d/cloudlink.conf"))
        self.assertIn("AuthorizedKeysCommand /usr/bin/cloudlink-control authorized-keys", drop_in)
        for unit in VPS_UNITS + ["cloudlink-home.service"]:
            text = read(os.path.join(self.extracted, "lib/systemd/system", unit))
            self.assertIn("ExecStart=/usr/bin/cloudlink-", text)
        for f in ["usr/share/cloudlink/prometheus/prometheus.yml",
                  "usr/share/cloudlink/grafana/cloudlink-dataplane.json",
                  "usr/share/cloudlink/systemd/dataplane-sockmap.conf",
                  "usr/share/doc/cloudlink/copyright"]:
            self.assertTrue(os.path.exists(os.path.join(self.extracted, f)), f)

    def test_units_verify_and_exposure(self):
        # verify resolves ExecStart=, users and the units a unit orders itself after: in a
        # Debian tree with systemd and the packages installed (--root), not on this host.
        tree = Tree(self, self.cached_tree())
        tree.run("dpkg", "-i", *tree.copy_in(self.debs.values()))
        units = os.path.join(self.extracted, "lib/systemd/system")
        for unit in sorted(os.listdir(units)):
            r = sh(["systemd-analyze", "verify", "--man=no", f"--root={tree.root}",
                    os.path.join("/lib/systemd/system", unit)], check=False)
            self.assertEqual((r.returncode, r.stderr.strip()), (0, ""), f"{unit}: {r.stdout}")
        scores = {unit: exposure(os.path.join(units, unit)) for unit in sorted(os.listdir(units))}
        haproxy = "/lib/systemd/system/haproxy.service"
        if os.path.exists(haproxy):
            scores["haproxy.service (Debian)"] = exposure(haproxy)
        print("systemd-analyze security --offline=true: " +
              ", ".join(f"{u} {s:.1f}" for u, s in scores.items()), flush=True)
        for unit in VPS_UNITS:
            self.assertLessEqual(scores[unit], MAX_EXPOSURE, unit)

    # ---- a clean Debian 12 ----

    @classmethod
    def cached_tree(cls):
        """debootstrap minbase bookworm under the build folder, plus what the packages depend
        on and BOOT_PACKAGES; made once, topped up when the dependencies change."""
        cache = os.path.join(BUILD, "package-test")
        base = os.path.join(cache, "bookworm-minbase")
        os.makedirs(cache, exist_ok=True)
        if not os.path.isdir(base):
            partial = base + ".partial"
            shutil.rmtree(partial, ignore_errors=True)
            started = time.monotonic()
            sh(["debootstrap", "--variant=minbase", "bookworm", partial, MIRROR], timeout=1200)
            os.rename(partial, base)
            print(f"debootstrap: {time.monotonic() - started:.0f} s", flush=True)
        wanted = set(BOOT_PACKAGES)
        for deb in cls.debs.values():
            depends = sh(["dpkg-deb", "-f", deb, "Depends"]).stdout
            for alternative in depends.split(","):
                wanted.add(re.sub(r"\s*\(.*\)", "", alternative.split("|")[0]).strip())
        stamp = os.path.join(base, "var/lib/cloudlink-test-packages")
        have = set(read(stamp).split()) if os.path.exists(stamp) else set()
        if not wanted <= have:
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"}
            policy = os.path.join(base, "usr/sbin/policy-rc.d")
            with open(policy, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(policy, 0o755)
            try:
                sh(["chroot", base, "apt-get", "update", "-qq"], env=env, timeout=600)
                sh(["chroot", base, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
                    *sorted(wanted)], env=env, timeout=1200)
                sh(["chroot", base, "apt-get", "clean"], env=env)
            finally:
                os.unlink(policy)
            with open(stamp, "w") as f:
                f.write("\n".join(sorted(wanted | have)) + "\n")
        return base

    def test_install_reinstall_purge_in_debootstrap(self):
        tree = Tree(self, self.cached_tree())
        # A group that exists before the package: used, and left alone by the purge.
        tree.run("groupadd", "--system", "cloudlink")
        before = tree.accounts()
        debs = tree.copy_in(self.debs.values())
        tree.run("dpkg", "-i", *debs)

        for user, group in USERS.items():
            entry = tree.run("getent", "passwd", user).stdout.split(":")
            self.assertLess(int(entry[2]), 1000, user)
            self.assertEqual(entry[6].strip(), "/usr/sbin/nologin", user)
            self.assertEqual(tree.run("id", "-gn", user).stdout.strip(), group, user)
        shadow = tree.run("getent", "shadow", "cloudlink").stdout.split(":")
        self.assertEqual(shadow[1], "*")  # no password, not locked: sshd takes its keys
        for path, want in DATA_MODES.items():
            got = tree.run("stat", "-c", "%a %U %G", path).stdout.split()
            self.assertEqual(tuple(got), want, path)
        for name in PROGRAMS:
            self.assertEqual(tree.run(name, "--version").stdout, f"{name} {self.version}\n")
        record = read(tree.path("/var/lib/cloudlink/.made-by-package"))
        self.assertNotIn("group cloudlink\n", record)  # it was there before
        self.assertIn("user cloudlink\n", record)

        # Reinstalling changes nothing.
        snapshot = (tree.accounts(), record,
                    {p: tree.run("stat", "-c", "%a %U %G", p).stdout for p in DATA_MODES})
        tree.run("dpkg", "-i", *debs)
        again = (tree.accounts(), read(tree.path("/var/lib/cloudlink/.made-by-package")),
                 {p: tree.run("stat", "-c", "%a %U %G", p).stdout for p in DATA_MODES})
        self.assertEqual(again, snapshot)

        # Purge with control's state in the folder: the state and its owners stay.
        tree.run("runuser", "-u", "cloudlink-control", "--", "touch",
                 "/var/lib/cloudlink/state/data.mdb")
        purge = tree.run("dpkg", "--purge", "cloudlink")
        self.assertIn("is not empty", purge.stdout + purge.stderr)
        self.assertTrue(tree.exists("/var/lib/cloudlink/state/data.mdb"))
        for gone in ["/var/lib/cloudlink/routes", "/var/lib/cloudlink/acme", "/etc/cloudlink",
                     "/etc/ssh/sshd_config.d/cloudlink.conf", "/usr/bin/cloudlink-control"]:
            self.assertFalse(tree.exists(gone), gone)
        self.assertEqual(tree.run("getent", "passwd", "cloudlink-control", check=False).returncode, 0)

        # Once the state is gone, reinstalling and purging removes the rest, and only that.
        os.unlink(tree.path("/var/lib/cloudlink/state/data.mdb"))
        tree.run("dpkg", "-i", *debs)
        tree.run("dpkg", "--purge", "cloudlink", "cloudlink-home")
        for gone in ["/var/lib/cloudlink", "/var/lib/cloudlink-home", "/etc/cloudlink"]:
            self.assertFalse(tree.exists(gone), gone)
        self.assertEqual(tree.accounts(), before)

    # ---- systemd for real ----

    def test_units_run_under_systemd_in_a_container(self):
        tree = Tree(self, self.cached_tree())
        tree.run("dpkg", "-i", *tree.copy_in(self.debs.values()))
        machine = Container(self, tree.root)
        reason = machine.boot()
        if reason:
            self.skipTest(f"systemd-nspawn cannot boot a container here: {reason}")
        machine.init_data_folder()
        for unit in VPS_UNITS[::-1] + [REAPER_UNIT]:
            machine.start(unit)
        for unit in VPS_UNITS + [REAPER_UNIT]:
            state = machine.run("systemctl", "show", "-p", "ActiveState,SubState,User", unit)
            self.assertIn("ActiveState=active", state.stdout, unit)
        dataplane = machine.main_pid("cloudlink-dataplane.service")
        status = machine.run("cat", f"/proc/{dataplane}/status").stdout
        self.assertRegex(status, r"CapEff:\s+0000000000000400")  # CAP_NET_BIND_SERVICE only
        # The request: curl -> dataplane :80 (unit user, bound with its one capability) ->
        # control's API on 127.0.0.1:8000 by its Host's route.
        machine.run("runuser", "-u", "cloudlink-control", "--", "cloudlink-control", "routes",
                    "add", "api.test", "127.0.0.1:8000", "--http-target", "127.0.0.1:8000")
        body = harness.wait_until(lambda: (lambda r: r.stdout if r.returncode == 0 else None)(
            machine.run("curl", "-sf", "-m", "5", "-H", "Host: api.test",
                        "http://127.0.0.1/api/health", check=False)), what="curl through :80")
        self.assertIn('"status":"ok"', body.replace(" ", ""))

        # `systemctl reload` is the upgrade: a new dataplane process takes the listeners over
        # and becomes the unit's main process; the route keeps being served.
        machine.run("systemctl", "reload", "cloudlink-dataplane.service", timeout=60)
        harness.wait_until(lambda: machine.main_pid("cloudlink-dataplane.service") not in
                           ("0", dataplane), timeout=30, what="a new dataplane main PID")
        state = machine.run("systemctl", "show", "-p", "ActiveState",
                            "cloudlink-dataplane.service").stdout
        self.assertIn("ActiveState=active", state)
        again = machine.run("curl", "-sf", "-m", "5", "-H", "Host: api.test",
                            "http://127.0.0.1/api/health")
        self.assertIn('"status":"ok"', again.stdout.replace(" ", ""))


class Container:
    """systemd booted by systemd-nspawn in a tree, with its own network namespace (its :80
    and :443 are not the host's); commands run in it through nsenter."""

    def __init__(self, testcase, root):
        self.testcase = testcase
        self.root = root
        self.proc = None
        self.leader = None

    def boot(self):
        """Empty string once systemd runs in the container, else why it does not."""
        if not shutil.which("systemd-nspawn"):
            return "systemd-nspawn is not installed"
        # Hybrid cgroups (this host's systemd-less PID 1 mounts v1 + unified), no machined.
        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="0")
        console = os.path.join(os.path.dirname(self.root), "console.log")
        with open(console, "wb") as out:
            self.proc = subprocess.Popen(
                ["systemd-nspawn", "--boot", "--register=no", "--keep-unit",
                 "--private-network", "--quiet", "-D", self.root], stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.testcase.addCleanup(self.stop)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                lines = read(console).strip().splitlines()
                return lines[-1] if lines else f"systemd-nspawn exit {self.proc.returncode}"
            self.leader = self.leader or self.find_leader()
            if self.leader:
                r = self.run("systemctl", "is-system-running", check=False)
                if r.stdout.strip() in ("running", "degraded"):
                    return ""
            time.sleep(0.5)
        return "systemd in the container did not finish booting within 60 s"

    def find_leader(self):
        children = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        for pid in children:
            try:
                if read(f"/proc/{pid}/comm").strip() == "systemd":
                    return pid
            except OSError:
                pass
        return None

    def run(self, *argv, check=True, timeout=60):
        return sh(["nsenter", "-t", self.leader, "-m", "-u", "-i", "-n", "-p", "--",
                   "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", *argv],
                  check=check, timeout=timeout)

    def main_pid(self, unit):
        return self.run("systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip()

    def start(self, unit):
        r = self.run("systemctl", "start", unit, check=False, timeout=120)
        if r.returncode != 0:
            journal = self.run("journalctl", "-u", unit, "--no-pager", "-n", "20", check=False)
            raise AssertionError(f"systemctl start {unit}: {r.stderr}\n{journal.stdout}")

    def init_data_folder(self):
        """`cloudlink-control init --no-start` where control has it (it makes DATA/state);
        without it `serve` makes the state itself."""
        if re.search(r"^\s+init\b", self.run("cloudlink-control", "--help").stdout, re.M):
            self.run("cloudlink-control", "init", "--no-start")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.leader:
            self.run("systemctl", "poweroff", "--no-block", check=False)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
