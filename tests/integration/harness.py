"""Test harness: starts the ADFS and STS emulators over HTTPS (with a CA
made for the run) and the real adfs-credd binary with its own config, and
runs adfs-credctl and real SDK clients against it. Everything stays on
127.0.0.1. Used by the integration tests and by `make demo`."""

import http.client
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EMU = os.path.join(ROOT, "tests", "emulators")
PYTHON = "/usr/bin/python3"  # Debian's, with python3-boto3

USER = "EXAMPLE\\alice"
PASSWORD = "Correct-Horse-1"
DEV_ARN = "arn:aws:iam::111122223333:role/ADFS-Dev"
PROD_ARN = "arn:aws:iam::444455556666:role/ADFS-Prod"


def build_dir():
    d = os.environ.get("ADFS_CREDD_BUILD", os.path.join(ROOT, "build"))
    return os.path.abspath(d)


def free_port():
    """A TCP port nothing listens on, for a daemon to bind later. Below
    the kernel's ephemeral range (ip_local_port_range): a port the kernel
    handed out for bind(0) is also one it hands to outgoing connections,
    and a test's client connecting in parallel took one before the daemon
    bound it (CI: "Cannot listen on 0.0.0.0:44385 ... Address already in
    use"). Checked free on the wildcard address, which covers loopback."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port below the ephemeral range")


def preload(binary, lib):
    """LD_PRELOAD value that loads the test shim lib into binary; an ASan
    build wants its runtime first in the list."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    m = re.search(r"libasan\.so\S* => (\S+)", out)
    return m.group(1) + ":" + lib if m else lib


