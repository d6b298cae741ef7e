"""Fault injection (issue 7): ADFS and STS misbehave after a good sign-in,
or during the very first one, through the emulators' fault knobs
(tests/emulators/README.md). For every fault, with the real daemon:
  - a real client (Debian's boto3 through `adfs-credctl env`, and the ECS
    endpoint with an expiry check) keeps getting valid credentials;
  - the failed refresh does not hammer the service: the emulator's counters
    show no new request over a window, and `next_refresh` is backed off;
  - `adfs-credctl status` (text and --json) names the cause in last_error;
  - once the fault clears, `adfs-credctl refresh` recovers and clears it;
  - the daemon never crashes and exits 0 on SIGTERM (no sanitizer report).
Real minutes are never slept: `adfs-credctl refresh` starts each cycle.
Credentials issued seconds before trivially have >= 20 min left, so
TestFaultsNearRefresh meets the same faults (timeouts included) at the
session's refresh point, by the timer, under tests/timewarp, where that
check can fail; the timer's backoff is checked try by try there and in
TestStsThrottledOnTimer.
The fault matrix and its results are in docs/internals/faults.md."""

import json
import os
import re
import subprocess
import time
import unittest

from harness import (DEV_ARN, EMU, PROD_ARN, Stack, StackChecks, clean_sdk_env, fetch,
                     preload, wait_until)
from test_long_job import WORLD, Warp, epoch
from test_refresh_timing import BACKOFF_MIN, assert_backoff_grows, try_starts

HANG = 3600        # simulated seconds a warped emulator hangs: 18 s real
WINDOW = 3.0        # seconds in which a backed-off daemon sends nothing
MIN_BACKOFF = 20    # the first backoff is 30 s jittered down to 3/4
MIN_LEFT = 20 * 60  # what every served credential must have left
# adfs.timeout for the fault classes: short, so that a hang costs little
# time; under valgrind (make check-valgrind) a TLS handshake alone can take
# seconds, so the timeout and the hang that outlasts it are longer there.
ADFS_TIMEOUT = 10 if os.environ.get("ADFS_CREDD_VALGRIND") == "1" else 2


SPARED = "127.0.0.2"  # our control requests come from here (tls_exempt)

# The cause daemon/idp/adfs.c gives for a page that is neither the login
# form nor a SAMLResponse (docs/internals/faults.md), not just any "ADFS".
GARBAGE_CAUSE = (r"unexpected page from ADFS at https://127\.0\.0\.1:\d+/\S*: expected the "
                 r"login form \(form#loginForm\) or a SAMLResponse")
GARBAGE_BODY = "<html><body><p>Welcome to <b>nothing<i></p>\x01\x02"


def control(emu, name, body=None, method="POST"):
    """An emulator control request sent from SPARED."""
    st, _, text = fetch(emu.url + "/_emulator/" + name, method,
                        {"Content-Type": "application/json"},
                        None if method == "GET" else json.dumps(body or {}),
                        context=emu.ctx, source=SPARED)
    out = json.loads(text)
    if st != 200:
        raise AssertionError("control %s: %s" % (name, out))
    return out


def other_ca_pem(tmp):
    """A server certificate + key from a CA the daemon does not trust."""
    d = os.path.join(tmp, "other-ca")
    subprocess.run(["sh", os.path.join(EMU, "mkcerts.sh"), d], check=True)
    return os.path.join(d, "server-full.pem")


