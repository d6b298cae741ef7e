"""A booted systemd (issue 12, items 5-7): Debian 12 with systemd 252 in
systemd-nspawn, the project's .deb installed, and the README's systemd
section followed literally by a user with linger, with the units as they
ship. Also: a second real user (serve.allowed_uids and audit uids under
PrivateUsers=), STS through an HTTPS proxy while ADFS is not
(~/.config/environment.d), and a second profile (adfs-credd@.service).

Run as root (ctest -L boot). Needs systemd-nspawn and debootstrap (installed
with apt-get when missing) and the Debian mirror, unless the prepared root
is cached in /var/cache/adfs-credd (keyed by the package list). The .deb
comes from $ADFS_CREDD_DEB, else it is built in a temporary directory.
The emulators and the proxy run on the host: the container shares the
host's network (no --private-network), so 127.0.0.1 is the same there.
See docs/internals/boot-test.md."""

import contextlib
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import DEV_ARN, EMU, HERE, PASSWORD, ROOT, Emulator, stop_process, wait_until

PACKAGES = sorted([
    "systemd", "systemd-sysv", "dbus", "dbus-user-session", "libpam-systemd",
    "python3-boto3", "ca-certificates", "util-linux",
    # the .deb's Depends (installed here so that dpkg -i needs no mirror)
    "libcurl4", "libjansson4", "libmicrohttpd12", "libssl3", "libsystemd0",
    "libxml2", "libyaml-0-2", "libgssapi-krb5-2",
])
CACHE = os.environ.get("ADFS_CREDD_BOOT_CACHE", "/var/cache/adfs-credd")
MKROOT = os.path.join(ROOT, "tests", "bare", "mkroot.sh")
ALICE, BOB = "alice", "bob"
ECS_PORT, WORK_PORT = 9911, 9921
AUDIT_ID = "929adadb980b49efa925d85d6fdea9bd"
SIGNED_IN_ID = "2ccbdcf049114b18aa434f1e1044158a"
REFRESHED_ID = "f6fd5799bfb2473f91d7720044ec7967"
T0 = time.monotonic()