def clean_sdk_env(extra=None):
    """An environment for SDK clients with nothing that could reach a real
    AWS or metadata address, and no credentials but the ones we give."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env.update({
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "NO_PROXY": "127.0.0.1,localhost",
    })
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(k, None)
    env.update(extra or {})
    return env


# --- the shared plumbing: waiting, HTTP, stopping a process, an emulator ---

def wait_until(pred, timeout, interval=0.05, ignore=()):
    """Calls pred() until it returns something true, and returns that; after
    timeout seconds returns None (pred's last, false, answer is dropped).
    An exception of a type in ignore counts as a false answer; any other
    propagates (pred may raise to give up early)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = pred()
        except ignore:
            v = None
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def fetch(url, method="GET", headers=None, data=None, context=None, source=None,
          timeout=10):
    """One HTTP(S) request: to the daemon's endpoints or an emulator.
    Returns (status, headers as a dict, body as text); an error status is
    returned, not raised. A PUT or POST without data sends an empty body.
    data may be bytes or text. context: the ssl context for https. source:
    the local address to send from (e.g. 127.0.0.2, one in an emulator's
    tls_exempt)."""
    if data is None and method in ("PUT", "POST"):
        data = b""
    if isinstance(data, str):
        data = data.encode()
    if source is not None:
        u = urllib.parse.urlsplit(url)
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(u.hostname, u.port, context=context,
                                               timeout=timeout, source_address=(source, 0))
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout,
                                              source_address=(source, 0))
        try:
            conn.request(method, u.path + ("?" + u.query if u.query else ""), data,
                         headers or {})
            r = conn.getresponse()
            return r.status, dict(r.headers), r.read().decode()
        finally:
            conn.close()
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, context=context, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def stop_process(proc, timeout=10, sig=signal.SIGTERM):
    """Stops proc: sig if it still runs, then waits up to timeout seconds;
    if it is still there, SIGKILL and wait. Returns its exit status, or None
    when it had to be killed (callers that require a clean stop check)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
    return proc.returncode


def launch_emulator(script, world, certs, stderr=None, env=None, args=(), timeout=15):
    """Starts tests/emulators/SCRIPT on 127.0.0.1 with a free port and the
    run's certificate (certs: mkcerts.sh's directory); returns (process,
    port) once it says LISTENING. Its stdout is a pipe (the caller closes
    it after stop_process); stderr as given."""
    proc = subprocess.Popen(
        [PYTHON, os.path.join(EMU, script), "--world", world,
         "--cert", os.path.join(certs, "server.pem"),
         "--key", os.path.join(certs, "server.key"), "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=stderr, text=True,
        env=dict(os.environ, **(env or {})))
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    m = re.fullmatch(r"LISTENING (\d+)\n", line)
    if not m:
        stop_process(proc, 5)
        proc.stdout.close()
        raise RuntimeError(f"{script} did not start: {line!r}")
    return proc, int(m.group(1))


class Emulator:
    def __init__(self, name, script, world, certs, workdir, env=None):
        self.name = name
        self.log = open(os.path.join(workdir, name + ".log"), "w")
        try:
            self.proc, self.port = launch_emulator(script, world, certs, stderr=self.log,
                                                   env=env)
        except RuntimeError:
            self.log.close()
            raise
        self.url = f"https://127.0.0.1:{self.port}"
        self.ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))

    def _req(self, method, path, body=None):
        st, _, out = fetch(self.url + path, method,
                           headers={"Content-Type": "application/json"},
                           data=json.dumps(body) if body is not None else None,
                           context=self.ctx)
        if not 200 <= st < 300:
            raise RuntimeError(f"{self.name} emulator: {method} {path}: {st} {out}")
        return json.loads(out or "null")

    def stats(self):
        return self._req("GET", "/_emulator/stats")

    def requests(self):
        return self._req("GET", "/_emulator/requests")

    def configure(self, **knobs):
        return self._req("POST", "/_emulator/config", knobs)

    def reset(self):
        return self._req("POST", "/_emulator/reset", {})

    def stop(self):
        stop_process(self.proc, 5)
        self.proc.stdout.close()
        self.log.close()


class Stack:
    """Emulators + one daemon. `config` entries are merged into the
    generated YAML (top-level keys replaced, `adfs`/`aws`/`serve` merged).
    `emulator_env` is added to both emulators' environment (the long-job
    test runs them under tests/timewarp)."""

    def __init__(self, config=None, world=None, keep=False, emulator_env=None):
        self.build = build_dir()
        self.daemon_bin = os.path.join(self.build, "adfs-credd")
        self.ctl_bin = os.path.join(self.build, "adfs-credctl")
        for b in (self.daemon_bin, self.ctl_bin):
            if not os.access(b, os.X_OK):
                raise RuntimeError(f"{b} is not built; run 'make build' first")
        self.tmp = tempfile.mkdtemp(prefix="adfs-credd-it-")
        self.keep = keep
        self.certs = os.path.join(self.tmp, "certs")
        self.ca = os.path.join(self.certs, "ca.pem")
        subprocess.run(["bash", os.path.join(EMU, "mkcerts.sh"), self.certs], check=True)
        with open(os.path.join(EMU, "world.example.json")) as f:
            w = json.load(f)
        for k, v in (world or {}).items():
            w[k] = v
        self.world = os.path.join(self.tmp, "world.json")
        with open(self.world, "w") as f:
            json.dump(w, f)
        self.adfs = Emulator("adfs", "adfs_emulator.py", self.world, self.certs, self.tmp,
                             env=emulator_env)
        self.sts = Emulator("sts", "sts_emulator.py", self.world, self.certs, self.tmp,
                            env=emulator_env)
        self.state_dir = os.path.join(self.tmp, "state")
        self.ecs_port = free_port()
        self.config_path = os.path.join(self.tmp, "config.yaml")
        self.write_config(config or {})
        self.daemon = None
        self.daemon_log = os.path.join(self.tmp, "daemon.log")
        self.outputs = set()   # every file a daemon's output went to

    def write_config(self, extra):
        conf = {
            "adfs": {"url": self.adfs.url, "username": USER, "ca_file": self.ca},
            "aws": {"sts_endpoint": self.sts.url, "iam_endpoint": self.sts.url,
                    "ca_file": self.ca},
            "serve": {"ecs": f"127.0.0.1:{self.ecs_port}"},
            "state_dir": self.state_dir,
            "log_level": "debug",
        }
        for k, v in extra.items():
            if isinstance(v, dict) and isinstance(conf.get(k), dict):
                conf[k].update(v)
            elif v is None:
                conf.pop(k, None)
            else:
                conf[k] = v
        # JSON is YAML: no YAML writer needed.
        with open(self.config_path, "w") as f:
            json.dump(conf, f, indent=2)

    @property
    def ecs_url(self):
        return f"http://127.0.0.1:{self.ecs_port}"

    def start_daemon(self, env=None, out=None):
        """Starts the daemon, its output appended to out (a path; default
        the stack's daemon.log), and waits for its control socket."""
        e = dict(os.environ)
        e.update(env or {})
        out = out or self.daemon_log
        self.outputs.add(out)
        # This run's output starts here: stop_daemon() looks for a
        # sanitizer report in it (an earlier run's was checked at its stop).
        self.daemon_run = (out, os.path.getsize(out) if os.path.exists(out) else 0)
        self.daemon_out = open(out, "a")
        self.daemon = subprocess.Popen(valgrind_prefix(self.tmp) +
                                       [self.daemon_bin, "-c", self.config_path],
                                       stdout=self.daemon_out, stderr=subprocess.STDOUT,
                                       env=e)
        sock = os.path.join(self.state_dir, "control.sock")

        def listening():
            if self.daemon.poll() is not None:
                raise RuntimeError("adfs-credd exited at start:\n" + self.log_text())
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock)
            return True

        if not wait_until(listening, 90 if valgrind_prefix(self.tmp) else 20,
                          ignore=(OSError,)):
            raise RuntimeError("adfs-credd did not open its control socket:\n"
                               + self.log_text())

    def stop_daemon(self, expect=0, sig=signal.SIGTERM):
        """Stops the daemon (sig, then waits up to 30 s) and fails the test
        (AssertionError) unless it exited with status expect and left no
        sanitizer report (ASan, UBSan, LeakSanitizer: an ASan build exits
        23 on a leak at exit) and no valgrind memcheck error in this run's
        output. Returns the exit status. Every test's teardown goes through
        here (close()), so every test fails on a leak at exit.

        The default is a clean exit on SIGTERM. A test that means the
        daemon to end otherwise says so where it does it:
        stop_daemon(expect=1) for a daemon that exits with an error by
        itself, kill_daemon() for a SIGKILL (no leak check can run in a
        killed process; a report it wrote before still fails)."""
        if not self.daemon:
            return None
        rc = stop_process(self.daemon, 30, sig=sig)
        self.daemon_out.close()
        self.daemon = None
        if rc is None:
            raise RuntimeError("adfs-credd did not stop on %s" % signal.Signals(sig).name)
        killed = expect < 0
        try:
            path, start = self.daemon_run
            with open(path, "rb") as f:
                f.seek(start)
                run = f.read().decode(errors="replace")
            report = sanitizer_report(run)
            if report or rc != expect:
                raise AssertionError(
                    "adfs-credd exited with status %s (%s expected)%s; its output:\n%s" % (
                        rc, expect, " and wrote a sanitizer report (%s)" % report
                        if report else "", report_excerpt(run)))
        finally:
            check_valgrind_logs(self.tmp, killed=killed)
        return rc

    def kill_daemon(self):
        """SIGKILL, for a test that means to kill the daemon (a crash, a
        restart loop): its status must be -SIGKILL, and a sanitizer report
        written before the kill still fails the test."""
        return self.stop_daemon(expect=-signal.SIGKILL, sig=signal.SIGKILL)

    def check_outputs(self):
        """Fails on a sanitizer report anywhere in the daemon output files,
        from any daemon that wrote to them (one started by a test itself,
        under strace or systemd-socket-activate, writes to daemon.log)."""
        for path in sorted(self.outputs | {self.daemon_log}):
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
            except FileNotFoundError:
                continue
            report = sanitizer_report(text)
            if report:
                raise AssertionError(f"{report} in {path}:\n" + report_excerpt(text))

    def log_text(self):
        try:
            with open(self.daemon_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def ctl(self, *args, input=None, check=False, timeout=120):
        return subprocess.run([self.ctl_bin, "-c", self.config_path, *args],
                              input=input, capture_output=True, text=True,
                              timeout=timeout, check=check)

    def login(self, password=PASSWORD):
        return self.ctl("login", "--password-stdin", input=password + "\n")

    def token(self):
        with open(os.path.join(self.state_dir, "token")) as f:
            return f.read()

    def get(self, path, token=None, headers=None):
        """GET on the ECS endpoint; returns (status, headers, body)."""
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = token
        return fetch(self.ecs_url + path, headers=h)

    def boto3(self, env, action="get_caller_identity"):
        """Runs Debian's boto3 in a clean process with env (the SDK's own
        credential discovery) and calls STS on the emulator."""
        script = os.path.join(HERE, "sdk_boto3.py")
        p = subprocess.run([PYTHON, script, self.sts.url, self.ca, action],
                           env=clean_sdk_env(env), capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"boto3 client failed:\n{p.stdout}\n{p.stderr}")
        return json.loads(p.stdout)

    def close(self):
        """Every test's teardown: stops the daemon (stop_daemon(): fails
        the test on a non-zero exit, a leak or any sanitizer or valgrind
        report), checks the daemon output files once more, then stops the
        emulators and removes the files."""
        try:
            self.stop_daemon()
            self.check_outputs()
            check_valgrind_logs(self.tmp)
        finally:
            self.adfs.stop()
            self.sts.stop()
            if not self.keep:
                shutil.rmtree(self.tmp, ignore_errors=True)


def status_exit(st):
    """The exit status `adfs-credctl status` has for the reply st."""
    if not st.get("signed_in"):
        return 4
    now = st["now"]
    # ISO 8601 in UTC with the same format: compared as strings.
    if any(not r.get("expires") or r["expires"] <= now for r in st["roles"]):
        return 5
    return 0


class StackChecks:
    """Checks the integration tests share; the test case sets self.s to a
    Stack."""

    def status(self):
        """status --json, its exit status checked against what it shows
        (adfs-credctl(1)): 4 when not signed in, 5 when a role shown has
        no valid credentials by the daemon's clock, else 0."""
        p = self.s.ctl("status", "--json")
        st = json.loads(p.stdout)
        self.assertEqual(p.returncode, status_exit(st), (p.stderr, st))
        return st

    def ecs_env(self, role=None, token_file=False):
        """The environment `adfs-credctl env` prints, as a dict."""
        args = ["env"] + ([role] if role else []) + (["--token-file"] if token_file else [])
        p = self.s.ctl(*args)
        self.assertEqual(p.returncode, 0, p.stderr)
        env = {}
        for line in p.stdout.splitlines():
            m = re.match(r"^export (AWS_[A-Z_]+)=(.*)$", line)
            self.assertIsNotNone(m, f"unexpected line in env output: {line!r}")
            env[m.group(1)] = m.group(2)
        return env

    def stop_clean(self):
        """SIGTERM; fails on a non-zero exit or any sanitizer report (as
        every stop does, see Stack.stop_daemon). Returns the log."""
        self.s.stop_daemon()
        return self.s.log_text()


# ADFS_CREDD_VALGRIND=1 runs every daemon the harness starts under
# valgrind memcheck (`make check VALGRIND=1`). Each run's report is checked
# when the daemon stops: any memcheck error or any definitely lost block
# fails the test, with the report in the message.
VALGRIND_SUPP = os.path.join(ROOT, "tests", "valgrind.supp")


def valgrind_prefix(tmp):
    # --child-silent-after-fork: a child the daemon spawns (notify.command)
    # is not the daemon; traced until its exec, it would leave a log with
    # no summary behind.
    if os.environ.get("ADFS_CREDD_VALGRIND") != "1":
        return []
    return ["valgrind", "--tool=memcheck", "--error-exitcode=99",
            "--child-silent-after-fork=yes",
            "--leak-check=full", "--show-leak-kinds=definite",
            "--errors-for-leak-kinds=definite", "--track-origins=yes",
            "--num-callers=30", f"--suppressions={VALGRIND_SUPP}",
            f"--log-file={os.path.join(tmp, 'valgrind.%p.log')}"]


# A memcheck error record as valgrind writes it while the process runs (a
# killed process writes no ERROR SUMMARY).
VALGRIND_ERROR = re.compile(r"(?m)^==\d+== (Invalid (read|write|free)|Conditional jump|"
                            r"Use of uninitialised|Syscall param|Mismatched free|"
                            r"Source and destination overlap|Argument .* of function)")


def check_valgrind_logs(tmp, killed=False):
    """Fails on a memcheck error or a definitely lost block in any
    valgrind log in tmp not checked yet. killed: the daemon was killed on
    purpose, so its log has no summary; an error it recorded still fails."""
    if os.environ.get("ADFS_CREDD_VALGRIND") != "1":
        return
    for name in sorted(os.listdir(tmp)):
        if not (name.startswith("valgrind.") and name.endswith(".log")):
            continue
        path = os.path.join(tmp, name)
        with open(path, errors="replace") as f:
            text = f.read()
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        lost = re.search(r"definitely lost: ([\d,]+) bytes", text)
        bad = ((m is None and not killed) or (m is not None and int(m.group(1)) != 0) or
               (lost is not None and lost.group(1) != "0") or
               VALGRIND_ERROR.search(text) is not None)
        # Count each report once, even if the stack is stopped twice.
        os.rename(path, path + (".bad" if bad else ".ok"))
        if bad:
            raise AssertionError(f"valgrind memcheck report ({name}):\n{text}")


# What the sanitizers write: ASan and LeakSanitizer "==PID==ERROR: ...",
# UBSan "FILE:LINE:COL: runtime error: ..." (halt_on_error makes it exit
# too), and each one's SUMMARY line.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer"
                              r"|SUMMARY: \w+Sanitizer|runtime error:")


def sanitizer_report(text):
    """The first sanitizer report marker in text, or None."""
    m = SANITIZER_REPORT.search(text)
    return m.group(0) if m else None


def report_excerpt(text, lines=150):
    """What a failure message shows of a daemon's output: from 20 lines
    before the first sanitizer report on, else the last lines."""
    all_lines = text.splitlines()
    m = SANITIZER_REPORT.search(text)
    if m:
        start = max(0, text.count("\n", 0, m.start()) - 20)
        return "\n".join(all_lines[start:start + 4 * lines])
    return "\n".join(all_lines[-lines:])


if __name__ == "__main__":
    sys.exit("import me")
