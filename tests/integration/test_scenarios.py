"""Scenarios a user hits (issue 14, item 5), one TestCase class each, with
the real daemon against the ADFS and STS emulators:

- TestLongStsOutage: STS is down from before a role's refresh until after
  its credentials expired: the ECS endpoint serves them until they expire,
  then answers 503 CredentialsUnavailable, then 200 again once STS is back;
  no response ever carries an Expiration in the past (time-warp, x200).
- TestSuspendResume: the daemon is frozen (SIGSTOP) while the wall and boot
  clocks move 10 h (time-warp, x400), as across a laptop's suspend: the
  first request after the resume gets nothing expired, and the daemon
  refreshes at once.
- TestAdfsLoopDetection: ADFS answers MSIS7042 after too many assertions in
  a short window: the refresh fails naming it, the old credentials are
  served, no retry loop, and the next round after the window works.
- TestMfaPushTimeout: the Azure MFA push is never approved: the login ends
  after the daemon's 2-minute wait (time-warp, x40) with a clear error,
  polling at its interval, not in a tight loop.
- TestRoleArnWithPath: arn:aws:iam::123456789012:role/team/app/Name: sign-in,
  AssumeRoleWithSAML with the whole ARN, GetRole with RoleName "Name",
  status and env under "Name", and a real SDK call with the credentials.
- TestStsTlsFaults: a certificate from another CA, a reset during the TLS
  handshake: the refresh fails naming it, old credentials served, backoff,
  recovery.
- TestGetRoleFailing: GetRole fails by itself (500, throttled) as opposed to
  being denied: the role keeps its session, its maximum is not taken for
  probing, and GetRole is asked again at the next refresh.

How the suspend is made: tests/timewarp cannot jump a clock (its clocks
are linear in real time). Stopping the daemon's process while its clocks
run on (the emulators and this test keep running) is what a suspend looks
like to the daemon: when it runs again, CLOCK_REALTIME and CLOCK_BOOTTIME
are 10 h later. Its CLOCK_MONOTONIC runs at a tenth of the rate (as in
test_long_job), so it moves 1 h over the 10 h, where a real suspend stops
it."""

import copy
import json
import os
import re
import signal
import socket
import subprocess
import time
import unittest

from harness import DEV_ARN, EMU, PROD_ARN, Stack, StackChecks, fetch, wait_until
from test_long_job import WORLD, Warp, epoch

M, H = 60, 3600
SPARED = "127.0.0.2"   # control requests the emulators' TLS faults spare
WINDOW = 3.0           # real seconds in which a backed-off daemon sends nothing
MIN_BACKOFF = 20       # the first backoff is 30 s, jittered down to 3/4


def control(emu, name, body=None, method="POST"):
    """An emulator control request sent from SPARED (tls_exempt)."""
    st, _, text = fetch(emu.url + "/_emulator/" + name, method,
                        {"Content-Type": "application/json"},
                        None if method == "GET" else json.dumps(body or {}),
                        context=emu.ctx, source=SPARED)
    if st != 200:
        raise AssertionError("control %s: %s %s" % (name, st, text))
    return json.loads(text)


def other_ca_pem(tmp):
    """A server certificate + key from a CA the daemon does not trust."""
    d = os.path.join(tmp, "other-ca")
    subprocess.run(["sh", os.path.join(EMU, "mkcerts.sh"), d], check=True)
    return os.path.join(d, "server-full.pem")