class FaultBase(StackChecks, unittest.TestCase):
    roles = [{"name": "prod", "arn": PROD_ARN}]
    extra = {"adfs": {"timeout": "%ds" % ADFS_TIMEOUT}}
    world = None

    warp = None      # a test_long_job.Warp for timer-driven tests

    def setUp(self):
        self.s = Stack(config=dict({"roles": self.roles}, **self.extra), world=self.world,
                       emulator_env=self.warp.env() if self.warp else None)
        self.addCleanup(self.s.close)

    def start_and_login(self):
        # Refreshes follow each other faster than a person could ask for
        # them: ADFS's loop detection would answer MSIS7042.
        self.s.adfs.configure(loop_detection=False)
        self.s.start_daemon()
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())

    def role(self, name="prod"):
        return next(r for r in self.status()["roles"] if r["name"] == name)

    def alive(self):
        self.assertIsNone(self.s.daemon.poll(), "adfs-credd died:\n" + self.s.log_text())

    def check_served(self, role="prod", arn=PROD_ARN, boto=True):
        """The ECS endpoint serves credentials with >= 20 min left, the
        ones status shows; boto3 finds them and STS accepts them."""
        code, _, body = self.s.get("/role/" + role, token=self.s.token())
        self.assertEqual(code, 200, body)
        creds = json.loads(body)
        self.assertGreater(epoch(creds["Expiration"]), time.time() + MIN_LEFT, creds)
        self.assertEqual(creds["Expiration"], self.role(role)["expires"])
        if boto:
            out = self.s.boto3(self.ecs_env(role))
            self.assertEqual(out["AccessKeyId"], creds["AccessKeyId"])
            self.assertIn(arn.split("/")[-1], out["Arn"])
        return creds

    def faults(self, emu):
        return sum(emu.stats()["faults_injected"].values())

    def backed_off(self, emu, failed_at, counter=None):
        """Nothing reaches emu over WINDOW seconds and the next try was
        planned at least MIN_BACKOFF seconds after the failed refresh
        (failed_at: when `refresh` answered; measured from there, not from
        now, so a loaded machine does not eat into it)."""
        count = counter or (lambda: emu.stats()["requests"])
        n0 = count()
        time.sleep(WINDOW)
        self.assertEqual(count() - n0, 0, "the daemon kept calling %s" % emu.name)
        nxt = epoch(self.role()["next_refresh"])
        self.assertGreaterEqual(nxt - failed_at, MIN_BACKOFF - 1,
                                "next_refresh is not backed off")

    def fault_after_signin(self, emu, knobs, cause, clear, max_calls=3,
                           counter=None, boto=True):
        """One fault after a good sign-in: the refresh fails naming cause
        (a regex), the old credentials are served, the daemon backs off,
        and a refresh after clear recovers."""
        before = self.check_served(boto=False)
        if callable(knobs):
            knobs()
        else:
            emu.configure(**knobs)
        n0 = (counter or (lambda: emu.stats()["requests"]))()
        p = self.s.ctl("refresh")
        failed_at = time.time()
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertRegex(p.stdout + p.stderr, cause)
        n1 = (counter or (lambda: emu.stats()["requests"]))()
        self.assertGreaterEqual(n1 - n0, 1, "the fault was not hit")
        self.assertLessEqual(n1 - n0, max_calls, "too many calls in one refresh")
        self.alive()
        prod = self.role()
        self.assertEqual(prod["state"], "valid", prod)
        self.assertRegex(prod["last_error"] or "", cause)
        if os.environ.get("FAULTS_VERBOSE"):
            print("\n  last_error: %s (%d call(s) in the refresh)"
                  % (prod["last_error"], n1 - n0))
        text = self.s.ctl("status")
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertRegex(text.stdout, cause)
        served = self.check_served(boto=boto)
        self.assertEqual(served["AccessKeyId"], before["AccessKeyId"])
        self.backed_off(emu, failed_at, counter)
        self.alive()

        clear()
        p = self.s.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        prod = self.role()
        self.assertEqual(prod["state"], "valid", prod)
        self.assertIsNone(prod["last_error"])
        after = self.check_served(boto=False)
        self.assertNotEqual(after["AccessKeyId"], before["AccessKeyId"])
        return p


