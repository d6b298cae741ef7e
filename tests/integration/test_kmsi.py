"""Keep me signed in (issue 16, item 4): a 20-hour job with one login and
no remembered password, under accelerated time (tests/timewarp, as in
test_long_job.py).

ADFS (the emulator) has EnableKmsi and KmsiLifetimeMins 1440 (1 day) and
a WebSsoLifetime of 8 h. The daemon has adfs.password: prompt,
adfs.remember_password: false, so after the login it holds no password;
the role's sessions last 1 h, so it renews about every half hour, each
time with a cookie round.

- keep_me_signed_in: true: the login form is posted with Kmsi=true, the
  MSISAuth cookie is persistent (an expiry a day after the login) and is
  saved with that expiry in state.json (0600). The role is served valid
  credentials for all 20 simulated hours, across a daemon restart at
  10 h, and ADFS sees exactly one password post. The SSO ends a day
  after the login (KmsiLifetimeMins), not before.
- keep_me_signed_in: false (the control): the cookie is a session cookie
  (expiry 0 in state.json), the SSO ends at 8 h and the daemon is
  not_signed_in; the role stops being served about an hour later.

Environment: KMSI_FACTOR (default 400), KMSI_KEEP=1 keeps the logs."""

import json
import os
import stat
import sys
import unittest

from harness import DEV_ARN, EMU, Stack, wait_until, status_exit
from test_long_job import Warp, epoch

FACTOR = float(os.environ.get("KMSI_FACTOR", "400"))
H, M = 3600, 60
JOB = 20 * H
SSO_LIFETIME = 8 * H
KMSI_MINS = 1440
SAMPLE = 10 * M        # the job looks at its credentials this often
MIN_LEFT = 10 * M      # ... and wants at least this much left on them
RESTART_AT = 10 * H


def kmsi_world():
    with open(os.path.join(EMU, "world.example.json")) as f:
        w = json.load(f)
    adfs = w["adfs"]
    # AD FS's own names for the farm settings (Set-AdfsProperties).
    adfs.pop("kmsi_enabled", None)
    adfs.pop("kmsi_lifetime", None)
    adfs.update({"EnableKmsi": True, "KmsiLifetimeMins": KMSI_MINS,
                 "sso_lifetime": SSO_LIFETIME})
    roles = w["roles"]
    roles[DEV_ARN]["max_session_duration"] = 3600
    return {"adfs": adfs, "roles": roles}


class KmsiJob(unittest.TestCase):
    def log(self, msg):
        print(f"[{(self.warp.now() - self.t0) / H:6.2f} h] {msg}", file=sys.stderr, flush=True)

    def start(self, kmsi):
        self.warp = Warp(FACTOR)
        self.s = s = Stack(
            config={"adfs": {"password": "prompt", "remember_password": False,
                             "keep_me_signed_in": kmsi},
                    "roles": [{"name": "dev", "arn": DEV_ARN}]},
            world=kmsi_world(), emulator_env=self.warp.env(),
            keep=os.environ.get("KMSI_KEEP") == "1")
        if s.keep:
            print(f"logs in {s.tmp}", file=sys.stderr)
        self.addCleanup(s.close)
        self.start_daemon()
        self.t0 = self.warp.now()
        p = s.login()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + s.log_text())
        self.login_at = self.warp.now()

    def start_daemon(self):
        self.s.start_daemon(env=self.warp.env(self.s.daemon_bin, FACTOR / 10))

    def status(self):
        p = self.s.ctl("status", "--json")
        self.assertEqual(p.returncode, status_exit(json.loads(p.stdout)), p.stderr)
        return json.loads(p.stdout)

    def served_left(self):
        """Seconds left on what the endpoint serves for dev, or None."""
        code, _, body = self.s.get("/role/dev", token=self.s.token())
        if code != 200:
            return None
        return epoch(json.loads(body)["Expiration"]) - self.warp.now()

    def saved_auth_cookie(self):
        """state.json's MSISAuth line as fields, after checking the file's
        mode. The line is the Netscape cookie-file format: domain,
        tailmatch, path, secure, expiry, name, value."""
        path = os.path.join(self.s.state_dir, "state.json")
        self.assertTrue(wait_until(lambda: os.path.exists(path), 10), "no state.json")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            cookies = json.load(f)["cookies"]
        lines = [c.split("\t") for c in cookies]
        auth = [f for f in lines if len(f) == 7 and f[5] == "MSISAuth"]
        self.assertEqual(len(auth), 1, cookies and [f[:6] for f in lines])
        return auth[0]

    def until_state(self, state, until):
        """Waits, in simulated time up to until, for the sign-in state."""
        while self.warp.now() < until:
            st = self.status()
            if st["state"] == state:
                return st
            self.warp.sleep_until(self.warp.now() + 5 * M)
        self.fail(f"not {state}: {self.status()}")

    def run_job(self, restart_at=None, stop_at_first_gap=False):
        """Samples the endpoint every SAMPLE until JOB. Returns the first
        simulated time (since login) it served nothing or too little, or
        None."""
        t = self.login_at + SAMPLE
        restarted = restart_at is None
        while t <= self.login_at + JOB:
            self.warp.sleep_until(t)
            if not restarted and t - self.login_at >= restart_at:
                self.s.stop_daemon()
                self.log("daemon stopped; starting it again")
                self.start_daemon()
                restarted = True
            left = self.served_left()
            if left is None or left < MIN_LEFT:
                self.log(f"served: {left}")
                if stop_at_first_gap:
                    return t - self.login_at
                self.fail(f"at {(t - self.login_at) / H:.2f} h the role was not served "
                          f"(left: {left}); status {self.status()}\n" + self.s.log_text()[-4000:])
            t += SAMPLE
        return None