def raw_get(port, path, token, timeout=30):
    """A GET on the ECS endpoint over a socket the caller controls:
    returns the connected socket with the request sent (see read_reply)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Authorization: {token}\r\nConnection: close\r\n\r\n").encode())
    return sock


def read_reply(sock):
    """(status, body) of the one reply on sock, read until the close."""
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
    if not m:
        raise AssertionError(f"not an HTTP reply: {data[:200]!r}")
    return int(m.group(1)), body.decode()


class Scenario(StackChecks, unittest.TestCase):
    """Real time; WarpScenario is the same under tests/timewarp."""
    roles = [{"name": "prod", "arn": PROD_ARN}]
    world = WORLD
    extra = {}

    def make_warp(self):
        return None

    def setUp(self):
        self.warp = self.make_warp()
        self.s = Stack(config=dict({"roles": self.roles}, **self.extra), world=self.world,
                       emulator_env=self.warp.env() if self.warp else None)
        self.addCleanup(self.s.close)

    def start(self, login=True):
        env = (self.warp.env(self.s.daemon_bin, self.warp.factor / self.mono_divisor)
               if self.warp else None)
        self.s.start_daemon(env=env)
        if login:
            p = self.s.login()
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())

    def now(self):
        return self.warp.now() if self.warp else time.time()

    def role(self, name=None):
        name = name or self.roles[0]["name"]
        return next(r for r in self.status()["roles"] if r["name"] == name)

    def alive(self):
        self.assertIsNone(self.s.daemon.poll(), "adfs-credd died:\n" + self.s.log_text())

    def ecs(self, role=None):
        """GET /role/ROLE: (status, body as JSON, the time just before)."""
        t = self.now()
        code, _, body = self.s.get("/role/" + (role or self.roles[0]["name"]),
                                   token=self.s.token())
        return code, json.loads(body), t

    def refreshed_since(self, before):
        """`refresh` works again: exit 0, last_error cleared, and the ECS
        endpoint serves a new key (not before's)."""
        p = self.s.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        self.assertIsNone(self.role()["last_error"])
        code, after, _ = self.ecs()
        self.assertEqual(code, 200, after)
        self.assertNotEqual(after["AccessKeyId"], before["AccessKeyId"])
        return after

    def check_not_expired(self, code, body, t):
        """A 200 carries credentials that expire after t (a time at or before
        the daemon answered, on the clock every process shares); anything
        else is the 503 CredentialsUnavailable."""
        if code == 200:
            self.assertGreater(epoch(body["Expiration"]), t,
                               "expired credentials served: %s" % body["Expiration"])
        else:
            self.assertEqual((code, body.get("Code")), (503, "CredentialsUnavailable"), body)


class WarpScenario(Scenario):
    """Every process on one accelerated clock (test_long_job.Warp); the
    ctest of such a class takes the time-warp lock (list_tests.py)."""
    factor = 200
    mono_divisor = 10      # the daemon's CLOCK_MONOTONIC runs this much slower

    def make_warp(self):
        return Warp(self.factor)


# ---------------------------------------------------------------------------

class TestLongStsOutage(WarpScenario):
    """prod (1 h, probed) is refreshed 30-35 min before it expires. STS
    answers 503 from 1 min before that until 20 min after the expiry."""

    factor = 200

    def test_expire_503_and_back(self):
        self.start()
        s = self.s
        s.adfs.configure(loop_detection=False)
        prod = self.role()
        planned, expires = epoch(prod["next_refresh"]), epoch(prod["expires"])
        code, first, _ = self.ecs()
        self.assertEqual(code, 200, first)

        self.warp.sleep_until(planned - M)
        s.sts.configure(fail_status=503, fail_count=-1, fault_ops=["AssumeRoleWithSAML"])
        seen = []   # (time, status, AccessKeyId)
        end = expires + 20 * M
        while self.now() < end:
            code, body, t = self.ecs()
            self.check_not_expired(code, body, t)
            seen.append((t, code, body.get("AccessKeyId")))
            self.warp.sleep_until(t + 30)
        self.alive()
        self.assertGreaterEqual(s.sts.stats()["faults_injected"].get("fail", 0), 3,
                                "the refresh was tried during the outage")
        # Served until it expired, the same credentials, then 503 only.
        ok = [x for x in seen if x[1] == 200]
        self.assertTrue(ok and max(t for t, _, _ in ok) >= expires - 3 * M,
                        "the old credentials were dropped before they expired")
        self.assertEqual({k for _, _, k in ok}, {first["AccessKeyId"]})
        codes = [c for _, c, _ in seen]
        self.assertIn(503, codes, "expired credentials were still served")
        first_503 = codes.index(503)
        self.assertEqual(set(codes[first_503:]), {503}, codes)
        self.assertGreaterEqual(seen[first_503][0], expires - 31,
                                "503 long before the expiry")
        prod = self.role()
        self.assertRegex(prod["last_error"] or "", r"ServiceUnavailable|Service is unable")

        # STS is back: the next try (10 min apart at most) refreshes.
        s.sts.configure(fail_count=0)
        back = self.now()
        after = []
        while self.now() < back + 15 * M:
            code, body, t = self.ecs()
            self.check_not_expired(code, body, t)
            after.append((t, code))
            if code == 200:
                break
            self.warp.sleep_until(t + 30)
        self.assertEqual(after[-1][1], 200, "no credentials 15 min after STS came back")
        self.assertNotEqual(body["AccessKeyId"], first["AccessKeyId"])
        self.assertGreater(epoch(body["Expiration"]), self.now() + 30 * M)
        self.assertIsNone(self.role()["last_error"])
        self.stop_clean()


class TestSuspendResume(WarpScenario):
    """dev (GetRole, 4 h) is signed in; 30 min later the machine sleeps
    for 10 h (the ADFS SSO lasts 24 h here, so a cookie round renews)."""

    factor = 400
    roles = [{"name": "dev", "arn": DEV_ARN}]

    def test_ten_hour_suspend(self):
        s = self.s
        s.adfs.configure(loop_detection=False, sso_lifetime=24 * H)
        self.start()
        dev = self.role()
        self.assertGreater(epoch(dev["expires"]) - self.now(), 3 * H, dev)
        t0 = self.now()
        self.warp.sleep_until(t0 + 30 * M)
        code, before, t = self.ecs()
        self.assertEqual(code, 200, before)
        token = s.token()

        os.kill(s.daemon.pid, signal.SIGSTOP)
        resumed = False

        def resume():
            if not resumed:
                os.kill(s.daemon.pid, signal.SIGCONT)
        self.addCleanup(resume)
        sleep_at = self.now()
        self.assertGreater(epoch(before["Expiration"]), sleep_at)
        self.warp.sleep_until(sleep_at + 10 * H)
        n_sts = s.sts.stats()["assume_calls"]

        # The first request after the resume is sent while the daemon is
        # still asleep: the kernel queues it; the daemon sees it together
        # with its overdue timer when it wakes.
        first = raw_get(s.ecs_port, "/role/dev", token)
        time.sleep(0.2)
        t_resume = self.now()
        self.assertGreater(t_resume, epoch(before["Expiration"]) + 5 * H)
        os.kill(s.daemon.pid, signal.SIGCONT)
        resumed = True
        code, body = read_reply(first)
        body = json.loads(body)
        self.check_not_expired(code, body, t_resume)
        self.assertNotEqual(body.get("AccessKeyId"), before["AccessKeyId"],
                            "the credentials from before the suspend were served")

        # The refresh starts at once: fresh credentials within minutes.
        fresh = None
        while self.now() < t_resume + 15 * M:
            code, body, t = self.ecs()
            self.check_not_expired(code, body, t)
            if code == 200:
                fresh = (t, body)
                break
            self.warp.sleep_until(t + 20)
        self.assertIsNotNone(fresh, "no fresh credentials 15 min after the resume:\n"
                             + s.log_text()[-3000:])
        t, body = fresh
        self.assertLess(t - t_resume, 5 * M, "the refresh did not start at once")
        self.assertGreater(epoch(body["Expiration"]), t + 3 * H)
        self.assertGreater(s.sts.stats()["assume_calls"], n_sts)
        calls = [e for e in s.sts.requests() if e.get("op") == "AssumeRoleWithSAML"
                 and epoch(e["time"]) >= t_resume - 1]
        self.assertTrue(calls)
        self.assertLess(epoch(calls[0]["time"]) - t_resume, 5 * M)
        # The cycle serves the new credentials before it asks GetRole; the
        # role's state is set when the cycle ends.
        dev = wait_until(lambda: (lambda r: r if r["state"] == "valid" else None)(self.role()),
                         10)
        self.assertIsNotNone(dev, self.role())
        self.assertIsNone(dev["last_error"])
        self.assertEqual(s.adfs.stats()["password_posts"], 1, "a cookie round renewed")
        self.stop_clean()


class TestAdfsLoopDetection(Scenario):
    """ADFS's loop detection (PROTOCOLS.md D5 MSISLoopDetectionCookie;
    emulator: more than 5 assertions for one SSO session in 20 s answers
    the MSIS7042 error page). Refreshes asked in a row trip it."""

    def test_msis7042(self):
        self.start()
        s = self.s
        code, before, _ = self.ecs()
        self.assertEqual(code, 200)
        # The login took one assertion; four refreshes take four more.
        for i in range(4):
            p = s.ctl("refresh")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        last_ok = time.monotonic()
        code, before, _ = self.ecs()
        a0 = s.adfs.stats()
        self.assertEqual((a0["assertions_issued"], a0["loop_detections"]), (5, 0))

        p = s.ctl("refresh")
        t_fail = time.monotonic()
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("MSIS7042", out)
        self.assertIn("loop detection", out)
        a1 = s.adfs.stats()
        self.assertEqual(a1["loop_detections"], 1, "the refresh asked ADFS again")
        self.assertLessEqual(a1["requests"] - a0["requests"], 2, a1)
        self.alive()
        st = self.status()
        self.assertIs(st["signed_in"], True, st)
        prod = st["roles"][0]
        self.assertEqual(prod["state"], "valid", prod)
        self.assertRegex(prod["last_error"] or "", r"MSIS7042.*loop detection")
        text = s.ctl("status")
        self.assertIn("MSIS7042", text.stdout)
        code, served, t = self.ecs()
        self.assertEqual(code, 200, served)
        self.assertEqual(served["AccessKeyId"], before["AccessKeyId"])
        nxt = epoch(prod["next_refresh"])
        self.assertGreaterEqual(nxt - time.time(), MIN_BACKOFF - (time.monotonic() - t_fail),
                                "next_refresh is not backed off")

        # No retry loop: nothing reaches ADFS until the window is over.
        time.sleep(max(0.0, last_ok + 21 - time.monotonic()))
        a2 = s.adfs.stats()
        self.assertEqual(a2["requests"], a1["requests"], "the daemon kept asking ADFS")
        self.assertEqual(a2["loop_detections"], 1)

        self.refreshed_since(before)
        self.assertEqual(s.adfs.stats()["password_posts"], 1)
        self.stop_clean()


CAROL, CAROL_PASSWORD = "EXAMPLE\\carol", "Push-Me-3"


def push_world(approve_after_polls):
    with open(os.path.join(EMU, "world.example.json")) as f:
        users = json.load(f)["users"]
    return {"users": users + [{
        "username": CAROL, "password": CAROL_PASSWORD,
        "roles": [DEV_ARN + ",arn:aws:iam::111122223333:saml-provider/ADFS"],
        "mfa": {"type": "push", "auth_method": "AzureMfaAuthentication", "number": "42",
                "approve_after_polls": approve_after_polls, "deny": False}}]}


class TestMfaPushTimeout(WarpScenario):
    """carol's push is never approved (approve_after_polls -1). The daemon
    polls every 3 s for 2 min (CLOCK_MONOTONIC): time-warp x40 for every
    clock of the daemon, so the 2 min take 3 real seconds."""

    factor = 40
    mono_divisor = 1
    roles = [{"name": "dev", "arn": DEV_ARN}]
    world = push_world(-1)
    extra = {"adfs": {"username": CAROL}}

    def test_push_never_approved(self):
        self.start(login=False)
        s = self.s
        t0, r0 = self.now(), time.monotonic()
        try:
            p = s.ctl("login", "--password-stdin", input=CAROL_PASSWORD + "\n", timeout=60)
        except subprocess.TimeoutExpired:
            self.fail("the login still waits after 40 simulated minutes:\n"
                      + s.log_text()[-3000:])
        waited, real = self.now() - t0, time.monotonic() - r0
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("42", p.stdout, "the number to match was shown")
        self.assertRegex(out, r"not approved within 2 minutes")
        self.assertGreaterEqual(waited, 2 * M - 5, "gave up before the 2 minutes")
        self.assertLess(real, 30)
        a = s.adfs.stats()
        self.assertEqual((a["password_posts"], a["mfa_prompts"], a["mfa_successes"]), (1, 1, 0), a)
        # Every 3 s over 2 min: 40 polls at most; a slow build fewer.
        self.assertGreaterEqual(a["mfa_polls"], 10, a)
        self.assertLessEqual(a["mfa_polls"], 41, a)
        st = self.status()
        self.assertIs(st["signed_in"], False, st)
        # Not waiting any more, and not locked out (the password was right).
        self.assertIn(st["state"], ("signed_out", "not_signed_in"), st)
        self.assertNotEqual(st["roles"][0]["state"], "valid", st)
        # Nothing polls on after the login ended.
        time.sleep(1.5)
        self.assertEqual(s.adfs.stats()["mfa_polls"], a["mfa_polls"])
        self.alive()

        # Approved this time: the next login works.
        s.adfs.configure(user_overrides={CAROL: {"mfa": {
            "type": "push", "auth_method": "AzureMfaAuthentication", "number": "42",
            "approve_after_polls": 2, "deny": False}}})
        p = s.ctl("login", "--password-stdin", input=CAROL_PASSWORD + "\n", timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + s.log_text())
        code, body, t = self.ecs()
        self.assertEqual(code, 200, body)
        self.stop_clean()


PATH_ACCOUNT = "123456789012"
PATH_PROVIDER = f"arn:aws:iam::{PATH_ACCOUNT}:saml-provider/ADFS"
PATH_ARN = f"arn:aws:iam::{PATH_ACCOUNT}:role/team/app/Name"


def path_world():
    w = copy.deepcopy(WORLD)
    with open(os.path.join(EMU, "world.example.json")) as f:
        w["providers"] = json.load(f)["providers"]
    w["providers"][PATH_PROVIDER] = {"issuer": "http://adfs.example.com/adfs/services/trust"}
    w["roles"][PATH_ARN] = {"max_session_duration": 14400, "get_role": True,
                            "provider": PATH_PROVIDER}
    # A decoy: a role whose name is the ARN's middle part.
    w["roles"][f"arn:aws:iam::{PATH_ACCOUNT}:role/app"] = {
        "max_session_duration": 3600, "get_role": True, "provider": PATH_PROVIDER}
    w["users"][0]["roles"] = [PATH_ARN + "," + PATH_PROVIDER]
    return w


class TestRoleArnWithPath(Scenario):
    """No roles in the configuration: the role comes from the assertion and
    is named after the last part of its ARN."""

    roles = None           # Stack.write_config drops the key
    world = path_world()

    def test_role_with_path(self):
        self.start()
        s = self.s
        st = self.status()
        self.assertEqual([(r["name"], r["arn"]) for r in st["roles"]], [("Name", PATH_ARN)])
        r = st["roles"][0]
        self.assertEqual((r["state"], r["duration"], r["max_source"]),
                         ("valid", 14400, "get_role"), r)
        log = s.sts.requests()
        assume = [e for e in log if e.get("op") == "AssumeRoleWithSAML"]
        self.assertTrue(assume)
        self.assertEqual({e["role_arn"] for e in assume}, {PATH_ARN})
        self.assertEqual({e["principal_arn"] for e in assume}, {PATH_PROVIDER})
        get_role = [e for e in log if e.get("op") == "GetRole"]
        self.assertEqual([(e["role_name"], e["status"]) for e in get_role], [("Name", 200)])

        env = self.ecs_env("Name")
        self.assertTrue(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].endswith("/role/Name"), env)
        out = s.boto3(env)
        self.assertEqual(out["Arn"],
                         f"arn:aws:sts::{PATH_ACCOUNT}:assumed-role/Name/alice@example.com")
        code, body, t = self.ecs("Name")
        self.assertEqual(code, 200, body)
        self.assertEqual(s.ctl("refresh", "Name").returncode, 0)
        self.assertEqual(self.role("Name")["max_source"], "get_role")
        self.stop_clean()


