"""A second factor at renewal, with nobody at a terminal (issue 16, item
5), under accelerated time (tests/timewarp, x200, as in test_faults.py).

The daemon holds the password (adfs.remember_password: true); ADFS's SSO
lasts 20 minutes, the role's sessions 1 h, so the timer's first renewal
(about 25-30 minutes after the login) finds the SSO over, posts the
password, and ADFS asks for the second factor:

- mfa_on_renewal: notify (the default; bob, a code): the renewal ends
  not_signed_in, the user is told once (ALERT_MFA_RENEWAL, in the log
  while the session bus is not there), no code is posted and no further
  round sends the password; `adfs-credctl login --password-stdin` then
  reads only the code (the daemon posts the password it holds once more).
- mfa_on_renewal: push (carol, Azure MFA push with number matching): the
  daemon waits on the push by itself, the alert carries the number, and
  an approval renews the role with nobody at the CLI. A denied push ends
  not_signed_in, and neither the timer nor refreshes start a second push
  (push fatigue) until `adfs-credctl login`."""

import json
import os
import sys
import unittest

from harness import DEV_ARN, EMU, Stack, StackChecks, wait_until
from test_long_job import Warp, epoch

FACTOR = 200
H, M = 3600, 60
SSO = 20 * M
BOB, BOB_PASSWORD, BOB_CODE = "EXAMPLE\\bob", "Battery-Staple-2", "123456"
CAROL, CAROL_PASSWORD = "EXAMPLE\\carol", "Push-Me-3"
ROLES = ["arn:aws:iam::111122223333:role/ADFS-Dev,arn:aws:iam::111122223333:saml-provider/ADFS"]
ALERT = "adfs-credd: second factor needed"


def world():
    with open(os.path.join(EMU, "world.example.json")) as f:
        w = json.load(f)
    w["roles"][DEV_ARN]["max_session_duration"] = 3600
    w["adfs"]["sso_lifetime"] = SSO
    w["users"].append(
        {"username": CAROL, "password": CAROL_PASSWORD, "roles": ROLES,
         "mfa": {"type": "push", "auth_method": "AzureMfaAuthentication", "number": "42",
                 "approve_after_polls": 2, "deny": False}})
    return {"roles": w["roles"], "adfs": w["adfs"], "users": w["users"]}


class RenewalBase(StackChecks, unittest.TestCase):
    user = BOB
    mode = "notify"

    def setUp(self):
        self.warp = Warp(FACTOR)
        self.s = Stack(config={"adfs": {"username": self.user, "remember_password": True,
                                        "mfa_on_renewal": self.mode},
                               "roles": [{"name": "dev", "arn": DEV_ARN}]},
                       world=world(), emulator_env=self.warp.env())
        self.addCleanup(self.s.close)
        self.s.start_daemon(env=self.warp.env(self.s.daemon_bin, FACTOR / 10))

    def log(self, msg):
        print(f"[{(self.warp.now() - self.t0) / M:7.1f} min] {msg}", file=sys.stderr, flush=True)

    def login(self, stdin, expect_ok=True):
        p = self.s.ctl("login", "--password-stdin", input=stdin, timeout=120)
        if expect_ok:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        return p

    def until_state(self, state, sim_seconds):
        """Waits (in simulated time) until the sign-in state is state."""
        deadline = self.warp.now() + sim_seconds
        while self.warp.now() < deadline:
            st = self.status()
            if st["state"] == state:
                return st
            self.warp.sleep_until(self.warp.now() + 30)
        self.fail(f"not {state} after {sim_seconds / M:.0f} simulated minutes: "
                  f"{self.status()}\n" + self.s.log_text()[-4000:])

    def alerts(self):
        return self.s.log_text().count(ALERT)

    def dev_expires(self):
        return epoch(self.status()["roles"][0]["expires"])