class TestAdfsFaults(FaultBase):
    """ADFS down (503), slow, hanging past adfs.timeout (2 s), a TLS reset,
    a certificate from another CA, garbage HTML; one daemon throughout."""

    def test_adfs_faults(self):
        self.start_and_login()
        adfs = self.s.adfs

        with self.subTest("503"):
            self.fault_after_signin(
                adfs, {"fail_status": 503, "fail_count": -1},
                r"ADFS.*(503|Service Unavailable)",
                lambda: adfs.configure(fail_count=0))

        with self.subTest("slow, under adfs.timeout"):
            before = self.check_served(boto=False)
            adfs.configure(delay=1.2, delay_count=-1)
            t0 = time.monotonic()
            p = self.s.ctl("refresh")
            took = time.monotonic() - t0
            adfs.configure(delay=0)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertGreaterEqual(took, 1.2)
            self.assertIsNone(self.role()["last_error"])
            self.assertNotEqual(self.check_served()["AccessKeyId"], before["AccessKeyId"])

        with self.subTest("hangs past adfs.timeout"):
            t0 = time.monotonic()
            self.fault_after_signin(
                adfs, {"hang_count": -1, "hang_seconds": 4 * ADFS_TIMEOUT},
                r"ADFS at \S+ did not answer within %ds" % ADFS_TIMEOUT,
                lambda: adfs.configure(hang_count=0))
            self.assertLess(time.monotonic() - t0, 15 * ADFS_TIMEOUT)

        with self.subTest("garbage HTML"):
            self.fault_after_signin(
                adfs, {"fail_status": 200, "fail_count": -1,
                       "fail_body": GARBAGE_BODY,
                       "fail_content_type": "text/html; charset=utf-8"},
                GARBAGE_CAUSE,
                lambda: adfs.configure(fail_count=0, fail_body=None, fail_content_type=""))

        # TLS faults hit our own control requests too: they come from
        # 127.0.0.2, which the emulator spares (tls_exempt).
        adfs.configure(tls_exempt=[SPARED])

        def tls_fault(knobs, cause, clear, kind):
            def on():
                adfs.configure(**knobs)
                control(adfs, "disconnect")   # the daemon's kept-alive connection
            self.fault_after_signin(
                adfs, on, cause, lambda: control(adfs, "config", clear),
                counter=lambda: control(adfs, "stats", method="GET")[
                    "faults_injected"].get(kind, 0))

        with self.subTest("certificate from another CA"):
            pem = other_ca_pem(self.s.tmp)
            tls_fault({"tls_cert": pem}, r"TLS to ADFS.*adfs\.ca_file", {"tls_cert": None},
                      "tls_cert")

        with self.subTest("TLS handshake reset"):
            tls_fault({"tls_reset_count": -1},
                      r"TLS handshake with ADFS at 127.0.0.1 failed \(.*Connection reset by peer\)",
                      {"tls_reset_count": 0}, "tls_reset")

        self.stop_clean()


STS_OPS = ["AssumeRoleWithSAML"]
STS_CASES = [
    ("503", {"fail_status": 503, "fail_count": -1},
     r"ServiceUnavailable|Service is unable"),
    ("Throttling", {"throttle_count": -1}, r"Throttling: Rate exceeded"),
    ("connection reset", {"reset_count": -1},
     r"STS request failed: .*Connection reset by peer"),
    ("truncated XML", {"truncate_count": -1},
     r"does not parse as AssumeRoleWithSAMLResponse \(Content-Type: text/xml"),
    ("oversized XML", {"fail_status": 200, "fail_count": -1,
                       "fail_body": "<AssumeRoleWithSAMLResponse>" + "<!-- pad -->" * 100,
                       "fail_body_repeat": 100, "fail_content_type": "text/xml"},
     r"the STS reply is larger than 65536 bytes"),
    ("wrong content type", {"fail_status": 200, "fail_count": -1,
                            "fail_body": "<html><body>Proxy sign-in</body></html>",
                            "fail_content_type": "text/html"},
     r"does not parse as AssumeRoleWithSAMLResponse \(Content-Type: text/html"),
]


def clear_sts(sts):
    sts.configure(fail_count=0, throttle_count=0, reset_count=0, truncate_count=0,
                  fail_body=None, fail_content_type="", fail_body_repeat=1)


class TestStsFaults(FaultBase):
    """STS (AssumeRoleWithSAML only, so the client's GetCallerIdentity still
    checks what is served): 503, Throttling, a connection reset, truncated
    XML, XML above the daemon's 64 KiB cap, a 200 that is not XML."""

    def test_sts_faults(self):
        self.start_and_login()
        sts = self.s.sts

        def clear():
            clear_sts(sts)

        for name, knobs, cause in STS_CASES:
            with self.subTest(name):
                self.fault_after_signin(sts, dict(knobs, fault_ops=STS_OPS), cause, clear)
        self.stop_clean()