def log(msg):
    print(f"[boot {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def run(cmd, check=True, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    p = subprocess.run(cmd, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{cmd!r} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


class ConnectProxy(socketserver.ThreadingTCPServer):
    """An HTTPS proxy (CONNECT only) on loopback that records its targets.
    The test's names (*.test) resolve to 127.0.0.1 here as in the
    container's /etc/hosts."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.targets = []
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


class ProxyHandler(socketserver.BaseRequestHandler):
    def handle(self):
        c = self.request
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = c.recv(4096)
            if not chunk:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        m = re.match(r"CONNECT (\S+):(\d+) HTTP/1\.[01]$", line)
        if not m:
            c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        self.server.targets.append(f"{m.group(1)}:{m.group(2)}")
        host = "127.0.0.1" if m.group(1).endswith(".test") else m.group(1)
        try:
            u = socket.create_connection((host, int(m.group(2))), timeout=10)
        except OSError:
            c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with u:
            socks = [c, u]
            while True:
                r, _, _ = select.select(socks, [], [], 60)
                if not r:
                    return
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (u if s is c else c).sendall(data)


def build_deb(tmp):
    d = os.path.join(tmp, "build-deb")
    log("building the .deb (set ADFS_CREDD_DEB to skip)")
    run(["cmake", "-S", ROOT, "-B", d, "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF"])
    run(["cmake", "--build", d, "-j2"])
    run(["cpack", "-G", "DEB"], cwd=d)
    debs = [f for f in os.listdir(d) if re.match(r"adfs-credd_.*\.deb$", f)]
    if len(debs) != 1:
        raise RuntimeError(f"cpack made {debs!r} in {d}")
    return os.path.join(d, debs[0])


def chroot_mounts(root):
    for src, dst, args in (("proc", "proc", ["-t", "proc"]), ("/sys", "sys", ["--rbind"]),
                           ("/dev", "dev", ["--rbind"])):
        run(["mount", *args, src, os.path.join(root, dst)])


def umount_under(root):
    """Unmounts everything below root, deepest first."""
    with open("/proc/self/mountinfo") as f:
        points = [l.split()[4] for l in f]
    points = [p for p in points if p == root or p.startswith(root.rstrip("/") + "/")]
    for p in sorted(set(points), key=len, reverse=True):
        if subprocess.run(["umount", "-R", p], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-lR", p], capture_output=True)


def prepare_root(root):
    """A Debian 12 minbase root with PACKAGES: from the cache when one for
    this package list exists, else debootstrapped (tests/bare/mkroot.sh)
    and then cached."""
    with open(MKROOT, "rb") as f:
        key = hashlib.sha256(f.read() + "\n".join(PACKAGES).encode()).hexdigest()[:16]
    tar = os.path.join(CACHE, f"boot-root-{key}.tar")
    os.makedirs(root)
    if os.path.exists(tar):
        log(f"root from the cache {tar}")
        run(["tar", "--numeric-owner", "--xattrs", "-xpf", tar, "-C", root])
        return
    os.rmdir(root)
    log("no cached root: debootstrap (tests/bare/mkroot.sh) and apt-get install")
    run(["sh", MKROOT, root])
    chroot_mounts(root)
    try:
        run(["chroot", root, "sh", "-c",
             "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && "
             "apt-get install -y -qq --no-install-recommends \"$@\" && apt-get clean",
             "_", *PACKAGES])
    finally:
        umount_under(root)
    os.makedirs(CACHE, exist_ok=True)
    run(["tar", "--numeric-owner", "--xattrs", "-cf", tar + ".tmp", "-C", root, "."])
    os.rename(tar + ".tmp", tar)
    log(f"cached the prepared root as {tar}")


def yaml(conf):
    return json.dumps(conf, indent=2) + "\n"  # JSON is YAML


class TestBootedSystemd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (systemd-nspawn, debootstrap, mounts)")
        missing = [p for t, p in (("systemd-nspawn", "systemd-container"),
                                  ("debootstrap", "debootstrap")) if not shutil.which(t)]
        if missing:
            log(f"apt-get install {' '.join(missing)}")
            run(["apt-get", "install", "-y", "-qq", *missing],
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        cls.nspawn = None
        cls.emus = []
        cls.proxy = None
        cls.tmp = tempfile.mkdtemp(prefix="adfs-credd-boot-")
        cls.root = os.path.join(cls.tmp, "root")
        try:
            cls.setup_world()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def setup_world(cls):
        deb = os.environ.get("ADFS_CREDD_DEB") or build_deb(cls.tmp)
        prepare_root(cls.root)
        r = cls.root
        # The .deb as it ships: its units are what the user runs.
        shutil.copy(deb, os.path.join(r, "tmp", "adfs-credd.deb"))
        run(["chroot", r, "dpkg", "-i", "/tmp/adfs-credd.deb"])
        for u in (ALICE, BOB):
            run(["chroot", r, "useradd", "-m", "-s", "/bin/bash", u])
        cls.uid = {u: int(run(["chroot", r, "id", "-u", u]).stdout) for u in (ALICE, BOB)}
        with open(os.path.join(r, "etc", "hosts"), "a") as f:
            f.write("127.0.0.1 localhost adfs.test sts.test\n")
        # Emulators (HTTPS, a CA of this run) and the proxy, on the host.
        certs = os.path.join(cls.tmp, "certs")
        run(["bash", os.path.join(EMU, "mkcerts.sh"), certs])
        world = os.path.join(cls.tmp, "world.json")
        shutil.copy(os.path.join(EMU, "world.example.json"), world)
        cls.adfs = Emulator("adfs", "adfs_emulator.py", world, certs, cls.tmp)
        cls.emus.append(cls.adfs)
        cls.sts = Emulator("sts", "sts_emulator.py", world, certs, cls.tmp)
        cls.emus.append(cls.sts)
        cls.proxy = ConnectProxy()
        tdir = os.path.join(r, "opt", "adfs-credd-test")
        os.makedirs(tdir)
        shutil.copy(os.path.join(certs, "ca.pem"), tdir)
        shutil.copy(os.path.join(HERE, "sdk_boto3.py"), tdir)
        with open(os.path.join(tdir, "ecs_get.py"), "w") as f:
            f.write(ECS_GET)
        os.chmod(tdir, 0o755)
        for n in os.listdir(tdir):
            os.chmod(os.path.join(tdir, n), 0o644)
        cls.ca = "/opt/adfs-credd-test/ca.pem"
        # alice's files, in place before her user manager starts (linger).
        home = os.path.join(r, "home", ALICE)
        os.makedirs(os.path.join(home, ".config", "adfs-credd"))
        os.makedirs(os.path.join(home, ".config", "environment.d"))
        cls.write_config()
        with open(os.path.join(home, ".config", "environment.d", "50-proxy.conf"), "w") as f:
            f.write(f"HTTPS_PROXY=http://127.0.0.1:{cls.proxy.port}\nNO_PROXY=adfs.test\n")
        run(["chroot", r, "chown", "-R", f"{ALICE}:{ALICE}", f"/home/{ALICE}/.config"])
        cls.boot()

    @classmethod
    def write_config(cls, name="config", **extra):
        conf = {
            "adfs": {"url": f"https://adfs.test:{cls.adfs.port}",
                     "username": "EXAMPLE\\alice", "ca_file": cls.ca},
            "aws": {"sts_endpoint": f"https://sts.test:{cls.sts.port}",
                    "iam_endpoint": f"https://sts.test:{cls.sts.port}", "ca_file": cls.ca},
            "roles": [{"name": "dev", "arn": DEV_ARN}],
            "serve": {"ecs": f"127.0.0.1:{ECS_PORT}"},
        }
        for k, v in extra.items():
            if isinstance(v, dict):
                conf.setdefault(k, {}).update(v)
            else:
                conf[k] = v
        p = os.path.join(cls.root, "home", ALICE, ".config", "adfs-credd", name + ".yaml")
        with open(p, "w") as f:
            f.write(yaml(conf))
        os.chown(p, cls.uid[ALICE], cls.uid[ALICE])

    @classmethod
    def boot(cls):
        log("booting the container")
        cls.console = open(os.path.join(cls.tmp, "console.log"), "w")
        # nspawn's seccomp filter refuses mlock without CAP_IPC_LOCK.
        cls.nspawn = subprocess.Popen(
            ["systemd-nspawn", "--register=no", "--keep-unit", "-b", "-D", cls.root,
             "--capability=CAP_IPC_LOCK"],
            stdin=subprocess.DEVNULL, stdout=cls.console, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60

        def init():
            if cls.nspawn.poll() is not None:
                raise RuntimeError("the container did not boot:\n" + cls.console_text())
            return cls.find_init()

        cls.init = wait_until(init, 60, interval=0.2)
        if cls.init is None:
            raise RuntimeError("the container did not boot:\n" + cls.console_text())
        last = []

        def up():
            last[:] = [cls.root_sh("systemctl is-system-running --wait", check=False,
                                   timeout=60)]
            return last[0].stdout.strip() in ("running", "degraded")

        if not wait_until(up, max(0, deadline - time.monotonic()), interval=0.5):
            raise RuntimeError(f"the system did not come up ({last[0].stdout.strip()}):\n"
                               + cls.console_text())
        p = last[0]
        if p.stdout.strip() == "degraded":
            log("system degraded: " + cls.root_sh("systemctl --failed --no-legend",
                                                  check=False).stdout.strip())
        # nspawn's /proc/kmsg stand-in breaks ProtectKernelLogs= inside a
        # user namespace (not a product bug, issue 12).
        cls.root_sh("umount /proc/kmsg", check=False)
        log(f"booted: init is pid {cls.init}, "
            + cls.root_sh("systemctl --version | head -1").stdout.strip())

    @classmethod
    def find_init(cls):
        """The container's PID 1: a descendant of nspawn that is pid 1 in
        its own pid namespace."""
        kids = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/status") as f:
                    st = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
            except OSError:
                continue
            kids.setdefault(int(st["PPid"]), []).append((int(pid), st.get("NSpid", "")))
        todo = [cls.nspawn.pid]
        while todo:
            for pid, nspid in kids.get(todo.pop(), []):
                if nspid.split()[-1:] == ["1"] and len(nspid.split()) > 1:
                    return pid
                todo.append(pid)
        return None

    @classmethod
    def console_text(cls):
        with open(os.path.join(cls.tmp, "console.log"), errors="replace") as f:
            return f.read()[-4000:]

    @classmethod
    def root_sh(cls, cmd, check=True, timeout=120, input=None):
        return run(["nsenter", "-t", str(cls.init), "-a", "-r", "-w", "sh", "-c", cmd],
                   check=check, timeout=timeout, input=input)

    @classmethod
    def user_sh(cls, user, cmd, check=True, timeout=120, input=None):
        """cmd as user, in the environment a login of theirs has for
        systemctl --user (no session: that is what su -l is for)."""
        uid = cls.uid[user]
        env = [f"HOME=/home/{user}", f"USER={user}", f"LOGNAME={user}",
               f"XDG_RUNTIME_DIR=/run/user/{uid}",
               f"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{uid}/bus",
               "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
        return run(["nsenter", "-t", str(cls.init), "-a", "-r", "-w",
                    "setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
                    "env", "-i", *env, "sh", "-c", f"cd && {cmd}"],
                   check=check, timeout=timeout, input=input)

    @classmethod
    def tearDownClass(cls):
        if cls.nspawn:
            # SIGTERM: nspawn asks the container's init to power off.
            stop_process(cls.nspawn, 20)
        if getattr(cls, "console", None):
            cls.console.close()
        for e in cls.emus:
            e.stop()
        if cls.proxy:
            cls.proxy.shutdown()
            cls.proxy.server_close()
        umount_under(cls.root)
        if os.environ.get("ADFS_CREDD_BOOT_KEEP"):
            log(f"kept {cls.tmp}")
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        log("container stopped, mounts cleaned up")

    # ---- helpers ----
    @contextlib.contextmanager
    def step(self, name):
        t = time.monotonic()
        log(f"step: {name}")
        try:
            yield
        except BaseException as e:
            journal = self.root_sh("journalctl --no-pager -n 150 -o short-precise",
                                   check=False).stdout
            raise AssertionError(f"step '{name}' failed: {e}\n---- journal (last 150 "
                                 f"lines) ----\n{journal}") from e
        log(f"  ok ({time.monotonic() - t:.1f}s)")

    def alice(self, cmd, **kw):
        return self.user_sh(ALICE, cmd, **kw)

    def ecs_get(self, user, env_lines, port=ECS_PORT):
        """A GET of alice's credentials on the ECS endpoint as user, with
        the variables `adfs-credctl env` printed (env_lines)."""
        p = self.user_sh(user, f"{env_lines}\npython3 /opt/adfs-credd-test/ecs_get.py",
                         check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout)

    def journal_json(self):
        p = self.alice("journalctl --user -u adfs-credd -o json --no-pager")
        return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]

    def main_pid(self, unit="adfs-credd"):
        return int(self.alice(f"systemctl --user show -p MainPID --value {unit}").stdout)

    def wait_for(self, pred, what, timeout=20):
        if not wait_until(pred, timeout, interval=0.2):
            raise AssertionError(f"timed out waiting for {what}")

    # ---- the README's systemd section, in order ----
    def test_readme_systemd_path(self):
        start = time.monotonic()
        with self.step("loginctl enable-linger alice: her user manager runs"):
            self.root_sh(f"loginctl enable-linger {ALICE}")
            self.wait_for(lambda: self.alice("systemctl --user is-system-running",
                                             check=False).stdout.strip()
                          in ("running", "degraded"), "alice's user manager")
        with self.step("adfs-credd --check-config"):
            self.assertEqual(self.alice("adfs-credd --check-config").stdout.strip(),
                             "configuration OK")
        with self.step("systemctl --user enable --now adfs-credd.socket"):
            self.alice("systemctl --user enable --now adfs-credd.socket")
            out = self.alice("systemctl --user list-sockets --no-legend").stdout
            self.assertIn(f"127.0.0.1:{ECS_PORT}", out)
            self.assertIn(f"/run/user/{self.uid[ALICE]}/adfs-credd/control.sock", out)
            st = self.alice("stat -c '%a %U' $XDG_RUNTIME_DIR/adfs-credd "
                            "$XDG_RUNTIME_DIR/adfs-credd/control.sock").stdout.split("\n")
            self.assertEqual(st[:2], [f"700 {ALICE}", f"600 {ALICE}"])
            self.assertEqual(self.alice("systemctl --user is-active adfs-credd",
                                        check=False).stdout.strip(), "inactive")
        with self.step("adfs-credctl login --password-stdin starts the daemon"):
            p = self.alice("adfs-credctl login --password-stdin", input=PASSWORD + "\n",
                           check=False)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("signed in as EXAMPLE\\alice", p.stdout)
            self.assertEqual(self.alice("systemctl --user is-active adfs-credd").stdout.strip(),
                             "active")
        with self.step("adfs-credctl status"):
            out = self.alice("adfs-credctl status").stdout
            self.assertRegex(out, r"(?m)^signed in as EXAMPLE\\alice")
            self.assertRegex(out, r"(?m)^dev\s+valid\s")
        with self.step("boto3 through eval \"$(adfs-credctl env dev)\""):
            sts = f"https://127.0.0.1:{self.sts.port}"
            p = self.alice('unset AWS_CA_BUNDLE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY '
                           'AWS_SESSION_TOKEN AWS_PROFILE; eval "$(adfs-credctl env dev)"; '
                           'AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null '
                           f'AWS_EC2_METADATA_DISABLED=true /usr/bin/python3 '
                           f'/opt/adfs-credd-test/sdk_boto3.py {sts} {self.ca} '
                           'get_caller_identity', check=False)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            r = json.loads(p.stdout)
            self.assertEqual(r["method"], "container-role")
            self.assertIn("ADFS-Dev", r["Arn"])
            env_lines = self.alice("adfs-credctl env dev").stdout
        with self.step("StatusText keeps the backslash: EXAMPLE\\alice"):
            st = self.alice("systemctl --user show -p StatusText adfs-credd").stdout.strip()
            log(f"  {st}")
            # ...and the horizon (issue 16): an 8 h SSO, no remembered
            # password.
            self.assertRegex(st, r"^StatusText=signed in as EXAMPLE\\alice; 1 role valid; "
                                 r"next refresh \d\d:\d\d; renewable until \d\d:\d\d "
                                 r"\(sso\), served until (\w\w\w )?\d\d:\d\d$")
        with self.step("issue 15 item 9: the daemon sees its config and state "
                       "directories, not ~/.ssh nor the user bus"):
            self.alice("mkdir -p -m 0700 ~/.ssh && echo key > ~/.ssh/id_test")
            view = f"/proc/{self.main_pid()}/root"
            uid = self.uid[ALICE]
            seen = {path: self.root_sh(f"test -e {view}{path}", check=False).returncode == 0
                    for path in (f"/home/{ALICE}/.ssh/id_test", f"/run/user/{uid}/bus",
                                 f"/home/{ALICE}/.config/adfs-credd/config.yaml",
                                 f"/run/user/{uid}/adfs-credd/token")}
            log(f"  {seen}")
            self.assertEqual(list(seen.values()), [False, False, True, True], seen)
        with self.step("item 7: STS through HTTPS_PROXY, ADFS not (NO_PROXY)"):
            log(f"  proxy saw CONNECT {self.proxy.targets}")
            self.assertIn(f"sts.test:{self.sts.port}", self.proxy.targets)
            self.assertFalse([t for t in self.proxy.targets if t.startswith("adfs.test")])
        with self.step("systemctl --user reload adfs-credd"):
            pid = self.main_pid()
            p = self.alice("systemctl --user reload adfs-credd", check=False)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(self.main_pid(), pid)
            self.wait_for(lambda: any("Configuration reloaded" in e.get("MESSAGE", "")
                                      for e in self.journal_json()), "the reload's log line")
        with self.step("systemctl --user restart adfs-credd: served without a new login"):
            pid = self.main_pid()
            self.alice("systemctl --user restart adfs-credd")
            self.assertNotEqual(self.main_pid(), pid)
            r = self.ecs_get(ALICE, env_lines)
            self.assertEqual(r["status"], 200, r)
            self.assertRegex(self.alice("adfs-credctl status").stdout,
                             r"(?m)^signed in as EXAMPLE\\alice")
        with self.step("systemctl --user stop adfs-credd, then the first ECS read starts it"):
            self.alice("systemctl --user stop adfs-credd")
            self.assertEqual(self.alice("systemctl --user is-active adfs-credd",
                                        check=False).stdout.strip(), "inactive")
            r = self.ecs_get(ALICE, env_lines)
            self.assertEqual(r["status"], 200, r)
            self.assertEqual(self.alice("systemctl --user is-active adfs-credd").stdout.strip(),
                             "active")
        with self.step("a login session of alice opens and ends (su -l): still served"):
            pid = self.main_pid()
            mgr = self.root_sh(f"systemctl show -p MainPID --value user@{self.uid[ALICE]}"
                               ).stdout.strip()
            p = self.root_sh(f"su -l {ALICE} -c 'echo $XDG_SESSION_ID; loginctl "
                             "show-session $XDG_SESSION_ID -p Name -p Class'")
            log(f"  session: {' '.join(p.stdout.split())}")
            self.assertIn(f"Name={ALICE}", p.stdout)
            sid = p.stdout.split()[0]
            self.wait_for(lambda: self.root_sh(f"loginctl show-session {sid} -p State",
                                               check=False).returncode != 0,
                          f"session {sid} to end")
            self.assertEqual(self.root_sh(f"loginctl show-user {ALICE} -p Linger")
                             .stdout.strip(), "Linger=yes")
            self.assertEqual(self.root_sh(f"systemctl show -p MainPID --value "
                                          f"user@{self.uid[ALICE]}").stdout.strip(), mgr)
            self.assertEqual(self.main_pid(), pid)
            r = self.ecs_get(ALICE, env_lines)
            self.assertEqual(r["status"], 200, r)
        with self.step("item 6: bob (another real user) gets 403, the audit names uid "
                       f"{self.uid[BOB]}"):
            r = self.ecs_get(BOB, env_lines)
            self.assertEqual(r["status"], 403, r)
            self.wait_for(lambda: self.audit(f"peer_uid={self.uid[BOB]} status=403"),
                          "bob's audit line")
            log("  " + self.audit(f"peer_uid={self.uid[BOB]} status=403"))
            self.assertFalse(self.audit("peer_uid=65534"))
        with self.step(f"item 6: allowed_uids: [{self.uid[BOB]}] serves bob"):
            self.write_config(serve={"allowed_uids": [self.uid[BOB]]})
            self.alice("adfs-credd --check-config && systemctl --user restart adfs-credd")
            r = self.ecs_get(BOB, env_lines)
            self.assertEqual(r["status"], 200, r)
            self.wait_for(lambda: self.audit(f"peer_uid={self.uid[BOB]} status=200"),
                          "bob's served audit line")
            log("  " + self.audit(f"peer_uid={self.uid[BOB]} status=200"))
            self.write_config()
            self.alice("systemctl --user restart adfs-credd")
        with self.step("item 6: without the diag socket, allowed_uids in a user "
                       "namespace is refused"):
            self.write_config("nodiag", serve={"allowed_uids": [self.uid[BOB]],
                                               "ecs": "127.0.0.1:9931"},
                              state_dir=f"/run/user/{self.uid[ALICE]}/adfs-credd-nodiag")
            p = self.alice("systemd-run --user --wait --quiet -p PrivateUsers=yes "
                           "/usr/bin/adfs-credd -c ~/.config/adfs-credd/nodiag.yaml",
                           check=False)
            self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
            lines = [e.get("MESSAGE", "") for e in self.journal_json_all()]
            refused = [l for l in lines if "serve.allowed_uids cannot work here" in l]
            self.assertTrue(refused, lines[-20:])
            log("  " + refused[-1][:160])
        with self.step("item 6: without the diag socket, in a user namespace, bob is "
                       "peer_uid=-1, never 65534"):
            sd = f"/run/user/{self.uid[ALICE]}/adfs-credd-nodiag"
            self.write_config("nodiag", serve={"ecs": "127.0.0.1:9931"}, state_dir=sd)
            self.alice("systemd-run --user --unit=adfs-credd-nodiag -p PrivateUsers=yes "
                       "-p Type=notify /usr/bin/adfs-credd -c ~/.config/adfs-credd/nodiag.yaml")
            token = self.alice(f"cat {sd}/token").stdout
            r = self.ecs_get(BOB, "export AWS_CONTAINER_CREDENTIALS_FULL_URI="
                             "http://127.0.0.1:9931/role/dev\n"
                             f"export AWS_CONTAINER_AUTHORIZATION_TOKEN={token}")
            self.assertEqual(r["status"], 403, r)
            lines = [e.get("MESSAGE", "") for e in self.journal_json_all()
                     if e.get("_SYSTEMD_USER_UNIT") == "adfs-credd-nodiag.service"]
            audit = [l for l in lines if l.startswith("audit: ecs")]
            self.assertTrue(audit, lines)
            log("  " + audit[-1])
            self.assertIn("peer_uid=-1 status=403", audit[-1])
            self.assertFalse([l for l in lines if "65534" in l and "audit" in l], lines)
            self.alice("systemctl --user stop adfs-credd-nodiag")
        with self.step("the daemon's journal lines and their MESSAGE_IDs"):
            ids = {}
            for e in self.journal_json():
                if "MESSAGE_ID" in e:
                    ids.setdefault(e["MESSAGE_ID"], e["MESSAGE"])
            for mid in (SIGNED_IN_ID, REFRESHED_ID, AUDIT_ID):
                self.assertIn(mid, ids, ids)
                log(f"  MESSAGE_ID={mid}: {ids[mid][:90]}")
        with self.step("item 7: a second profile, adfs-credd@work.service"):
            self.write_config("work", serve={"ecs": f"127.0.0.1:{WORK_PORT}"},
                              state_dir=f"/run/user/{self.uid[ALICE]}/adfs-credd-work")
            self.alice("systemctl --user enable --now adfs-credd@work.service")
            p = self.alice("adfs-credctl -c ~/.config/adfs-credd/work.yaml login "
                           "--password-stdin", input=PASSWORD + "\n", check=False)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            work_env = self.alice("adfs-credctl -c ~/.config/adfs-credd/work.yaml env dev").stdout
            self.assertIn(f"127.0.0.1:{WORK_PORT}", work_env)
            self.assertEqual(self.ecs_get(ALICE, work_env)["status"], 200)
            self.assertEqual(self.ecs_get(ALICE, env_lines)["status"], 200)
            self.assertNotEqual(self.main_pid("adfs-credd@work"), self.main_pid())
        log(f"the booted-systemd test took {time.monotonic() - T0:.0f}s in all "
            f"({time.monotonic() - start:.0f}s after boot)")

    def audit(self, needle):
        for e in self.journal_json():
            m = e.get("MESSAGE", "")
            if m.startswith("audit:") and needle in m:
                return m
        return None

    def journal_json_all(self):
        p = self.alice("journalctl --user -o json --no-pager")
        return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]


ECS_GET = '''import json, os, urllib.error, urllib.request
req = urllib.request.Request(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
                             headers={"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        body = json.loads(r.read())
        print(json.dumps({"status": r.status, "AccessKeyId": body.get("AccessKeyId", "")[:4]}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "body": e.read().decode()}))
'''


if __name__ == "__main__":
    unittest.main()