class TestKmsiJob(KmsiJob):
    def test_20_hours_one_login(self):
        self.start(kmsi=True)
        s = self.s
        cookie = self.saved_auth_cookie()
        # A persistent cookie: it expires KmsiLifetimeMins after the login.
        expiry = int(cookie[4])
        self.assertAlmostEqual(expiry, self.login_at + KMSI_MINS * 60, delta=600)
        self.log("signed in; MSISAuth persistent until +%.2f h" % ((expiry - self.login_at) / H))

        gap = self.run_job(restart_at=RESTART_AT)
        self.assertIsNone(gap)
        st = self.status()
        self.assertEqual(st["state"], "signed_in", st)
        a = s.adfs.stats()
        self.log(f"ADFS: {a['password_posts']} password post(s), "
                 f"{a['cookie_rounds']} cookie rounds")
        self.assertEqual(a["password_posts"], 1, a)
        self.assertEqual(a["login_page_gets"], 1, a)
        # Renewed all along: 1 h sessions, a cookie round about every 30 min.
        self.assertGreaterEqual(a["cookie_rounds"], 30, a)
        log = s.log_text()
        self.assertIn("Restored the saved state", log)
        # The restarted daemon still holds the same persistent cookie.
        self.assertEqual(int(self.saved_auth_cookie()[4]), expiry)

        # ... which ends KmsiLifetimeMins after the login, as AD FS's does:
        # the first renewal after that needs the password.
        st = self.until_state("not_signed_in", expiry + H)
        self.log("SSO over: " + st["error"])
        self.assertGreater(self.warp.now(), expiry)
        self.assertRegex(st["error"], "single sign-on session ended")
        self.assertEqual(s.adfs.stats()["password_posts"], 1)


class TestSessionCookieJob(KmsiJob):
    """The control: without keep_me_signed_in the same job ends with the
    SSO, after 8 h, as the renewal then needs the password."""

    def test_sso_ends_without_kmsi(self):
        self.start(kmsi=False)
        cookie = self.saved_auth_cookie()
        self.assertEqual(cookie[4], "0", cookie[:5])
        gap = self.run_job(stop_at_first_gap=True)
        self.assertIsNotNone(gap, "served for 20 h without Keep me signed in?")
        self.assertGreater(gap, SSO_LIFETIME)
        self.assertLess(gap, SSO_LIFETIME + 2 * H)
        st = self.status()
        self.assertEqual(st["state"], "not_signed_in", st)
        self.assertRegex(st["error"] or "", "single sign-on session ended")
        a = self.s.adfs.stats()
        self.assertEqual(a["password_posts"], 1, a)
        self.assertGreaterEqual(a["sso_expired"] + a["login_page_gets"], 2, a)


if __name__ == "__main__":
    unittest.main()