class TestStsHang(FaultBase):
    """STS reads AssumeRoleWithSAML and never answers: the daemon gives up
    after its 30 s STS timeout (the one real wait of this module)."""

    def test_sts_hang(self):
        self.start_and_login()
        sts = self.s.sts
        t0 = time.monotonic()
        self.fault_after_signin(
            sts, {"hang_count": -1, "hang_seconds": 45, "fault_ops": ["AssumeRoleWithSAML"]},
            r"STS request failed: .*timed out",
            lambda: sts.configure(hang_count=0),
            counter=lambda: sts.stats()["faults_injected"].get("hang", 0))
        self.assertLess(time.monotonic() - t0, 60)
        self.stop_clean()


class WarpFaultBase(FaultBase):
    """A FaultBase under tests/timewarp at x200 (as in
    test_refresh_timing.py): the emulators and the daemon's wall clock run
    200 times faster, its monotonic clock 20 times (curl's timeouts: a
    30 s timeout is 1.5 s of real time)."""

    factor = 200
    world = WORLD
    extra = {}       # adfs.timeout 30 s

    def setUp(self):
        self.warp = Warp(self.factor)
        super().setUp()

    def start_warped(self):
        self.s.start_daemon(env=self.warp.env(self.s.daemon_bin, self.factor / 10))


class TestStsThrottledOnTimer(WarpFaultBase):
    """STS throttles every AssumeRoleWithSAML from just before prod's
    planned refresh, with no `refresh` command: the timer's retries back
    off (30 s, 1, 2, 4 min: 3 to 6 tries in 10 minutes, not one a second,
    each interval refresh_backoff's for its rank),
    and the first try after the throttling ends refreshes. Under
    time-warp."""

    def test_throttled_refresh_backs_off(self):
        warp = self.warp
        self.start_warped()
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        prod = self.role()
        planned, expires = epoch(prod["next_refresh"]), epoch(prod["expires"])

        warp.sleep_until(planned - 60)
        self.s.sts.configure(throttle_count=-1, fault_ops=["AssumeRoleWithSAML"])
        warp.sleep_until(planned + 10 * 60)
        tries = self.s.sts.stats()["faults_injected"].get("throttle", 0)
        self.assertGreaterEqual(tries, 3)
        self.assertLessEqual(tries, 6)
        # ... and they grow (30 s, 1, 2, 4 min, jittered down to 3/4, then
        # capped by a quarter of what prod has left), which a fixed
        # interval would not.
        throttled = [e for e in self.s.sts.requests() if e.get("fault") == "throttle"]
        assert_backoff_grows(self, try_starts(throttled), expires)
        prod = self.role()
        self.assertEqual(prod["state"], "valid")
        self.assertRegex(prod["last_error"] or "", r"Throttling: Rate exceeded")
        code, _, body = self.s.get("/role/prod", token=self.s.token())
        self.assertEqual(code, 200, body)
        self.assertGreater(epoch(json.loads(body)["Expiration"]), warp.now() + 5 * 60)

        self.s.sts.configure(throttle_count=0)
        warp.sleep_until(planned + 20 * 60)
        prod = self.role()
        self.assertIsNone(prod["last_error"], self.s.log_text())
        self.assertGreater(epoch(prod["expires"]), expires)
        self.stop_clean()


def max_tries(elapsed):
    """How many tries refresh_backoff allows within elapsed seconds of the
    first: every backoff at its shortest, 3/4 of 30 s x 2^(n-1), capped by
    a quarter of what the credentials served have left (>= 20 min here)."""
    n, t = 1, 0.0
    while True:
        t += 0.75 * min(BACKOFF_MIN * 2 ** (n - 1), MIN_LEFT / 4)
        if t > elapsed + 1:
            return n
        n += 1


