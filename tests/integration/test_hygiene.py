"""Secret hygiene and malformed HTTP (issue 7, parts 3-HTTP and 4).

- TestSecretHygiene: a unique password, the issued secret keys and session
  tokens, the endpoint token and IMDS tokens, and what ADFS issued (the SSO
  cookies MSISAuth*, every SAML assertion and SAMLResponse, taken from the
  emulator's GET /_emulator/issued) never leave their places (the
  log, adfs-credctl's other outputs, /proc/PID/cmdline and environ, any file
  in the test's tree, $HOME and the XDG dirs, any path the daemon opens for
  writing, traced with strace); state_dir is 0700 with 0600 files.
- TestNotDumpable: run as `nobody`, the daemon's /proc/PID/environ and mem
  and ptrace are closed to its own uid, while an ordinary process of that
  uid is open (control); RLIMIT_CORE is 0.
- TestCoreDump: VmLck > 0, every locked mapping is MADV_DONTDUMP, the used
  SAML assertions are wiped, and a gcore of the running daemon holds none of
  the secrets: the live SSO cookies are in locked DONTDUMP memory only.
- TestMalformedRequests: raw malformed HTTP on the ECS and IMDS listeners
  and the control socket gets a 4xx or a clean close, never a crash or a
  hang, and changes nothing; hostile but valid requests are refused.

See docs/internals/security.md."""

import base64
import html
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import harness
from harness import (status_exit, DEV_ARN, PROD_ARN, PYTHON, Stack, StackChecks, fetch, free_port,
                     sanitizer_report, stop_process, wait_until)

TTL = "X-aws-ec2-metadata-token-ttl-seconds"
IMDS_CREDS = "/latest/meta-data/iam/security-credentials"


def unique_password():
    """Random, and with characters that URL-, JSON- and XML-encoding all
    change, so each encoding is a different string to look for."""
    return "Hy9-" + secrets.token_urlsafe(12) + ' +&%="\\/<ü>-' + secrets.token_hex(4)


def world_with_password(pw):
    with open(os.path.join(harness.EMU, "world.example.json")) as f:
        users = json.load(f)["users"]
    users[0]["password"] = pw
    return {"users": users}


def encodings(value):
    """The forms a secret could take in a log or a file: raw, URL-encoded,
    JSON-escaped, XML-escaped, hex, base64 (at each of the three byte
    alignments, so it is found inside a longer base64 text too)."""
    raw = value.encode()
    out = {
        "raw": raw,
        "url": urllib.parse.quote(value, safe="").encode(),
        "url+": urllib.parse.quote_plus(value).encode(),
        "json": json.dumps(value)[1:-1].encode(),
        "json-ascii": json.dumps(value, ensure_ascii=True)[1:-1].encode(),
        "json-slash": json.dumps(value)[1:-1].replace("/", "\\/").encode(),
        "xml": html.escape(value, quote=True).encode(),
        "hex": raw.hex().encode(),
    }
    for k in range(3):
        for name, fn in (("b64", base64.b64encode), ("b64url", base64.urlsafe_b64encode)):
            enc = fn(b"\0" * k + raw)
            # Drop the quanta that hold the prefix bytes or the padding.
            out[f"{name}@{k}"] = enc[4 if k else 0:-4]
    return {k: v for k, v in out.items() if len(v) >= 12}


def find_secrets(data, secret_map):
    """[(secret name, encoding)] of every secret found in data (bytes)."""
    found = []
    for name, value in secret_map.items():
        for enc, needle in encodings(value).items():
            if needle in data:
                found.append((name, enc))
                break
    return found


def adfs_issued(s):
    """{name: value} of the secrets the ADFS emulator handed out so far
    (GET /_emulator/issued): the SSO cookies (MSISAuth, MSISAuthenticated;
    MSISAuth1... if split), each Assertion and each SAMLResponse value."""
    st, _, body = fetch(s.adfs.url + "/_emulator/issued", context=s.adfs.ctx)
    assert st == 200, body
    got = json.loads(body)
    out = {}
    for name, values in got["cookies"].items():
        if name.startswith("MSISAuth"):
            for i, v in enumerate(values):
                out[f"{name} cookie {i}"] = v
    # Whole values, and pieces a cut-off copy still holds (a log line is
    # at most 2 KiB): the signature, the start of each SAMLResponse.
    for i, v in enumerate(got["assertions"]):
        out[f"SAML assertion {i}"] = v
        out[f"SAML signature {i}"] = re.search(r"<ds:SignatureValue>([^<]+)<", v).group(1)
    for i, v in enumerate(got["saml_responses"]):
        out[f"SAMLResponse {i}"] = v
        out[f"SAMLResponse start {i}"] = v[:256]
    assert any(k.startswith("MSISAuth cookie") for k in out), got
    assert any(k.startswith("SAML assertion") for k in out), got
    return out


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def is_asan(binary):
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


# ---------------------------------------------------------------------------
# 1. Secrets stay where they belong.