class TestStsTlsFaults(Scenario):
    """STS (and IAM, the same server) presents a certificate from another
    CA, then resets every TLS handshake; our control requests come from
    127.0.0.2, which the faults spare."""

    def tls_fault(self, knobs, clear, kind, cause, not_cause=None):
        s, sts = self.s, self.s.sts
        code, before, _ = self.ecs()
        self.assertEqual(code, 200)

        def faults():
            return control(sts, "stats", method="GET")["faults_injected"].get(kind, 0)
        control(sts, "config", knobs)
        control(sts, "disconnect")       # the daemon's kept-alive connection
        n0 = faults()
        p = s.ctl("refresh")
        failed_at = time.time()
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, out)
        self.assertRegex(out, cause)
        if not_cause:
            self.assertNotRegex(out, not_cause)
        n1 = faults()
        self.assertGreaterEqual(n1 - n0, 1, "the fault was not hit")
        self.assertLessEqual(n1 - n0, 3, "too many tries in one refresh")
        self.alive()
        prod = self.role()
        self.assertEqual(prod["state"], "valid", prod)
        self.assertRegex(prod["last_error"] or "", cause)
        code, served, t = self.ecs()
        self.assertEqual(code, 200, served)
        self.assertEqual(served["AccessKeyId"], before["AccessKeyId"])
        time.sleep(WINDOW)
        self.assertEqual(faults(), n1, "the daemon kept calling STS")
        # Measured from the failed refresh, not from now: a loaded machine
        # must not eat into it.
        self.assertGreaterEqual(epoch(self.role()["next_refresh"]) - failed_at,
                                MIN_BACKOFF - 1, "next_refresh is not backed off")

        control(sts, "config", clear)
        self.refreshed_since(before)

    def test_sts_tls_faults(self):
        self.s.adfs.configure(loop_detection=False)
        self.start()
        control(self.s.sts, "config", {"tls_exempt": [SPARED]})
        with self.subTest("certificate from another CA"):
            self.tls_fault({"tls_cert": other_ca_pem(self.s.tmp)}, {"tls_cert": None},
                           "tls_cert", r"STS request failed: .*aws\.ca_file")
        with self.subTest("TLS handshake reset"):
            self.tls_fault({"tls_reset_count": -1}, {"tls_reset_count": 0}, "tls_reset",
                           r"STS request failed: .*Connection reset by peer",
                           not_cause=r"ca_file")
        self.stop_clean()