class TestFaultsNearRefresh(WarpFaultBase):
    """The faults of TestAdfsFaults, TestStsFaults and TestStsHang, each
    met by prod's planned refresh (the timer's, no `refresh` command) when
    its 1 h session is at its refresh point (30-35 min left), under
    time-warp. So what is served during the fault is an aged session,
    which must still have >= 20 min (not credentials issued seconds
    before); the cause is in status; the tries so far fit the backoff; and
    the timer's next try after the fault clears refreshes, without a
    command. A slow ADFS (under adfs.timeout) delays that refresh without
    failing it."""

    def served(self):
        """prod's credentials from the ECS endpoint and the (simulated)
        seconds they have left."""
        code, _, body = self.s.get("/role/prod", token=self.s.token())
        self.assertEqual(code, 200, body)
        creds = json.loads(body)
        return creds, epoch(creds["Expiration"]) - self.warp.now()

    def fault_at_refresh_point(self, emu, on, cause, clear, counter=None, max_calls=3):
        warp = self.warp
        count = counter or (lambda: emu.stats()["requests"])
        prod = self.role()
        planned, expires = epoch(prod["next_refresh"]), epoch(prod["expires"])
        self.assertLessEqual(expires - planned, 35 * 60 + 1, prod)
        before, _ = self.served()

        warp.sleep_until(planned - 60)
        on()
        n0 = count()
        warp.sleep_until(planned)
        self.assertTrue(wait_until(lambda: count() > n0, 30),
                        "prod's planned refresh did not meet the fault")
        # A hang fails only when the daemon's timeout ends the try.
        wait_until(lambda: re.search(cause, self.role()["last_error"] or ""), 30)
        creds, left = self.served()
        prod = self.role()
        elapsed, n1 = warp.now() - planned, count()
        if os.environ.get("FAULTS_VERBOSE"):
            print("\n  %.0f s after the plan: %d call(s), %.1f min left, last_error: %s"
                  % (elapsed, n1 - n0, left / 60, prod["last_error"]))
        # The aged session is served, with what a client needs left.
        self.assertEqual(creds["AccessKeyId"], before["AccessKeyId"])
        self.assertEqual(creds["Expiration"], prod["expires"])
        self.assertGreaterEqual(left, MIN_LEFT, creds)
        self.assertLessEqual(left, 35 * 60 + 1, "not near the refresh point")
        # Valid, or valid with the timer's next try running.
        self.assertIn(prod["state"], ("valid", "refreshing"), prod)
        self.assertRegex(prod["last_error"] or "", cause)
        text = self.s.ctl("status")
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertRegex(text.stdout, cause)
        # Backed off, not hammering.
        self.assertLessEqual(n1 - n0, max_calls * max_tries(elapsed),
                             "%d calls in %.0f s" % (n1 - n0, elapsed))
        self.assertGreaterEqual(epoch(prod["next_refresh"]), planned + 0.75 * BACKOFF_MIN - 1,
                                "next_refresh is not backed off")
        self.alive()

        clear()

        def refreshed():
            r = self.role()
            return r["last_error"] is None and epoch(r["expires"]) > expires

        self.assertTrue(wait_until(refreshed, 60), self.s.log_text()[-3000:])
        after, left = self.served()
        self.assertNotEqual(after["AccessKeyId"], before["AccessKeyId"])
        self.assertGreater(left, 55 * 60, after)

    def slow_at_refresh_point(self, emu, delay):
        """emu answers delay (simulated) seconds late, under the daemon's
        timeout: prod's planned refresh waits and succeeds, nothing failed."""
        warp = self.warp
        prod = self.role()
        planned, expires = epoch(prod["next_refresh"]), epoch(prod["expires"])
        before, _ = self.served()
        warp.sleep_until(planned - 60)
        emu.configure(delay=delay, delay_count=-1)
        n0 = emu.stats()["faults_injected"].get("delay", 0)

        def refreshed():
            r = self.role()
            return epoch(r["expires"]) > expires

        self.assertTrue(wait_until(refreshed, 60), self.s.log_text()[-3000:])
        emu.configure(delay=0)
        self.assertGreater(emu.stats()["faults_injected"].get("delay", 0), n0,
                           "the refresh did not meet the delay")
        prod = self.role()
        self.assertIsNone(prod["last_error"], prod)
        after, left = self.served()
        self.assertNotEqual(after["AccessKeyId"], before["AccessKeyId"])
        self.assertGreater(left, 55 * 60, after)

    def test_faults_at_refresh_point(self):
        self.s.adfs.configure(loop_detection=False, sso_lifetime=24 * 3600)
        self.start_warped()
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        adfs, sts = self.s.adfs, self.s.sts

        with self.subTest("ADFS 503"):
            self.fault_at_refresh_point(
                adfs, lambda: adfs.configure(fail_status=503, fail_count=-1),
                r"ADFS.*(503|Service Unavailable)", lambda: adfs.configure(fail_count=0))
        with self.subTest("ADFS garbage HTML"):
            self.fault_at_refresh_point(
                adfs, lambda: adfs.configure(fail_status=200, fail_count=-1,
                                             fail_body=GARBAGE_BODY,
                                             fail_content_type="text/html; charset=utf-8"),
                GARBAGE_CAUSE,
                lambda: adfs.configure(fail_count=0, fail_body=None, fail_content_type=""))

        adfs.configure(tls_exempt=[SPARED])

        def tls_fault(knobs, cause, clear, kind):
            def on():
                control(adfs, "config", knobs)
                control(adfs, "disconnect")
            self.fault_at_refresh_point(
                adfs, on, cause, lambda: control(adfs, "config", clear),
                counter=lambda: control(adfs, "stats", method="GET")[
                    "faults_injected"].get(kind, 0))

        with self.subTest("ADFS certificate from another CA"):
            tls_fault({"tls_cert": other_ca_pem(self.s.tmp)}, r"TLS to ADFS.*adfs\.ca_file",
                      {"tls_cert": None}, "tls_cert")
        with self.subTest("ADFS TLS handshake reset"):
            tls_fault({"tls_reset_count": -1},
                      r"TLS handshake with ADFS at 127.0.0.1 failed \(.*Connection reset by peer\)",
                      {"tls_reset_count": 0}, "tls_reset")

        for name, knobs, cause in STS_CASES:
            with self.subTest("STS " + name):
                self.fault_at_refresh_point(
                    sts, lambda: sts.configure(**dict(knobs, fault_ops=STS_OPS)), cause,
                    lambda: clear_sts(sts))

        # The timeouts: the daemon's are 30 s (adfs.timeout and STS's),
        # 1.5 s of real time; the emulators sleep in simulated time.
        def hangs(emu):
            return lambda: emu.stats()["faults_injected"].get("hang", 0)

        with self.subTest("ADFS slow, under adfs.timeout"):
            self.slow_at_refresh_point(adfs, 100)   # 10 s for the daemon
        with self.subTest("ADFS hangs past adfs.timeout"):
            self.fault_at_refresh_point(
                adfs, lambda: adfs.configure(hang_count=-1, hang_seconds=HANG),
                r"ADFS at \S+ did not answer within 30s",
                lambda: adfs.configure(hang_count=0), counter=hangs(adfs), max_calls=1)
        with self.subTest("STS hangs past its timeout"):
            self.fault_at_refresh_point(
                sts, lambda: sts.configure(hang_count=-1, hang_seconds=HANG,
                                           fault_ops=STS_OPS),
                r"STS request failed: .*timed out",
                lambda: sts.configure(hang_count=0), counter=hangs(sts), max_calls=1)
        self.stop_clean()