class TestNotify(RenewalBase):
    def test_notify_then_login_asks_only_the_code(self):
        s = self.s
        self.t0 = self.warp.now()
        self.login(BOB_PASSWORD + "\n" + BOB_CODE + "\n")
        a = s.adfs.stats()
        self.assertEqual((a["password_posts"], a["mfa_posts"]), (1, 1), a)

        st = self.until_state("not_signed_in", 50 * M)
        self.log("renewal stopped at the second factor")
        self.assertRegex(st["error"], "second factor")
        self.assertRegex(st["error"], "adfs-credctl login")
        self.assertIs(st["password_held"], True, st)
        a = s.adfs.stats()
        # The renewal posted the held password, met the code page, and
        # posted no code.
        self.assertEqual(a["password_posts"], 2, a)
        self.assertEqual(a["mfa_prompts"], 2, a)
        self.assertEqual(a["mfa_posts"], 1, a)
        self.assertEqual(self.alerts(), 1, s.log_text())
        self.assertRegex(s.log_text(), ALERT + r": .*Run 'adfs-credctl login'")

        # An hour later, and after two refreshes: no password posted again,
        # ADFS asked nothing more, the user was told once.
        self.warp.sleep_until(self.warp.now() + H)
        for _ in range(2):
            s.ctl("refresh")
        a = s.adfs.stats()
        self.assertEqual((a["password_posts"], a["mfa_prompts"], a["mfa_posts"]), (2, 2, 1), a)
        self.assertEqual(self.alerts(), 1)
        self.assertEqual(self.status()["state"], "not_signed_in")

        # login reads only the code: the first line of stdin.
        p = self.login(BOB_CODE + "\n")
        self.assertIn("only the second factor", p.stderr)
        a = s.adfs.stats()
        # The daemon posted the password it holds, once; then the code.
        self.assertEqual((a["password_posts"], a["password_failures"]), (3, 0), a)
        self.assertEqual((a["mfa_posts"], a["mfa_successes"]), (2, 2), a)
        st = self.status()
        self.assertEqual(st["state"], "signed_in", st)
        code, _, body = s.get("/role/dev", token=s.token())
        self.assertEqual(code, 200, body)
        log = self.stop_clean()
        self.assertNotIn(BOB_PASSWORD, log)
        self.assertNotIn(BOB_CODE, log)


class TestPushApproved(RenewalBase):
    user = CAROL
    mode = "push"

    def test_push_renews_with_nobody_at_the_cli(self):
        s = self.s
        self.t0 = self.warp.now()
        self.login(CAROL_PASSWORD + "\n")
        first = self.dev_expires()
        a = s.adfs.stats()
        self.assertEqual((a["mfa_prompts"], a["mfa_successes"]), (1, 1), a)

        # The renewal: password, push page, polls until approved.
        self.assertTrue(wait_until(lambda: s.adfs.stats()["mfa_successes"] == 2, 60),
                        f"{s.adfs.stats()}\n" + s.log_text()[-4000:])
        self.assertTrue(wait_until(lambda: self.dev_expires() > first + 10 * M, 30))
        self.log("renewed through the push")
        st = self.status()
        self.assertEqual(st["state"], "signed_in", st)
        a = s.adfs.stats()
        self.assertEqual((a["password_posts"], a["mfa_prompts"], a["mfa_failures"]), (2, 2, 0), a)
        self.assertEqual(self.alerts(), 1, s.log_text())
        self.assertRegex(s.log_text(), ALERT + r": Approve the sign-in on your phone; number 42")
        code, _, body = s.get("/role/dev", token=s.token())
        self.assertEqual(code, 200, body)
        self.assertNotIn(CAROL_PASSWORD, self.stop_clean())


class TestPushDenied(RenewalBase):
    user = CAROL
    mode = "push"

    def test_one_push_per_window(self):
        s = self.s
        self.t0 = self.warp.now()
        self.login(CAROL_PASSWORD + "\n")
        # From now on, carol denies.
        s.adfs.configure(user_overrides={CAROL: {"mfa": {
            "type": "push", "auth_method": "AzureMfaAuthentication", "number": "42",
            "approve_after_polls": 2, "deny": True}}})

        st = self.until_state("not_signed_in", 50 * M)
        self.log("the renewal's push was denied")
        self.assertRegex(st["error"], "not approved")
        self.assertRegex(st["error"], "The request was denied")
        a = s.adfs.stats()
        self.assertEqual((a["password_posts"], a["mfa_prompts"], a["mfa_failures"]), (2, 2, 1), a)
        polls = a["mfa_polls"]

        # Two more hours (four renewal periods of the 1 h role) and two
        # refreshes: no second push, not even the password that brings one.
        self.warp.sleep_until(self.warp.now() + 2 * H)
        for _ in range(2):
            s.ctl("refresh")
        a = s.adfs.stats()
        self.assertEqual((a["password_posts"], a["mfa_prompts"], a["mfa_polls"]),
                         (2, 2, polls), a)
        self.assertEqual(self.status()["state"], "not_signed_in")
        self.assertEqual(self.alerts(), 1)

        # The user approves this time: login needs no password.
        s.adfs.configure(user_overrides={CAROL: None})
        p = self.login("")
        self.assertIn("42", p.stdout)
        a = s.adfs.stats()
        self.assertEqual((a["password_posts"], a["mfa_prompts"], a["mfa_successes"]), (3, 3, 2), a)
        self.assertEqual(self.status()["state"], "signed_in")
        self.assertNotIn(CAROL_PASSWORD, self.stop_clean())