# Syscalls that create or write a path (strace -e trace=...).
WRITE_CALLS = ("open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,"
               "symlink,symlinkat,truncate,unlink,unlinkat,chmod,fchmodat,bind")


class TestSecretHygiene(StackChecks, unittest.TestCase):
    def setUp(self):
        self.pw = unique_password()
        self.wrong_pw = "Wr0ng-" + secrets.token_urlsafe(12) + "&+%"
        self.imds_port = free_port()
        self.s = Stack(config={
            "roles": [{"name": "dev", "arn": DEV_ARN}, {"name": "prod", "arn": PROD_ARN}],
            "serve": {"imds": f"127.0.0.1:{self.imds_port}"},
            "state_dir": None,   # the default: $XDG_RUNTIME_DIR/adfs-credd
            "log_level": "debug",
        }, world=world_with_password(self.pw))
        self.addCleanup(self.s.close)
        # HOME and every XDG dir inside the test's tree: whatever the daemon
        # or the CLI writes there is scanned below.
        t = self.s.tmp
        self.home = os.path.join(t, "home")
        self.runtime = os.path.join(t, "run")
        env = {"HOME": self.home, "XDG_RUNTIME_DIR": self.runtime,
               "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
               "XDG_STATE_HOME": os.path.join(self.home, ".local", "state"),
               "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
               "XDG_DATA_HOME": os.path.join(self.home, ".local", "share")}
        for d in env.values():
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.s.state_dir = os.path.join(self.runtime, "adfs-credd")
        saved = dict(os.environ)
        self.addCleanup(lambda: (os.environ.clear(), os.environ.update(saved)))
        os.environ.update(env)   # the CLI (Stack.ctl) inherits it
        self.trace = os.path.join(t, "strace.log")

    # The daemon under strace, so every path it opens for writing is known.
    def start_traced(self):
        s = self.s
        env = dict(os.environ)
        if is_asan(s.daemon_bin):
            # LeakSanitizer's exit check attaches with ptrace, which a
            # traced process refuses; the other sanitizer checks stay on.
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        s.daemon_out = open(s.daemon_log, "a")
        self.strace = subprocess.Popen(
            ["strace", "-f", "-qq", "-s", "4096", "-o", self.trace, "-e", "signal=none",
             "-e", "trace=" + WRITE_CALLS, s.daemon_bin, "-c", s.config_path],
            stdout=s.daemon_out, stderr=subprocess.STDOUT, env=env)
        self.addCleanup(self.kill_traced)
        self.pid = None
        sock = os.path.join(s.state_dir, "control.sock")

        def started():
            self.assertIsNone(self.strace.poll(), s.log_text())
            with socket.socket(socket.AF_UNIX) as c:
                c.connect(sock)
                # The daemon's pid, from the kernel (SO_PEERCRED).
                cred = c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
            self.pid = int.from_bytes(cred[:4], "little")
            with open(f"/proc/{self.pid}/exe", "rb"):
                pass
            self.assertEqual(os.path.realpath(f"/proc/{self.pid}/exe"),
                             os.path.realpath(s.daemon_bin))
            return True

        if wait_until(started, 30, ignore=(OSError,)):
            return
        self.fail("adfs-credd did not start under strace:\n" + s.log_text())

    def kill_traced(self):
        if self.strace.poll() is None:
            if not self.pid:
                # Killing strace would leave its tracee running.
                try:
                    with open(f"/proc/{self.strace.pid}/task/{self.strace.pid}/children") as f:
                        self.pid = int(f.read().split()[0])
                except (OSError, IndexError, ValueError):
                    pass
            if self.pid:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            stop_process(self.strace, sig=signal.SIGKILL)
        if not self.s.daemon_out.closed:
            self.s.daemon_out.close()

    def stop_traced(self):
        os.kill(self.pid, signal.SIGTERM)
        rc = self.strace.wait(60)   # strace exits with the daemon's status
        self.s.daemon_out.close()
        return rc

    def ecs_creds(self, role):
        st, _, body = self.s.get("/role/" + role, token=self.s.token())
        self.assertEqual(st, 200, body)
        return json.loads(body)

    def imds_token(self):
        st, _, body = fetch(f"http://127.0.0.1:{self.imds_port}/latest/api/token", "PUT",
                           {TTL: "300"})
        self.assertEqual(st, 200)
        return body

    def test_secrets_stay_in_their_place(self):
        s = self.s
        self.start_traced()
        secret = {"password": self.pw, "rejected password": self.wrong_pw}
        outputs = {}   # adfs-credctl outputs that must not hold a secret

        def ctl(name, *args, **kw):
            p = s.ctl(*args, **kw)
            outputs[name] = p.stdout + p.stderr
            return p

        # A rejected password first (never sent again), then the right one.
        p = ctl("login (rejected)", "login", "--password-stdin", input=self.wrong_pw + "\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(s.adfs.stats()["password_failures"], 1)
        p = ctl("login", "login", "--password-stdin", input=self.pw + "\n")
        self.assertEqual(p.returncode, 0, p.stderr + s.log_text())
        self.assertGreater(s.sts.stats()["get_role"], 0, "dev's sizing calls GetRole")

        def collect(tag):
            for role in ("dev", "prod"):
                c = self.ecs_creds(role)
                secret[f"{role} secret key {tag}"] = c["SecretAccessKey"]
                secret[f"{role} session token {tag}"] = c["Token"]
            secret[f"endpoint token {tag}"] = s.token()
            for i in range(2):
                tok = self.imds_token()
                secret[f"imds token {tag}{i}"] = tok
                st, _, _ = fetch(f"http://127.0.0.1:{self.imds_port}{IMDS_CREDS}/dev",
                                headers={"X-aws-ec2-metadata-token": tok})
                self.assertEqual(st, 200)

        collect("1")
        p = ctl("refresh", "refresh")
        self.assertEqual(p.returncode, 0, p.stderr)
        collect("2")
        self.assertNotEqual(secret["dev secret key 1"], secret["dev secret key 2"])

        # SIGHUP: the configuration is read again.
        os.kill(self.pid, signal.SIGHUP)
        wait_until(lambda: "Configuration reloaded" in s.log_text(), 10, interval=0.1)
        self.assertIn("Configuration reloaded", s.log_text())
        for args in (("status",), ("status", "--json"), ("roles",)):
            p = ctl(" ".join(args), *args)
            self.assertEqual(p.returncode, 0, p.stderr)

        # The outputs meant to carry secrets do carry them: the scanner
        # below can fail.
        p = s.ctl("env", "dev")
        self.assertEqual(find_secrets(p.stdout.encode(), {"t": secret["endpoint token 2"]}),
                         [("t", "raw")])
        p = s.ctl("credential-process", "dev")
        self.assertEqual(json.loads(p.stdout)["SecretAccessKey"], secret["dev secret key 2"])

        # What ADFS issued: the SSO cookies and every assertion.
        issued = adfs_issued(s)
        secret.update(issued)
        cookies = {k: v for k, v in issued.items() if " cookie " in k}
        assertions = {k: v for k, v in issued.items() if k not in cookies}

        # While running: modes in state_dir, what state.json holds, /proc.
        self.check_modes()
        state_json = os.path.join(s.state_dir, "state.json")
        with open(state_json, "rb") as f:
            saved = f.read()
        self.assertIn(secret["dev secret key 2"].encode(), saved,
                      "state.json holds the sessions (DESIGN.md Persistence)")
        self.assertIn(issued["MSISAuth cookie 0"].encode(), saved,
                      "state.json holds the cookie jar (the scanner can find a cookie)")
        self.assertEqual(find_secrets(saved, dict({"password": self.pw,
                                                   "rejected password": self.wrong_pw},
                                                  **assertions)), [])
        for what in ("cmdline", "environ"):
            with open(f"/proc/{self.pid}/{what}", "rb") as f:
                self.assertEqual(find_secrets(f.read(), secret), [], f"/proc/PID/{what}")

        p = ctl("logout", "logout")
        self.assertEqual(p.returncode, 0, p.stderr)
        secret["endpoint token 3"] = s.token()
        self.assertNotEqual(secret["endpoint token 3"], secret["endpoint token 2"])
        self.assertFalse(os.path.exists(state_json), "logout deletes the saved state")
        self.check_modes()

        rc = self.stop_traced()
        log = s.log_text()
        self.assertIsNone(sanitizer_report(log), log)
        self.assertEqual(rc, 0, log)

        # The log: nothing, at debug level, through sign-in, a rejected
        # password, GetRole, refresh, IMDS, reload, logout and stop.
        self.assertIn("audit: imds role=dev", log)
        self.assertEqual(find_secrets(log.encode(), secret), [], "daemon log")
        for name, text in outputs.items():
            self.assertEqual(find_secrets(text.encode(), secret), [], "adfs-credctl " + name)

        # Every file in the test's tree: the daemon's, the CLI's, HOME and
        # XDG. world.json is the emulators' input (it holds the password).
        intended = {os.path.join(s.state_dir, "token")}
        self.assertTrue(cookies and assertions)
        scanned = 0
        for root, dirs, files in os.walk(s.tmp):
            for n in files:
                path = os.path.join(root, n)
                if path == s.world or stat.S_ISSOCK(os.lstat(path).st_mode):
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                allowed = {}
                if path in intended:
                    allowed = {k for k in secret if k.startswith("endpoint token")}
                bad = [x for x in find_secrets(data, secret) if x[0] not in allowed]
                self.assertEqual(bad, [], path)
                scanned += 1
        self.assertGreater(scanned, 5)
        for root, dirs, files in os.walk(self.home):
            self.assertEqual(files, [], f"adfs-credd or adfs-credctl wrote into {root}")
        self.assertEqual(sorted(os.listdir(self.runtime)), ["adfs-credd"])

        # Anywhere on the machine: every path the daemon (and its threads)
        # opened for writing, created, renamed, removed or bound.
        written = set()
        with open(self.trace) as f:
            for line in f:
                m = re.search(r'^\d+\s+(\w+)\((.*)', line)
                if not m:
                    continue
                call, args = m.groups()
                if call in ("open", "openat") and not re.search(r"O_WRONLY|O_RDWR|O_CREAT", args):
                    continue
                if re.search(r"= -1 ", line):
                    continue
                written.update(re.findall(r'"((?:/|\.)[^"]*)"', args))
        self.assertTrue(any(p.startswith(s.state_dir + "/") for p in written), written)
        outside = sorted(p for p in written
                         if not p.startswith(s.state_dir + "/") and p != s.state_dir
                         and p not in ("/dev/null", "/dev/tty"))
        self.assertEqual(outside, [], "paths written outside state_dir")

    def check_modes(self):
        sd = self.s.state_dir
        self.assertEqual(mode_of(sd), 0o700, sd)
        for root, dirs, files in os.walk(sd):
            for d in dirs:
                self.assertEqual(mode_of(os.path.join(root, d)), 0o700, d)
            for n in files:
                p = os.path.join(root, n)
                self.assertEqual(mode_of(p), 0o600, p)
                self.assertEqual(os.lstat(p).st_uid, os.geteuid(), p)


# ---------------------------------------------------------------------------
# 2. Not dumpable, proven from outside as the daemon's own uid.

NOBODY = 65534
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

# Run as nobody: what a process of the daemon's own uid may do to PID.
PROBE = r"""
import ctypes, errno, json, os, sys
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_DETACH, PTRACE_SEIZE = 17, 0x4206
out = {}
for name in ("environ", "mem", "maps"):
    try:
        with open("/proc/%d/%s" % (pid, name), "rb") as f:
            if name == "mem":
                line = open("/proc/%d/maps" % pid).readline()
                f.seek(int(line.split("-")[0], 16))
            f.read(16)
        out[name] = "ok"
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
if libc.ptrace(PTRACE_SEIZE, pid, None, None) == 0:
    out["ptrace"] = "ok"
    libc.ptrace(PTRACE_DETACH, pid, None, None)
else:
    out["ptrace"] = errno.errorcode[ctypes.get_errno()]
print(json.dumps(out))
"""


class TestNotDumpable(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.fail("this test runs the daemon as another user and must run as root "
                      "(CI does); run 'sudo make check'")
        self.tmp = tempfile.mkdtemp(prefix="adfs-credd-nd-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        os.chmod(self.tmp, 0o755)
        self.state = os.path.join(self.tmp, "state")
        os.mkdir(self.state, 0o700)
        os.chown(self.state, NOBODY, NOBODY)
        self.conf = os.path.join(self.tmp, "config.yaml")
        with open(self.conf, "w") as f:
            json.dump({"adfs": {"url": "https://127.0.0.1:9/", "username": "EXAMPLE\\alice"},
                       "serve": {"ecs": f"127.0.0.1:{free_port()}"},
                       "state_dir": self.state}, f)
        os.chmod(self.conf, 0o644)
        self.procs = []
        self.addCleanup(self.stop_all)

    def stop_all(self):
        for p in self.procs:
            stop_process(p, sig=signal.SIGKILL)

    def spawn(self, args, **kw):
        p = subprocess.Popen(SETPRIV + args, env={"HOME": self.tmp, "PATH": "/usr/bin:/bin"},
                             **kw)
        self.procs.append(p)
        return p

    def probe(self, pid):
        p = subprocess.run(SETPRIV + [PYTHON, "-c", PROBE, str(pid)],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_own_uid_cannot_read_or_trace_it(self):
        bin_ = os.path.join(harness.build_dir(), "adfs-credd")
        log = os.path.join(self.tmp, "daemon.log")
        with open(log, "w") as out:
            d = self.spawn([bin_, "-c", self.conf], stdout=out, stderr=subprocess.STDOUT)
        sock = os.path.join(self.state, "control.sock")
        def listening():
            if os.path.exists(sock):
                return True
            self.assertIsNone(d.poll(), read(log))
            return False

        wait_until(listening, 20)
        self.assertTrue(os.path.exists(sock), read(log))
        control = self.spawn(["sleep", "300"])
        time.sleep(0.2)
        for p in (d, control):
            with open(f"/proc/{p.pid}/status") as f:
                self.assertRegex(f.read(), rf"(?m)^Uid:\s+{NOBODY}\s+{NOBODY}\s")

        # The control: an ordinary process of the same uid is open to it.
        self.assertEqual(self.probe(control.pid),
                         {"environ": "ok", "mem": "ok", "maps": "ok", "ptrace": "ok"})
        # The daemon is not: PR_SET_DUMPABLE 0 hands its /proc files to
        # root and refuses ptrace to anyone without CAP_SYS_PTRACE.
        got = self.probe(d.pid)
        self.assertEqual(got, {"environ": "EACCES", "mem": "EACCES", "maps": "EACCES",
                               "ptrace": "EPERM"})
        self.assertEqual(os.stat(f"/proc/{d.pid}/environ").st_uid, 0)
        with open(f"/proc/{d.pid}/limits") as f:
            self.assertRegex(f.read(), r"(?m)^Max core file size\s+0\s+0\s")

        d.send_signal(signal.SIGTERM)
        rc = d.wait(30)
        text = read(log)
        self.assertIsNone(sanitizer_report(text), text)
        self.assertEqual(rc, 0, text)


# ---------------------------------------------------------------------------
# 3. Locked memory, MADV_DONTDUMP, and what a core dump would hold.

def memory_hits(pid, secret_map):
    """{secret name: [VmFlags of each mapping holding it]}, read from
    /proc/PID/mem (root may, even though the daemon is not dumpable)."""
    regions, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            if m:
                cur = [int(m.group(1), 16), int(m.group(2), 16), m.group(3), []]
                regions.append(cur)
            elif line.startswith("VmFlags:"):
                cur[3] = line.split()[1:]
    hits = {}
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for start, end, perms, flags in regions:
            if not perms.startswith("r") or end - start > 1 << 30:
                continue
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except OSError:   # [vvar] and the like
                continue
            for name, value in secret_map.items():
                if value.encode() in data:
                    hits.setdefault(name, []).append(flags)
    return hits


class TestCoreDump(unittest.TestCase):
    def test_locked_dontdump_and_core(self):
        pw = unique_password()
        imds_port = free_port()
        s = Stack(config={
            "roles": [{"name": "dev", "arn": DEV_ARN}, {"name": "prod", "arn": PROD_ARN}],
            "serve": {"imds": f"127.0.0.1:{imds_port}"},
        }, world=world_with_password(pw))
        self.addCleanup(s.close)
        s.start_daemon()
        p = s.login(pw)
        self.assertEqual(p.returncode, 0, p.stderr)
        secret = {"password": pw}
        for tag in ("1", "2"):
            for role in ("dev", "prod"):
                st, _, body = s.get("/role/" + role, token=s.token())
                self.assertEqual(st, 200)
                c = json.loads(body)
                secret[f"{role} secret key {tag}"] = c["SecretAccessKey"]
                secret[f"{role} session token {tag}"] = c["Token"]
            st, _, tok = fetch(f"http://127.0.0.1:{imds_port}/latest/api/token", "PUT",
                              {TTL: "300"})
            secret["imds token " + tag] = tok
            self.assertEqual(fetch(f"http://127.0.0.1:{imds_port}{IMDS_CREDS}/dev",
                                  headers={"X-aws-ec2-metadata-token": tok})[0], 200)
            if tag == "1":
                self.assertEqual(s.ctl("refresh").returncode, 0)
        secret["endpoint token"] = s.token()
        # The SAML assertions are used up: wiped, in no mapping, no core.
        # The SSO cookies (MSISAuth*) live on between rounds, in the
        # daemon's locked jar only, never in libcurl's heap.
        issued = adfs_issued(s)
        secret.update(issued)
        used_up = [k for k in issued if k.startswith("SAML")]
        pid = s.daemon.pid

        with open(f"/proc/{pid}/status") as f:
            vmlck = int(re.search(r"(?m)^VmLck:\s+(\d+) kB", f.read()).group(1))
        locked, dontdump = [], 0
        with open(f"/proc/{pid}/smaps") as f:
            head = None
            for line in f:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    head = line.split()[0]
                elif line.startswith("VmFlags:"):
                    flags = line.split()[1:]
                    dontdump += "dd" in flags
                    if "lo" in flags:
                        locked.append((head, "dd" in flags))
        self.assertGreater(dontdump, 0, "secret pages are MADV_DONTDUMP")
        if is_asan(s.daemon_bin):
            # The sanitizer runtime intercepts mlock and ignores it ("ignores
            # mlock/mlockall/munlock/munlockall"): nothing can be locked in
            # an ASan build. The plain build checks it.
            self.assertEqual(vmlck, 0)
        else:
            self.assertGreater(vmlck, 0, "secrets are mlock'd")
            # Every locked mapping (the struct secret pages) is DONTDUMP.
            self.assertTrue(locked)
            self.assertEqual([h for h, dd in locked if not dd], [],
                             "locked mappings without MADV_DONTDUMP")
        with open(f"/proc/{pid}/limits") as f:
            self.assertRegex(f.read(), r"(?m)^Max core file size\s+0\s+0\s")

        if not is_asan(s.daemon_bin):
            # The whole memory: the password is gone after its round (no
            # remember_password), the first credentials were wiped when the
            # refresh replaced them, and the live secrets (both IMDS tokens
            # are live) are only in locked, DONTDUMP pages.
            hits = memory_hits(pid, secret)
            gone = ["password"] + used_up + [
                k for k in secret
                if k.endswith(" 1") and not k.startswith("imds") and k not in issued]
            self.assertEqual({k: v for k, v in hits.items() if k in gone}, {},
                             "secrets that should have been wiped")
            for k in secret:
                if k not in gone:
                    self.assertIn(k, hits)
                    self.assertEqual([f for f in hits[k] if not {"lo", "dd"} <= set(f)], [],
                                     f"{k} outside locked DONTDUMP memory")
        if is_asan(s.daemon_bin):
            # A gcore of an ASan process is 6 TB sparse, 80 GB written (its
            # allocator's reserved regions): the plain build checks the core.
            self.assertEqual(s.stop_daemon(), 0)
            return
        # gdb's gcore honours MADV_DONTDUMP, as the kernel does: the core
        # holds the heap (libcurl, OpenSSL, libmicrohttpd, jansson, libxml2
        # buffers) but not the secret pages.
        prefix = os.path.join(s.tmp, "core")
        g = subprocess.run(["gcore", "-o", prefix, str(pid)], capture_output=True,
                           text=True, timeout=300)
        core_path = f"{prefix}.{pid}"
        self.assertTrue(os.path.exists(core_path), g.stdout + g.stderr)
        self.assertIsNone(s.daemon.poll(), "the daemon survives gcore")
        self.assertLess(os.path.getsize(core_path), 1 << 30, "a core of a few MB is expected")
        with open(core_path, "rb") as f:
            core = f.read()
        os.unlink(core_path)
        self.assertGreater(len(core), 1 << 20)
        # The core is a real image of the process: the non-secret role ARN
        # and the endpoint URL are in it.
        self.assertIn(DEV_ARN.encode(), core)
        found = [(n, e) for n, e in find_secrets(core, secret) if e in ("raw", "json", "url")]
        self.assertEqual(found, [], "secrets in a core dump of the daemon")
        self.assertEqual(s.stop_daemon(), 0)


# ---------------------------------------------------------------------------
# 4. Malformed HTTP on the three listeners.

def read_responses(sock, wait):
    """Reads until the peer closes, or wait seconds of silence. Returns
    (status codes of the complete responses, how it ended)."""
    buf, codes = b"", []
    sock.settimeout(wait)
    half_closed = False
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            if half_closed:
                return codes, "hang"
            # The server may be waiting for the rest of a request: tell it
            # there is none; it must answer or close now.
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            half_closed = True
            continue
        except (ConnectionResetError, BrokenPipeError):
            return codes + parse_codes(buf), "reset"
        if not chunk:
            return codes + parse_codes(buf), "closed"
        buf += chunk
        while True:
            m = re.match(rb"HTTP/\d\.\d (\d{3})[^\r\n]*\r\n(.*?)\r\n\r\n", buf, re.S)
            if not m:
                break
            cl = re.search(rb"(?im)^content-length:\s*(\d+)", m.group(2))
            end = m.end() + (int(cl.group(1)) if cl else 0)
            if len(buf) < end:
                break
            codes.append(int(m.group(1)))
            buf = buf[end:]
        if codes and not buf and not half_closed:
            # A complete answer: wait briefly for more (pipelining).
            sock.settimeout(0.3)


def parse_codes(buf):
    return [int(c) for c in re.findall(rb"^HTTP/\d\.\d (\d{3})", buf)]


def exchange(connect, data, wait=3.0):
    sock = connect()
    try:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return parse_codes(b""), "reset"
        return read_responses(sock, wait)
    finally:
        sock.close()


def malformed(host):
    """(name, bytes) of malformed requests; none may be answered 2xx/5xx."""
    h = b"Host: " + host.encode() + b"\r\n"
    return [
        ("garbage request line", b"GARBAGE\r\n\r\n"),
        ("method only", b"GET\r\n\r\n"),
        ("no version", b"GET / \r\n" + h + b"\r\n"),
        ("HTTP/0.9", b"GET /\r\n"),
        ("HTTP/0.9 with blank line", b"GET /\r\n\r\n"),
        ("bad version", b"GET / HTTP/1.x\r\n" + h + b"\r\n"),
        ("version 2.0", b"GET / HTTP/2.0\r\n" + h + b"\r\n"),
        ("HTTP/1.1 without Host", b"GET / HTTP/1.1\r\n\r\n"),
        ("two Host headers", b"GET / HTTP/1.1\r\n" + h + b"Host: evil.example\r\n\r\n"),
        ("header without colon", b"GET / HTTP/1.1\r\n" + h + b"NoColonHere\r\n\r\n"),
        ("header with empty name", b"GET / HTTP/1.1\r\n" + h + b": value\r\n\r\n"),
        ("space before colon", b"GET / HTTP/1.1\r\n" + h + b"Authorization : x\r\n\r\n"),
        ("obsolete line folding", b"GET / HTTP/1.1\r\n" + h + b"X-A: a\r\n  folded\r\n\r\n"),
        ("huge header", b"GET / HTTP/1.1\r\n" + h + b"X-Big: " + b"a" * 100000 + b"\r\n\r\n"),
        ("5000 headers", b"GET / HTTP/1.1\r\n" + h
         + b"".join(b"X-%d: v\r\n" % i for i in range(5000)) + b"\r\n"),
        ("very long URL", b"GET /role/" + b"a" * 100000 + b" HTTP/1.1\r\n" + h + b"\r\n"),
        ("absurd method", b"FROBNICATE / HTTP/1.1\r\n" + h + b"\r\n"),
        ("control byte in method", b"G\x01T / HTTP/1.1\r\n" + h + b"\r\n"),
        ("huge method", b"X" * 50000 + b" / HTTP/1.1\r\n" + h + b"\r\n"),
        ("NUL in request line", b"GET /role/\x00dev HTTP/1.1\r\n" + h + b"\r\n"),
        ("NUL in header", b"GET / HTTP/1.1\r\n" + h + b"X-A: a\x00b\r\n\r\n"),
        ("non-UTF-8 URL", b"GET /role/\xff\xfe\xc3 HTTP/1.1\r\n" + h + b"\r\n"),
        ("non-UTF-8 header", b"GET / HTTP/1.1\r\n" + h + b"X-A: \xff\xfe\r\n\r\n"),
        ("Content-Length not a number",
         b"POST / HTTP/1.1\r\n" + h + b"Content-Length: abc\r\n\r\n"),
        ("negative Content-Length", b"POST / HTTP/1.1\r\n" + h + b"Content-Length: -1\r\n\r\n"),
        ("Content-Length overflow",
         b"POST / HTTP/1.1\r\n" + h + b"Content-Length: 99999999999999999999999\r\n\r\n"),
        ("two Content-Lengths",
         b"POST / HTTP/1.1\r\n" + h + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
        ("body shorter than Content-Length",
         b"POST / HTTP/1.1\r\n" + h + b"Content-Length: 100\r\n\r\nshort"),
        ("oversized body", b"POST / HTTP/1.1\r\n" + h + b"Content-Length: 4000000\r\n\r\n"
         + b"x" * 4000000),
        ("chunked garbage",
         b"POST / HTTP/1.1\r\n" + h + b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n"),
        ("chunk size overflow", b"POST / HTTP/1.1\r\n" + h
         + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nabc\r\n"),
        ("unknown transfer coding",
         b"POST / HTTP/1.1\r\n" + h + b"Transfer-Encoding: gzip\r\n\r\nabc"),
        ("bare CR line endings", b"GET / HTTP/1.1\r" + h.replace(b"\r\n", b"\r") + b"\r"),
        ("only CRLFs", b"\r\n" * 5000),
        ("binary noise", bytes(range(256)) * 8),
        ("TLS hello on plain HTTP", bytes.fromhex("16030100f4010000f00303") + os.urandom(200)),
    ]


class TestMalformedRequests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.imds_port = free_port()
        cls.s = Stack(config={
            "roles": [{"name": "dev", "arn": DEV_ARN}, {"name": "prod", "arn": PROD_ARN}],
            "serve": {"imds": f"127.0.0.1:{cls.imds_port}", "imds_role": "dev"},
        })
        cls.s.start_daemon()
        p = cls.s.login()
        assert p.returncode == 0, p.stderr + cls.s.log_text()
        cls.ecs_host = f"127.0.0.1:{cls.s.ecs_port}"
        cls.imds_host = f"127.0.0.1:{cls.imds_port}"

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def setUp(self):
        self.before = self.snapshot()

    def tearDown(self):
        # Nothing any of it sent changed the daemon's state or made it call
        # ADFS or STS.
        self.assertIsNone(self.s.daemon.poll(), "adfs-credd died:\n" + self.s.log_text())
        self.assertEqual(self.snapshot(), self.before)
        self.assertIsNone(sanitizer_report(self.s.log_text()))

    def snapshot(self):
        s = self.s
        p = s.ctl("status", "--json")
        assert p.returncode == status_exit(json.loads(p.stdout)), p.stderr
        st, _, body = s.get("/role/dev", token=s.token())
        adfs, sts = s.adfs.stats(), s.sts.stats()
        adfs.pop("requests", None)
        sts.pop("requests", None)
        status = json.loads(p.stdout)
        status.pop("now")   # the daemon's clock: the one field that moves
        return {"status": status, "token": s.token(),
                "dev": (st, json.loads(body).get("AccessKeyId")),
                "adfs": adfs, "sts": sts}

    def tcp(self, port):
        return lambda: socket.create_connection(("127.0.0.1", port), timeout=5)

    def unix(self):
        def connect():
            c = socket.socket(socket.AF_UNIX)
            c.settimeout(5)
            c.connect(os.path.join(self.s.state_dir, "control.sock"))
            return c
        return connect

    def battery(self, connect, host, valid):
        for name, data in malformed(host):
            with self.subTest(name):
                t0 = time.monotonic()
                codes, end = exchange(connect, data)
                self.assertNotEqual(end, "hang", f"{name}: no answer and no close")
                self.assertLess(time.monotonic() - t0, 10, name)
                # 505 is the documented answer to an unsupported version.
                ok = {505} if name == "version 2.0" else set()
                self.assertTrue(all(400 <= c < 500 or c in ok for c in codes),
                                f"{name}: answered {codes} ({end})")
                self.assertIsNone(self.s.daemon.poll(), f"{name}: adfs-credd died")
        # Pipelined junk after a complete request: the request is answered,
        # the junk is refused or the connection closed; nothing else runs.
        codes, end = exchange(connect, valid + b"JUNK / HTTP/9\r\n\x00\xff\r\n\r\n" + valid)
        self.assertNotEqual(end, "hang")
        self.assertTrue(codes, end)
        self.assertTrue(all(400 <= c < 500 for c in codes[1:]), codes)

    def test_ecs(self):
        h = self.ecs_host
        valid = (f"GET /role/dev HTTP/1.1\r\nHost: {h}\r\n"
                 f"Authorization: {self.s.token()}\r\n\r\n").encode()
        codes, _ = exchange(self.tcp(self.s.ecs_port), valid)
        self.assertEqual(codes, [200])
        self.battery(self.tcp(self.s.ecs_port), h, valid)

    def test_imds(self):
        h = self.imds_host
        valid = (f"PUT /latest/api/token HTTP/1.1\r\nHost: {h}\r\n{TTL}: 60\r\n"
                 "Content-Length: 0\r\n\r\n").encode()
        self.battery(self.tcp(self.imds_port), h, valid)

    def test_control_socket(self):
        valid = b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n"
        codes, _ = exchange(self.unix(), valid)
        self.assertEqual(codes, [200])
        self.battery(self.unix(), "localhost", valid)
        # Junk in front of a logout must not smuggle the logout in.
        codes, end = exchange(self.unix(), b"GARBAGE\r\n\r\nPOST /v1/logout HTTP/1.1\r\n"
                              b"Host: localhost\r\nContent-Length: 0\r\n\r\n")
        self.assertTrue(all(400 <= c < 500 for c in codes), codes)
        # A login whose body never completes, or is too long for a
        # password, posts nothing to ADFS (tearDown checks the counters).
        for body in (b"POST /v1/login HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Length: 40\r\n\r\nCorrect-Horse-1",
                     b"POST /v1/login HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Length: 5000\r\n\r\n" + b"p" * 5000,
                     b"POST /v1/login HTTP/1.1\r\nHost: localhost\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n5\r\nCorre\r\nXYZ\r\n"):
            codes, end = exchange(self.unix(), body)
            self.assertNotEqual(end, "hang")
            self.assertTrue(all(400 <= c < 500 for c in codes), (codes, body[:60]))

    def test_hostile_but_valid_requests_are_refused(self):
        s = self.s
        tok = s.token()
        for headers in ({"Host": "evil.example.com"}, {"Host": "127.0.0.1.nip.io"},
                        {"Host": "localhost.evil.example"}, {"Host": "127.0.0.1:80@evil"},
                        {"Host": "[::ffff:10.0.0.1]"}, {"Host": "10.0.0.1:" + str(s.ecs_port)},
                        {"Origin": "http://evil.example"}, {"Origin": "null"},
                        {"Referer": "http://evil.example/page"},
                        {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
            with self.subTest(headers=headers):
                st, _, body = s.get("/role/dev", token=tok, headers=headers)
                self.assertEqual(st, 403, body)
                self.assertEqual(json.loads(body)["Code"], "AccessDenied")
                self.assertNotIn("SecretAccessKey", body)
        # A second Host header naming another site, after a loopback one.
        req = (f"GET /role/dev HTTP/1.1\r\nHost: {self.ecs_host}\r\nHost: evil.example\r\n"
               f"Authorization: {tok}\r\n\r\n").encode()
        codes, _ = exchange(self.tcp(s.ecs_port), req)
        self.assertEqual(codes, [403])
        for bad in ("", "x", tok[:-1], tok + "x", tok.lower() if tok != tok.lower() else "y",
                    "Bearer " + tok, " " + tok + "\t"):
            with self.subTest(token=bad[:8]):
                st, _, body = s.get("/role/dev", token=bad)
                if st == 429:   # the throttle: also a refusal
                    continue
                self.assertEqual(st, 403, body)
        # IMDS: the same guards, with a valid session token in hand.
        url = f"http://{self.imds_host}"
        st, _, imds_tok = fetch(url + "/latest/api/token", "PUT", {TTL: "60"})
        self.assertEqual(st, 200)
        for headers in ({"Host": "evil.example.com"}, {"Origin": "http://evil.example"},
                        {"Referer": "http://evil.example/"}, {"Sec-Fetch-Site": "cross-site"}):
            with self.subTest(imds=headers):
                st, _, body = fetch(url + IMDS_CREDS + "/dev",
                                   headers=dict(headers, **{"X-aws-ec2-metadata-token": imds_tok}))
                self.assertIn(st, (403, 429))
                self.assertEqual(body, "")
                st, _, body = fetch(url + "/latest/api/token", "PUT", dict(headers, **{TTL: "60"}))
                self.assertIn(st, (403, 429))
                self.assertEqual(body, "")
        # The ECS endpoint still serves its own user afterwards (reads are
        # never throttled).
        self.assertEqual(s.get("/role/dev", token=tok)[0], 200)


if __name__ == "__main__":
    unittest.main()
