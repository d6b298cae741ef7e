"""systemd integration (issue 6): the unit files verify and reach the OK
security band; sd_notify messages (READY, STATUS, WATCHDOG, RELOADING,
STOPPING) seen on a fake NOTIFY_SOCKET; socket activation through
systemd-socket-activate."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest
import urllib.error

from harness import DEV_ARN, ROOT, Stack, fetch, free_port, stop_process, wait_until

UNITS = os.path.join(ROOT, "systemd")
MAN = os.path.join(ROOT, "docs", "man")
SERVICES = ("adfs-credd.service", "adfs-credd@.service")
SOCKETS = ("adfs-credd.socket", "adfs-credd-imds.socket", "adfs-credd-control.socket",
           "adfs-credd-diag.socket", "adfs-credd-diag@.socket")


def unit_dir(build):
    """The units as `cmake --install` lays them out, ExecStart pointing at
    this build, and a MANPATH with the man pages they name."""
    d = tempfile.mkdtemp(prefix="adfs-credd-units-")
    for unit in SERVICES:
        with open(os.path.join(UNITS, unit + ".in")) as f:
            text = f.read().replace("@CMAKE_INSTALL_FULL_BINDIR@", build)
        with open(os.path.join(d, unit), "w") as f:
            f.write(text)
    for s in SOCKETS:
        shutil.copy(os.path.join(UNITS, s), d)
    for sec, page in (("1", "adfs-credctl.1"), ("5", "adfs-credd.yaml.5"), ("8", "adfs-credd.8")):
        os.makedirs(os.path.join(d, "man", "man" + sec), exist_ok=True)
        shutil.copy(os.path.join(MAN, page), os.path.join(d, "man", "man" + sec))
    return d


def analyze_env(d):
    rt = os.path.join(d, "rt")
    os.makedirs(rt, mode=0o700, exist_ok=True)
    return dict(os.environ, XDG_RUNTIME_DIR=rt, MANPATH=os.path.join(d, "man"))


class TestUnits(unittest.TestCase):
    def setUp(self):
        from harness import build_dir
        self.d = unit_dir(build_dir())
        self.addCleanup(shutil.rmtree, self.d, True)

    def test_verify_is_clean(self):
        # A template is verified through an instance of it.
        shutil.copy(os.path.join(self.d, "adfs-credd@.service"),
                    os.path.join(self.d, "adfs-credd@work.service"))
        shutil.copy(os.path.join(self.d, "adfs-credd-diag@.socket"),
                    os.path.join(self.d, "adfs-credd-diag@work.socket"))
        units = [os.path.join(self.d, u) for u in
                 ("adfs-credd.service", "adfs-credd@work.service", "adfs-credd-diag@work.socket")
                 + SOCKETS[:4]]
        p = subprocess.run(["systemd-analyze", "verify", "--user"] + units,
                           capture_output=True, text=True, env=analyze_env(self.d))
        # verify exits 0 on some problems: its stderr is the verdict.
        self.assertEqual((p.returncode, p.stderr.strip()), (0, ""), p.stderr)

    def test_security_band(self):
        self.security_band("adfs-credd.service")

    def test_security_band_template(self):
        shutil.copy(os.path.join(self.d, "adfs-credd@.service"),
                    os.path.join(self.d, "adfs-credd@work.service"))
        self.security_band("adfs-credd@work.service")

    def security_band(self, unit):
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--user",
                            os.path.join(self.d, unit)],
                           capture_output=True, text=True, env=analyze_env(self.d))
        m = re.search(r"Overall exposure level for " + re.escape(unit) + r": ([0-9.]+) (\w+)",
                      p.stdout)
        self.assertIsNotNone(m, p.stdout + p.stderr)
        print(f"\n[systemd-analyze security] {m.group(1)} {m.group(2)}")
        self.assertIn(m.group(2), ("PERFECT", "SAFE", "OK"))
        self.assertLessEqual(float(m.group(1)), 4.9)
        with open(os.path.join(self.d, unit)) as f:
            text = f.read()
        for key in ("Type=notify", "PrivateUsers=yes", "Sockets=", "WatchdogSec=", "Restart=on-failure", "NoNewPrivileges=yes",
                    "ProtectSystem=strict", "ProtectHome=tmpfs", "PrivateTmp=yes",
                    "BindReadOnlyPaths=-%E/adfs-credd", "RuntimeDirectoryPreserve=yes",
                    "LimitMEMLOCK=8M",
                    "MemoryDenyWriteExecute=yes",
                    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
                    "SystemCallFilter=@system-service", "LockPersonality=yes", "LimitCORE=0",
                    "LoadCredential="):
            self.assertIn(key, text)
        # Issue 15, item 9: no write access to all of $XDG_RUNTIME_DIR (the
        # user bus, agents), no allow list that allows everything.
        for key in ("\nReadWritePaths=%t\n", "\nProtectHome=read-only", "\nIPAddressAllow="):
            self.assertNotIn(key, text)


class NotifySocket:
    def __init__(self, d):
        self.path = os.path.join(d, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []

    def wait_for(self, pred, timeout=20):
        def seen():
            for m in self.messages:
                if pred(m):
                    return m
            self.messages.append(self.sock.recv(4096).decode())
            return None

        m = wait_until(seen, timeout, interval=0, ignore=(socket.timeout,))
        if m:
            return m
        raise AssertionError(f"no matching sd_notify message; got {self.messages!r}")


class TestNotify(unittest.TestCase):
    def test_lifecycle_messages(self):
        s = Stack(config={"roles": [{"name": "dev", "arn": DEV_ARN}]})
        self.addCleanup(s.close)
        n = NotifySocket(s.tmp)
        self.addCleanup(n.sock.close)
        s.start_daemon(env={"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "1000000"})
        n.wait_for(lambda m: "READY=1" in m.split("\n"))
        n.wait_for(lambda m: "STATUS=not signed in: run adfs-credctl login" in m)
        n.wait_for(lambda m: "WATCHDOG=1" in m.split("\n"), timeout=5)
        self.assertEqual(s.login().returncode, 0)
        st = n.wait_for(lambda m: m.startswith("STATUS=signed in as"))
        # The backslash doubled: systemd reads notify messages with
        # backslash escapes (the booted test sees EXAMPLE\alice in StatusText).
        self.assertRegex(st, r"STATUS=signed in as EXAMPLE\\\\alice; 1 role valid; "
                             r"next refresh \d\d:\d\d; renewable until \d\d:\d\d \(sso\), "
                             r"served until (\w\w\w )?\d\d:\d\d$")
        n.messages.clear()
        s.daemon.send_signal(signal.SIGHUP)
        n.wait_for(lambda m: "RELOADING=1" in m.split("\n"))
        n.wait_for(lambda m: "READY=1" in m.split("\n"))
        self.assertLess(n.messages.index("RELOADING=1"), n.messages.index("READY=1"))
        rc = s.stop_daemon()
        n.wait_for(lambda m: "STOPPING=1" in m.split("\n"))
        self.assertEqual(rc, 0)


class TestJournal(unittest.TestCase):
    def test_journal_stream_detected(self):
        """With stderr being "the journal" (JOURNAL_STREAM = its device and
        inode) the daemon writes journal entries; with no journald here,
        they fall back to priority-prefixed lines ("<6>..."), never plain
        ones, and never a secret."""
        s = Stack(config={"roles": [{"name": "dev", "arn": DEV_ARN}], "log_level": "info"})
        self.addCleanup(s.close)
        open(s.daemon_log, "a").close()
        st = os.stat(s.daemon_log)
        s.start_daemon(env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        self.assertEqual(s.login().returncode, 0)
        s.stop_daemon()
        lines = [l for l in s.log_text().splitlines() if l]
        self.assertTrue(lines)
        for l in lines:
            self.assertRegex(l, r"^<[0-7]>", l)
        self.assertTrue(any(l.startswith("<6>Signed in to ADFS as") for l in lines), lines)
        self.assertNotIn("Correct-Horse-1", s.log_text())


class TestSocketActivation(unittest.TestCase):
    def test_ecs_socket_passed_by_name(self):
        port = free_port()
        s = Stack(config={"roles": [{"name": "dev", "arn": DEV_ARN}],
                          "serve": {"ecs": f"127.0.0.1:{port}"}})
        s.ecs_port = port
        self.addCleanup(s.close)
        log = open(s.daemon_log, "a")
        # systemd-socket-activate listens, and starts the daemon with the
        # socket (LISTEN_FDS, LISTEN_FDNAMES=ecs) at the first connection.
        # The daemon must not bind the port itself: it is already taken.
        proc = subprocess.Popen(["systemd-socket-activate", "-l", f"127.0.0.1:{port}",
                                 "--fdname=ecs", s.daemon_bin, "-c", s.config_path],
                                stdout=log, stderr=subprocess.STDOUT)
        def stop():
            rc = stop_process(proc, 10)
            log.close()
            if rc is None:
                raise AssertionError("systemd-socket-activate did not stop on SIGTERM")

        self.addCleanup(stop)

        def connects():
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True

        if not wait_until(connects, 10, ignore=(OSError,)):
            raise AssertionError(f"nothing listens on 127.0.0.1:{port}:\n" + s.log_text())
        answer = wait_until(lambda: fetch(f"http://127.0.0.1:{port}/role/dev",
                                          headers={"Authorization": "x"}, timeout=5),
                            15, interval=0.1, ignore=(urllib.error.URLError, ConnectionError))
        if not answer:
            raise AssertionError("no answer on the activated socket:\n" + s.log_text())
        st, _, body = answer
        if st < 400:
            self.fail("a wrong token was accepted")
        self.assertEqual(st, 403)
        self.assertEqual(json.loads(body)["Code"], "AccessDenied")
        self.assertIn("socket activation", s.log_text())
        self.assertEqual(s.login().returncode, 0, s.log_text())
        st, _, body = s.get("/role/dev", token=s.token())
        self.assertEqual(st, 200, body)
        self.assertEqual(stop_process(proc, 15), 0, s.log_text())


if __name__ == "__main__":
    unittest.main()