class TestPushOtpPage(RenewalBase):
    """mfa_on_renewal: push, but ADFS asks for a code: the notify path."""
    mode = "push"

    def test_code_page_is_notified(self):
        s = self.s
        self.t0 = self.warp.now()
        self.login(BOB_PASSWORD + "\n" + BOB_CODE + "\n")
        st = self.until_state("not_signed_in", 50 * M)
        self.assertRegex(st["error"], "second factor")
        a = s.adfs.stats()
        self.assertEqual((a["password_posts"], a["mfa_prompts"], a["mfa_posts"]), (2, 2, 1), a)
        self.assertEqual(self.alerts(), 1)
        self.assertRegex(s.log_text(), ALERT + r": .*Run 'adfs-credctl login'")


if __name__ == "__main__":
    unittest.main()


class TestKerberosMfaOnce(unittest.TestCase):
    """Kerberos, and ADFS asks an Azure MFA push after Windows
    authentication. The sign-in at start meets it with nobody there: the
    user is told once, and the timer's retries do not go back to ADFS,
    since ADFS sends a push each time it shows that page (push fatigue).
    `adfs-credctl login` then completes it with the push. A real KDC; the
    daemon under time-warp at only x4 (3 simulated minutes of backoff):
    Kerberos refuses a client clock more than 5 minutes off the KDC's."""

    def setUp(self):
        import krb5
        if not krb5.available():
            raise unittest.SkipTest("MIT Kerberos KDC tools are not installed")
        from test_kerberos import KERBEROS_USER, KerberosStack
        self.warp = Warp(4)
        self.kdc = krb5.KDC()
        self.kdc.__enter__()
        self.addCleanup(self.kdc.__exit__, None, None, None)
        self.kdc.kinit()
        with open(os.path.join(EMU, "world.example.json")) as f:
            users = json.load(f)["users"]
        for u in users:
            if u["username"] == KERBEROS_USER:
                u["mfa"] = {"type": "push", "auth_method": "AzureMfaAuthentication",
                            "number": "57", "approve_after_polls": 1, "deny": False}
        self.s = KerberosStack(self.kdc, config={"roles": [{"name": "dev", "arn": DEV_ARN}]},
                               world={"users": users})
        self.addCleanup(self.s.close)

    def test_one_push_until_login(self):
        env = dict(self.kdc.client_env)
        env.update(self.warp.env(self.s.daemon_bin, 4))
        self.s.start_daemon(env=env)
        self.assertTrue(wait_until(lambda: self.s.adfs.stats()["mfa_prompts"] >= 1, 30),
                        self.s.log_text())
        t0 = self.warp.now()
        # The timer's retries (backoff from 30 s) for 3 minutes.
        self.warp.sleep_until(t0 + 3 * M)
        self.assertGreaterEqual(
            self.s.log_text().count("ADFS asks for a second factor after Kerberos"), 2)
        self.assertEqual(self.s.adfs.stats()["mfa_prompts"], 1, self.s.log_text()[-3000:])
        self.assertEqual(self.s.log_text().count(ALERT), 1)
        p = self.s.ctl("login", timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text()[-3000:])
        self.assertIn("57", p.stdout)
        a = self.s.adfs.stats()
        self.assertEqual((a["mfa_prompts"], a["mfa_successes"]), (2, 1), a)
        self.s.stop_daemon()