class TestGetRoleFailing(Scenario):
    """dev may call GetRole (maximum 4 h). GetRole fails by itself: a 500,
    then Throttling; then the role is denied it, for contrast."""

    roles = [{"name": "dev", "arn": DEV_ARN}]

    def get_role_log(self):
        return [(e.get("status"), e.get("code") or e.get("fault"))
                for e in self.s.sts.requests() if e.get("op") == "GetRole"]

    def test_get_role_fails_not_denied(self):
        s = self.s
        s.adfs.configure(loop_detection=False)
        # First sign-in: GetRole answers 500 InternalFailure.
        s.sts.configure(fail_status=500, fail_count=-1, fault_ops=["GetRole"])
        self.start()
        dev = self.role()
        self.assertEqual(dev["state"], "valid", dev)
        self.assertNotIn(dev["max_source"], ("get_role", "probe"), dev)
        self.assertEqual(len(self.get_role_log()), 1, self.get_role_log())
        code, body, _ = self.ecs()
        self.assertEqual(code, 200, body)
        self.assertIn("trying again at the next refresh", s.log_text())

        # The next refresh asks GetRole again, and uses its answer.
        s.sts.configure(fail_count=0)
        p = s.ctl("refresh", "dev")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(len(self.get_role_log()), 2)
        dev = self.role()
        self.assertEqual((dev["duration"], dev["max_source"]), (4 * H, "get_role"), dev)

        # Throttled: the refresh still succeeds at the known 4 h, and the
        # role is not taken as denied (no probing).
        s.sts.configure(throttle_count=-1, fault_ops=["GetRole"])
        n = len([e for e in s.sts.requests() if e.get("op") == "AssumeRoleWithSAML"])
        p = s.ctl("refresh", "dev")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(len(self.get_role_log()), 3)
        self.assertGreaterEqual(s.sts.stats()["faults_injected"].get("throttle", 0), 1)
        dev = self.role()
        self.assertEqual((dev["state"], dev["duration"]), ("valid", 4 * H), dev)
        self.assertNotEqual(dev["max_source"], "probe", dev)
        durations = [int(e["duration_seconds"] or 3600) for e in s.sts.requests()
                     if e.get("op") == "AssumeRoleWithSAML"][n:]
        self.assertEqual(durations, [4 * H], "no probing after a throttled GetRole")
        s.sts.configure(throttle_count=0)
        self.assertEqual(s.ctl("refresh", "dev").returncode, 0)
        self.assertEqual(len(self.get_role_log()), 4, "GetRole asked again")
        self.assertEqual(self.role()["max_source"], "get_role")

        # For contrast, denied: the role is probed and GetRole not asked again.
        s.sts.configure(role_overrides={DEV_ARN: {"get_role": False}})
        self.assertEqual(s.ctl("refresh", "dev").returncode, 0)
        self.assertEqual(self.role()["max_source"], "probe")
        n_get = len(self.get_role_log())
        self.assertEqual(s.ctl("refresh", "dev").returncode, 0)
        self.assertEqual(len(self.get_role_log()), n_get, "GetRole asked after a denial")
        self.stop_clean()


if __name__ == "__main__":
    unittest.main()