class TestFirstSignInFaults(FaultBase):
    """A fault during the very first sign-in: `login` says what went wrong,
    the daemon keeps running with nothing lost, and a second try works."""

    def test_adfs_down_at_first_login(self):
        self.s.start_daemon()
        self.s.adfs.configure(fail_status=503, fail_count=-1)
        p = self.s.login()
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stdout + p.stderr, r"ADFS.*(503|Service Unavailable)")
        st = self.status()
        self.assertFalse(st["signed_in"])
        self.assertRegex(st["error"] or "", r"503|Service Unavailable")
        self.assertRegex(self.s.ctl("status").stdout, r"not signed in .*ADFS answered HTTP 503")
        code, _, body = self.s.get("/role/prod", token=self.s.token())
        self.assertEqual((code, json.loads(body)["Code"]), (503, "NotSignedIn"))
        self.assertEqual(self.s.adfs.stats()["password_posts"], 0)
        token = self.s.token()
        self.backed_off_signed_out(self.s.adfs)

        self.s.adfs.configure(fail_count=0)
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.s.token(), token)
        self.assertEqual(self.s.adfs.stats()["password_posts"], 1)
        self.assertIsNone(self.status()["error"])
        self.check_served()
        self.stop_clean()

    def test_sts_throttled_at_first_login(self):
        self.s.start_daemon()
        self.s.sts.configure(throttle_count=-1, fault_ops=["AssumeRoleWithSAML"])
        p = self.s.login()
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stdout + p.stderr, r"Throttling: Rate exceeded")
        prod = self.role()
        self.assertRegex(prod["last_error"] or "", r"Throttling: Rate exceeded")
        self.assertRegex(self.s.ctl("status").stdout, r"prod .*Throttling: Rate exceeded")
        n = self.s.sts.stats()["assume_calls"]
        time.sleep(WINDOW)
        self.assertEqual(self.s.sts.stats()["assume_calls"], n, "the daemon kept calling STS")
        # The ADFS sign-in is kept: a refresh needs no password.
        self.s.sts.configure(throttle_count=0)
        p = self.s.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIsNone(self.role()["last_error"])
        self.assertEqual(self.s.adfs.stats()["password_posts"], 1)
        self.check_served()
        self.stop_clean()

    def backed_off_signed_out(self, emu):
        n = emu.stats()["requests"]
        time.sleep(WINDOW)
        self.assertEqual(emu.stats()["requests"], n, "the daemon kept calling %s" % emu.name)


