"""Sign in once, renew silently, never lock the account (issue 3): SSO
reuse, the end of the ADFS SSO with and without remember_password, OTP
MFA relayed through adfs-credctl, and clear errors. Counters read from
the ADFS emulator prove how many password rounds happened."""

import json
import os
import stat
import time
import unittest

from harness import DEV_ARN, PASSWORD, USER, Stack, StackChecks

BOB = "EXAMPLE\\bob"
BOB_PASSWORD = "Battery-Staple-2"
BOB_CODE = "123456"


class Base(StackChecks, unittest.TestCase):
    config = None

    def setUp(self):
        self.s = Stack(config=self.config)
        self.addCleanup(self.s.close)
        self.s.start_daemon()

    adfs_offset = 0

    def end_sso(self):
        """Ends every ADFS SSO session the way time does: the ADFS clock
        moves past SsoLifetime (8 h), so the next cookie round meets the
        login form. STS moves with it (it refuses assertions issued in
        its future), so the daemon also sees STS's clock 8 h ahead of
        its own and must plan with it."""
        self.adfs_offset += 8 * 3600 + 1
        self.s.adfs.configure(time_offset=self.adfs_offset)
        self.s.sts.configure(time_offset=self.adfs_offset)

    def creds(self, role="dev"):
        st, _, body = self.s.get(f"/role/{role}", token=self.s.token())
        return st, json.loads(body)


class TestSsoReuse(Base):
    config = {"roles": [{"name": "dev", "arn": DEV_ARN}]}

    def test_one_password_round_for_many_renewals(self):
        # Real refreshes are hours apart; five in a second would trip
        # ADFS's loop detection (MSIS7042), which is not under test here.
        self.s.adfs.configure(loop_detection=False)
        self.assertEqual(self.s.login().returncode, 0)
        keys = {self.creds()[1]["AccessKeyId"]}
        for _ in range(5):
            p = self.s.ctl("refresh")
            self.assertEqual(p.returncode, 0, p.stderr)
            keys.add(self.creds()[1]["AccessKeyId"])
        st = self.s.adfs.stats()
        self.assertEqual(st["password_posts"], 1)
        self.assertEqual(st["cookie_rounds"], 5)
        self.assertEqual(len(keys), 6, "every refresh brings new credentials")


class TestSsoEndWithoutPassword(Base):
    config = {"roles": [{"name": "dev", "arn": DEV_ARN}]}

    def test_not_signed_in_keeps_serving_valid_credentials(self):
        self.assertEqual(self.s.login().returncode, 0)
        before = self.creds()[1]["AccessKeyId"]
        self.end_sso()
        p = self.s.ctl("refresh")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("adfs-credctl login", p.stderr)
        st = self.status()
        self.assertEqual(st["state"], "not_signed_in")
        self.assertIs(st["signed_in"], False)
        self.assertIn("single sign-on session ended", st["error"])
        # The still-valid credentials keep being served.
        code, body = self.creds()
        self.assertEqual((code, body["AccessKeyId"]), (200, before))
        self.assertEqual(self.s.adfs.stats()["password_posts"], 1)
        # Human status says what to do.
        self.assertIn("adfs-credctl login", self.s.ctl("status").stdout)
        # A new login recovers.
        self.assertEqual(self.s.login().returncode, 0)
        self.assertEqual(self.status()["state"], "signed_in")


class TestSsoEndWithRememberedPassword(Base):
    config = {"roles": [{"name": "dev", "arn": DEV_ARN}],
              "adfs": {"remember_password": True}}

    def test_one_silent_relogin(self):
        self.assertEqual(self.s.login().returncode, 0)
        # A refresh within the SSO uses the cookie alone, even with the
        # password at hand: no new sign-in.
        self.assertEqual(self.s.ctl("refresh").returncode, 0)
        self.assertEqual(self.s.log_text().count("Signed in to ADFS as"), 1)
        self.end_sso()
        p = self.s.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stderr + self.s.log_text())
        st = self.s.adfs.stats()
        self.assertEqual(st["password_posts"], 2, "exactly one silent re-login")
        self.assertEqual(self.s.log_text().count("Signed in to ADFS as"), 2)
        self.assertEqual(self.status()["state"], "signed_in")
        self.assertNotIn(PASSWORD, self.s.log_text())

    def test_changed_password_is_tried_once_then_never(self):
        self.assertEqual(self.s.login().returncode, 0)
        # The user changed the AD password elsewhere; the SSO ends.
        self.s.adfs.configure(user_overrides={USER: {"password": "Changed-Pass-9"}})
        self.end_sso()
        p = self.s.ctl("refresh")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.s.adfs.stats()["password_posts"], 2)
        st = self.status()
        self.assertEqual(st["state"], "failed")
        self.assertIn("Incorrect user ID or password", st["error"])
        for _ in range(3):
            self.assertNotEqual(self.s.ctl("refresh").returncode, 0)
        self.assertEqual(self.s.adfs.stats()["password_posts"], 2,
                         "a rejected password is never sent again")
        # The credentials already held are still served.
        self.assertEqual(self.creds()[0], 200)
        p = self.s.login("Changed-Pass-9")
        self.assertEqual(p.returncode, 0, p.stderr)