class TestUnresolvableHosts(FaultBase):
    """ADFS or STS under a name that does not resolve (RFC 6761 .invalid):
    the identity of the saved state includes both URLs, so this is a
    first sign-in, not a reload of a running one."""

    def test_adfs_unresolvable(self):
        self.s.write_config({"roles": self.roles,
                             "adfs": {"url": "https://adfs.fault.invalid:%d" % self.s.adfs.port}})
        self.s.start_daemon()
        p = self.s.login()
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stdout + p.stderr, r"(?i)resolve.*adfs\.fault\.invalid")
        st = self.status()
        self.assertFalse(st["signed_in"])
        self.assertRegex(st["error"] or "", r"(?i)resolve")
        self.assertRegex(self.s.ctl("status").stdout, r"Could not resolve host: adfs\.fault\.invalid")
        self.alive()
        self.stop_clean()

    def test_sts_unresolvable(self):
        self.s.write_config({"roles": self.roles,
                             "aws": {"sts_endpoint": "https://sts.fault.invalid:%d" % self.s.sts.port}})
        self.s.start_daemon()
        p = self.s.login()
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stdout + p.stderr, r"(?i)resolve.*sts\.fault\.invalid")
        prod = self.role()
        self.assertNotEqual(prod["state"], "valid")
        self.assertRegex(prod["last_error"] or "", r"(?i)resolve")
        self.assertRegex(self.s.ctl("status").stdout, r"Could not resolve host: sts\.fault\.invalid")
        self.assertEqual(self.s.adfs.stats()["password_posts"], 1)
        self.alive()
        self.stop_clean()