class TestOtpMfa(Base):
    config = {"adfs": {"username": BOB}, "roles": [{"name": "dev", "arn": DEV_ARN}]}

    def test_code_from_stdin(self):
        p = self.s.ctl("login", "--password-stdin", input=f"{BOB_PASSWORD}\n{BOB_CODE}\n")
        self.assertEqual(p.returncode, 0, p.stderr + self.s.log_text())
        self.assertEqual(self.creds()[0], 200)
        st = self.s.adfs.stats()
        self.assertEqual(st["password_posts"], 1)
        self.assertNotIn(BOB_CODE, self.s.log_text())

    def test_wrong_code_fails_without_retry(self):
        p = self.s.ctl("login", "--password-stdin", input=f"{BOB_PASSWORD}\n000000\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("The verification code you entered is incorrect", p.stderr)
        self.assertEqual(self.s.adfs.stats()["password_posts"], 1)
        self.assertIs(self.status()["signed_in"], False)

    def test_renewal_that_needs_mfa_again_stops(self):
        p = self.s.ctl("login", "--password-stdin", input=f"{BOB_PASSWORD}\n{BOB_CODE}\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.end_sso()
        self.assertNotEqual(self.s.ctl("refresh").returncode, 0)
        st = self.status()
        self.assertEqual(st["state"], "not_signed_in")
        self.assertEqual(self.s.adfs.stats()["password_posts"], 1)

    def test_renewal_with_remembered_password_but_mfa_stops(self):
        self.s.stop_daemon()
        self.s.write_config({"adfs": {"username": BOB, "remember_password": True},
                             "roles": [{"name": "dev", "arn": DEV_ARN}]})
        self.s.start_daemon()
        p = self.s.ctl("login", "--password-stdin", input=f"{BOB_PASSWORD}\n{BOB_CODE}\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.end_sso()
        self.assertNotEqual(self.s.ctl("refresh").returncode, 0)
        st = self.status()
        self.assertEqual(st["state"], "not_signed_in")
        self.assertIn("second factor", st["error"])
        # The password was posted once more (silently), the MFA page
        # stopped it, nothing else was tried.
        self.assertEqual(self.s.adfs.stats()["password_posts"], 2)


class TestClearErrors(Base):
    config = {"roles": [{"name": "dev", "arn": DEV_ARN}]}

    def login_error(self):
        p = self.s.login()
        self.assertNotEqual(p.returncode, 0)
        return p.stderr

    def test_idp_initiated_signon_disabled(self):
        self.s.adfs.configure(idp_initiated_signon=False)
        err = self.login_error()
        self.assertIn("EnableIdpInitiatedSignonPage", err)
        self.assertIn("MSIS7012", err)

    def test_tls_failure_names_host_and_ca_file(self):
        self.s.stop_daemon()
        self.s.write_config({"adfs": {"ca_file": None}, "roles": [{"name": "dev", "arn": DEV_ARN}]})
        # Config merge keeps other adfs keys; drop ca_file explicitly.
        with open(self.s.config_path) as f:
            conf = json.load(f)
        conf["adfs"].pop("ca_file", None)
        with open(self.s.config_path, "w") as f:
            json.dump(conf, f)
        self.s.start_daemon()
        err = self.login_error()
        self.assertIn("127.0.0.1", err)
        self.assertIn("adfs.ca_file", err)
        self.assertEqual(self.s.adfs.stats()["password_posts"], 0)

    def test_timeout(self):
        self.s.stop_daemon()
        self.s.write_config({"adfs": {"timeout": "2s"}, "roles": [{"name": "dev", "arn": DEV_ARN}]})
        self.s.start_daemon()
        # The hang outlasts the timeout by far, so that a slow daemon
        # (valgrind) still shows which of the two ended the login.
        self.s.adfs.configure(hang_count=1, hang_seconds=40)
        t0 = time.monotonic()
        err = self.login_error()
        self.assertLess(time.monotonic() - t0, 30)
        self.assertIn("did not answer within 2s", err)
        self.assertIn("adfs.timeout", err)

    def test_garbage_page(self):
        self.s.adfs.configure(fail_status=200, fail_count=1, fail_body="<html><body>hello</body></html>",
                              fail_content_type="text/html")
        err = self.login_error()
        self.assertIn("unexpected page from ADFS", err)
        self.assertIn("form#loginForm", err)
        self.assertEqual(self.s.adfs.stats()["password_posts"], 0)

    def test_redirect_off_origin_is_refused(self):
        self.s.adfs.configure(fail_status=302, fail_count=1, fail_body="",
                              fail_location="https://evil.example.com/adfs/ls/")
        err = self.login_error()
        self.assertIn("redirected outside its origin", err)
        self.assertIn("https://evil.example.com:443", err)
        self.assertEqual(self.s.adfs.stats()["password_posts"], 0)

    def test_oversized_page_is_refused(self):
        self.s.adfs.configure(fail_status=200, fail_count=1, fail_content_type="text/html",
                              fail_body="<p>" + "x" * 1021 + "</p>", fail_body_repeat=1100)
        err = self.login_error()
        self.assertIn("larger than 1048576 bytes", err)
        self.assertIs(self.status()["signed_in"], False)
        # The daemon goes on: a normal login works right after.
        self.assertEqual(self.s.login().returncode, 0)


class TestRestart(Base):
    """A restart needs no new login: cookies and sessions are persisted in
    state_dir (0600), never the password."""
    config = {"roles": [{"name": "dev", "arn": DEV_ARN}]}

    def state_path(self):
        return os.path.join(self.s.state_dir, "state.json")

    def test_restart_keeps_sessions_and_sso(self):
        self.assertEqual(self.s.login().returncode, 0)
        before = self.creds()[1]
        self.s.stop_daemon()
        st = os.stat(self.state_path())
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(self.state_path()) as f:
            saved = f.read()
        self.assertNotIn(PASSWORD, saved)
        self.assertIn("MSISAuth", saved)
        adfs_before = self.s.adfs.stats()

        self.s.start_daemon()
        status = self.status()
        self.assertIs(status["signed_in"], True)
        self.assertEqual(status["user"], USER)
        self.assertEqual(status["roles"][0]["state"], "valid")
        code, now = self.creds()
        self.assertEqual((code, now["AccessKeyId"]), (200, before["AccessKeyId"]))
        self.assertEqual(self.s.adfs.stats()["assertions_issued"], adfs_before["assertions_issued"])
        # The restored SSO cookies renew without a password.
        p = self.s.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stderr + self.s.log_text())
        st = self.s.adfs.stats()
        self.assertEqual(st["password_posts"], 1)
        self.assertEqual(st["cookie_rounds"], adfs_before["cookie_rounds"] + 1)

    def test_corrupt_or_foreign_state_is_ignored(self):
        self.assertEqual(self.s.login().returncode, 0)
        self.s.stop_daemon()
        with open(self.state_path(), "w") as f:
            f.write('{"version": 1, "identity": ')
        self.s.start_daemon()
        self.assertIs(self.status()["signed_in"], False)
        self.assertIn("Ignoring the saved state", self.s.log_text())
        self.assertIn("does not parse", self.s.log_text())
        # Sign in again, then change the user: the state is not theirs.
        self.assertEqual(self.s.login().returncode, 0)
        self.s.stop_daemon()
        self.s.write_config({"adfs": {"username": "EXAMPLE\\bob"},
                             "roles": [{"name": "dev", "arn": DEV_ARN}]})
        self.s.start_daemon()
        self.assertIs(self.status()["signed_in"], False)
        self.assertIn("belongs to another configuration", self.s.log_text())

    def test_logout_removes_state(self):
        self.assertEqual(self.s.login().returncode, 0)
        self.assertTrue(os.path.exists(self.state_path()))
        self.assertEqual(self.s.ctl("logout").returncode, 0)
        self.assertFalse(os.path.exists(self.state_path()))
        self.s.stop_daemon()
        self.s.start_daemon()
        self.assertIs(self.status()["signed_in"], False)


if __name__ == "__main__":
    unittest.main()