class TestDnsOutage(FaultBase):
    """DNS goes away after a good sign-in (a laptop restarted on a network
    without the company's resolver): the daemon, started again on its saved
    state, cannot resolve ADFS, then STS. tests/resolvfault is a hosts file
    for getaddrinfo() that can make a name fail; the daemon reaches the
    emulators as adfs.test and sts.test (both in the test certificate).
    The outage starts while the daemon is stopped because libcurl caches a
    lookup for 60 s and keeps connections open: a running daemon would not
    ask the resolver again within a test's time."""

    def setUp(self):
        super().setUp()
        self.lib = os.path.join(self.s.build, "tests", "libresolvfault.so")
        self.assertTrue(os.path.exists(self.lib), self.lib + " is not built")
        self.hosts = os.path.join(self.s.tmp, "hosts")
        self.resolve(adfs=True, sts=True)
        self.s.write_config({
            "roles": self.roles, "adfs": {"url": "https://adfs.test:%d" % self.s.adfs.port},
            "aws": {"sts_endpoint": "https://sts.test:%d" % self.s.sts.port,
                    "iam_endpoint": "https://sts.test:%d" % self.s.sts.port}})

    def resolve(self, adfs, sts):
        with open(self.hosts, "w") as f:
            f.write("adfs.test %s\n" % ("127.0.0.1" if adfs else "-"))
            f.write("sts.test %s\n" % ("127.0.0.1" if sts else "-"))

    def refusals(self, name):
        try:
            with open(self.hosts + ".log") as f:
                return sum(1 for line in f if line.strip() == name)
        except FileNotFoundError:
            return 0

    def start(self):
        self.s.start_daemon(env={"LD_PRELOAD": preload(self.s.daemon_bin, self.lib),
                                 "RESOLVFAULT_HOSTS": self.hosts})

    def restart_without(self, adfs, sts):
        rc = self.s.stop_daemon()
        self.assertEqual(rc, 0, self.s.log_text())
        self.resolve(adfs=not adfs, sts=not sts)
        self.start()

    def test_dns_outage(self):
        self.s.adfs.configure(loop_detection=False)
        self.start()
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        self.assertEqual(self.refusals("adfs.test") + self.refusals("sts.test"), 0)

        with self.subTest("ADFS does not resolve"):
            self.fault_after_signin(
                self.s.adfs, lambda: self.restart_without(adfs=True, sts=False),
                r"(?i)resolve host: adfs\.test",
                lambda: self.resolve(adfs=True, sts=True),
                counter=lambda: self.refusals("adfs.test"))
        with self.subTest("STS does not resolve"):
            self.fault_after_signin(
                self.s.sts, lambda: self.restart_without(adfs=False, sts=True),
                r"(?i)resolve host: sts\.test",
                lambda: self.resolve(adfs=True, sts=True),
                counter=lambda: self.refusals("sts.test"))
        self.assertEqual(self.s.adfs.stats()["password_posts"], 1)
        self.stop_clean()


class TestClockSkew(FaultBase):
    """ADFS and STS 3 hours ahead of, then behind, the daemon's clock (the
    machine's clock is off): expiries, plans and what is served follow the
    local clock; GetRole's SigV4 date follows STS's."""

    roles = [{"name": "dev", "arn": DEV_ARN}, {"name": "prod", "arn": PROD_ARN}]
    world = WORLD    # dev: GetRole allowed, 4 h; prod: probed, 1 h

    def check_skew(self, offset):
        for emu in (self.s.adfs, self.s.sts):
            emu.configure(time_offset=offset)
        self.s.start_daemon()
        t0 = time.time()
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        for name, arn, duration, source in (("dev", DEV_ARN, 14400, "get_role"),
                                            ("prod", PROD_ARN, 3600, "probe")):
            r = self.role(name)
            self.assertEqual((r["state"], r["last_error"]), ("valid", None), r)
            self.assertEqual((r["duration"], r["max_source"]), (duration, source), r)
            exp, nxt = epoch(r["expires"]), epoch(r["next_refresh"])
            # Local clock: the session ends `duration` from now, not 3 h off.
            self.assertAlmostEqual(exp, t0 + duration, delta=60)
            lead = min(30 * 60, duration / 2)
            self.assertLessEqual(nxt, exp - lead + 1)
            self.assertGreaterEqual(nxt, exp - lead - 5 * 60 - 1)
            code, _, body = self.s.get("/role/" + name, token=self.s.token())
            self.assertEqual(code, 200, body)
            self.assertEqual(json.loads(body)["Expiration"], r["expires"])
        # boto3 signs with the local clock: STS would refuse it 3 h off.
        # What it checks is the expiry it reads from the endpoint.
        env = self.ecs_env("prod")
        p = subprocess.run(
            ["/usr/bin/python3", "-c",
             "import boto3,json;c=boto3.session.Session().get_credentials();"
             "print(json.dumps([c.get_frozen_credentials().access_key,"
             "c._expiry_time.timestamp()]))"],
            env=clean_sdk_env(env), capture_output=True, text=True,
            timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        _, expiry = json.loads(p.stdout)
        self.assertAlmostEqual(expiry, t0 + 3600, delta=60)
        p = self.s.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIsNone(self.role("prod")["last_error"])
        self.stop_clean()

    def test_world_ahead(self):
        self.check_skew(3 * 3600)

    def test_world_behind(self):
        self.check_skew(-3 * 3600)


if __name__ == "__main__":
    unittest.main()
