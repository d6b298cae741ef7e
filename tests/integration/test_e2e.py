"""End-to-end: the real adfs-credd and adfs-credctl against the ADFS and
STS emulators, with Debian's boto3 finding the credentials by itself."""

import json
import os
import re
import stat
import subprocess
import unittest

from harness import (status_exit, StackChecks, DEV_ARN, PASSWORD, PROD_ARN, USER, Stack, clean_sdk_env,
                     wait_until)

ECS_FIELDS = {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn", "AccountId"}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class StackTest(StackChecks, unittest.TestCase):
    """One fresh stack per test: daemons share nothing between tests."""
    config = None

    def setUp(self):
        self.s = Stack(config=self.config)
        self.addCleanup(self.s.close)
        self.s.start_daemon()

class TestSignInAndServe(StackTest):
    config = {"roles": [
        {"name": "dev", "arn": DEV_ARN},
        {"name": "prod", "arn": PROD_ARN, "duration": "1h"},
    ], "default_role": "dev"}

    def test_before_login_endpoint_says_not_signed_in(self):
        st, h, body = self.s.get("/role/dev", token=self.s.token())
        self.assertEqual(st, 503)
        self.assertEqual(h["Content-Type"], "application/json")
        err = json.loads(body)
        self.assertEqual(err["Code"], "NotSignedIn")
        self.assertIn("adfs-credctl login", err["Message"])

    def test_login_then_boto3_gets_credentials(self):
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stderr + self.s.log_text())
        self.assertIn("signed in as", p.stdout)

        # The ECS endpoint as INTERFACE.md describes it.
        st, h, body = self.s.get("/role/dev", token=self.s.token())
        self.assertEqual(st, 200, body)
        self.assertEqual(h["Content-Type"], "application/json")
        creds = json.loads(body)
        self.assertEqual(set(creds), ECS_FIELDS)
        self.assertRegex(creds["Expiration"], ISO_Z)
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"))
        self.assertEqual(creds["RoleArn"], DEV_ARN)
        self.assertEqual(creds["AccountId"], "111122223333")
        # GET / serves the default role.
        st, _, body2 = self.s.get("/", token=self.s.token())
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body2)["AccessKeyId"], creds["AccessKeyId"])

        # A real SDK, discovering the credentials from the environment
        # that `adfs-credctl env` prints, calls the STS emulator, which
        # verifies the SigV4 signature made with them.
        for role, arn in (("dev", "ADFS-Dev"), ("prod", "ADFS-Prod")):
            out = self.s.boto3(self.ecs_env(role))
            self.assertEqual(out["method"], "container-role")
            self.assertEqual(out["Arn"],
                             f"arn:aws:sts::{out['Account']}:assumed-role/{arn}/alice@example.com")
        # Token-file mode names the token file (Debian 12's botocore
        # 1.29 predates _TOKEN_FILE; newer SDKs are tested in the matrix).
        env = self.ecs_env("dev", token_file=True)
        self.assertEqual(set(env), {"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"})
        with open(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]) as f:
            self.assertEqual(f.read(), self.s.token())

        # The password never reaches the log, even at debug level.
        log = self.stop_clean()
        self.assertNotIn(PASSWORD, log)
        self.assertNotIn(creds["SecretAccessKey"], log)
        self.assertNotIn(creds["Token"][:40], log)

    def test_status_json_shape_and_duration_sources(self):
        self.assertEqual(self.s.login().returncode, 0)
        p = self.s.ctl("status", "--json")
        self.assertEqual(p.returncode, status_exit(json.loads(p.stdout)), p.stderr)
        st = json.loads(p.stdout)
        self.assertIs(st["signed_in"], True)
        self.assertEqual(st["user"], USER)
        roles = {r["name"]: r for r in st["roles"]}
        self.assertEqual(set(roles), {"dev", "prod"})
        for r in roles.values():
            for k in ("name", "arn", "state", "expires", "duration",
                      "max_session_duration", "max_source", "next_refresh", "last_error"):
                self.assertIn(k, r)
            self.assertEqual(r["state"], "valid")
            self.assertRegex(r["expires"], ISO_Z)
            self.assertRegex(r["next_refresh"], ISO_Z)
            self.assertLess(r["next_refresh"], r["expires"])
            self.assertIsNone(r["last_error"])
        # prod: a fixed 1 h from the config.
        self.assertEqual(roles["prod"]["duration"], 3600)
        self.assertEqual(roles["prod"]["max_source"], "config")
        # dev: asked for 12 h; the assertion's SessionDuration (8 h)
        # shortened it, and status says so.
        self.assertEqual(roles["dev"]["duration"], 28800)
        self.assertEqual(roles["dev"]["max_session_duration"], 28800)
        self.assertEqual(roles["dev"]["max_source"], "assertion")
        # Human output: one line per role.
        p = self.s.ctl("status")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"(?m)^dev\s+valid\s+7h5\dm")
        self.assertRegex(p.stdout, r"(?m)^prod\s+valid\s+59m")

    def test_refresh_reuses_sso_without_password(self):
        self.assertEqual(self.s.login().returncode, 0)
        before = self.s.adfs.stats()
        st, _, body = self.s.get("/role/prod", token=self.s.token())
        old = json.loads(body)["AccessKeyId"]
        p = self.s.ctl("refresh", "prod")
        self.assertEqual(p.returncode, 0, p.stderr)
        after = self.s.adfs.stats()
        self.assertEqual(after["password_posts"], before["password_posts"])
        self.assertEqual(after["cookie_rounds"], before["cookie_rounds"] + 1)
        st, _, body = self.s.get("/role/prod", token=self.s.token())
        self.assertNotEqual(json.loads(body)["AccessKeyId"], old)

    def test_endpoint_refusals(self):
        self.assertEqual(self.s.login().returncode, 0)
        tok = self.s.token()
        cases = [
            ({}, None, 403, "AccessDenied"),
            ({}, "wrong-token", 403, "AccessDenied"),
            ({}, tok[:-1], 403, "AccessDenied"),
            ({"Host": "evil.example.com"}, tok, 403, "AccessDenied"),
            ({"Origin": "https://evil.example.com"}, tok, 403, "AccessDenied"),
            ({"Referer": "https://evil.example.com/"}, tok, 403, "AccessDenied"),
            ({"Sec-Fetch-Site": "cross-site"}, tok, 403, "AccessDenied"),
        ]
        for headers, token, status, code in cases:
            st, h, body = self.s.get("/role/dev", token=token, headers=headers)
            self.assertEqual(st, status, (headers, token, body))
            self.assertEqual(h["Content-Type"], "application/json")
            self.assertEqual(json.loads(body)["Code"], code)
            self.assertNotIn("SecretAccessKey", body)
        st, _, body = self.s.get("/role/nope", token=tok)
        self.assertEqual((st, json.loads(body)["Code"]), (404, "NoSuchRole"))
        # Loopback Host with and without port is fine.
        for host in ("127.0.0.1", f"127.0.0.1:{self.s.ecs_port}", "localhost", "[::1]:1"):
            st, _, _ = self.s.get("/role/dev", token=tok, headers={"Host": host})
            self.assertEqual(st, 200, host)

    def test_token_file_and_restart_keeps_token(self):
        path = os.path.join(self.s.state_dir, "token")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.s.state_dir).st_mode), 0o700)
        tok = self.s.token()
        self.assertRegex(tok, r"^[A-Za-z0-9_-]{43}$")
        sock = os.path.join(self.s.state_dir, "control.sock")
        self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o600)
        self.stop_clean()
        self.s.start_daemon()
        self.assertEqual(self.s.token(), tok)

    def test_logout_forgets_everything_and_rotates_token(self):
        self.assertEqual(self.s.login().returncode, 0)
        old = self.s.token()
        p = self.s.ctl("logout")
        self.assertEqual(p.returncode, 0, p.stderr)
        new = self.s.token()
        self.assertNotEqual(old, new)
        st, _, body = self.s.get("/role/dev", token=old)
        self.assertEqual(st, 403)
        st, _, body = self.s.get("/role/dev", token=new)
        self.assertEqual((st, json.loads(body)["Code"]), (503, "NotSignedIn"))
        # A refresh after logout needs a login; ADFS sees no new round.
        before = self.s.adfs.stats()
        p = self.s.ctl("refresh")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("adfs-credctl login", p.stderr)
        self.assertEqual(self.s.adfs.stats()["cookie_rounds"], before["cookie_rounds"])

    def test_credential_process_and_exec(self):
        self.assertEqual(self.s.login().returncode, 0)
        p = self.s.ctl("credential-process", "prod")
        self.assertEqual(p.returncode, 0, p.stderr)
        cp = json.loads(p.stdout)
        self.assertEqual(cp["Version"], 1)
        for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"):
            self.assertIn(k, cp)
        self.assertRegex(cp["Expiration"], ISO_Z)
        # exec: the child sees exactly one URI and one token variable.
        p = self.s.ctl("exec", "dev", "--", "/usr/bin/env")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"AWS_CONTAINER_CREDENTIALS_FULL_URI={self.s.ecs_url}/role/dev", p.stdout)
        self.assertIn(f"AWS_CONTAINER_AUTHORIZATION_TOKEN={self.s.token()}", p.stdout)
        self.assertNotIn("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=", p.stdout)
        # ... and a real SDK run through exec finds the credentials.
        sdk = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdk_boto3.py")
        p = subprocess.run([self.s.ctl_bin, "-c", self.s.config_path, "exec", "prod", "--",
                            "/usr/bin/python3", sdk, self.s.sts.url, self.s.ca,
                            "get_caller_identity"],
                           capture_output=True, text=True, env=clean_sdk_env(), timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(json.loads(p.stdout)["Arn"].endswith("assumed-role/ADFS-Prod/alice@example.com"))


class TestWrongPassword(StackTest):
    def test_rejected_password_is_never_retried(self):
        before = self.s.adfs.stats()["password_posts"]
        p = self.s.login("not-the-password")
        self.assertNotEqual(p.returncode, 0)
        # ADFS's own error text reaches the user.
        self.assertIn("Incorrect user ID or password", p.stderr + p.stdout)
        self.assertEqual(self.s.adfs.stats()["password_posts"], before + 1)
        st = json.loads(self.s.ctl("status", "--json").stdout)
        self.assertEqual(st["state"], "failed")
        self.assertIs(st["signed_in"], False)
        # Neither a refresh nor time makes the daemon try again.
        p = self.s.ctl("refresh")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.s.adfs.stats()["password_posts"], before + 1)
        # A new login with the right password recovers.
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.s.adfs.stats()["password_posts"], before + 2)
        self.assertNotIn("not-the-password", self.stop_clean())


class TestRolesFromAssertion(StackTest):
    """No `roles:` in the config: every role the assertion offers is held,
    and maximum durations are found by probing STS."""

    def test_all_roles_held_and_probed(self):
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stderr)
        st = json.loads(self.s.ctl("status", "--json").stdout)
        roles = {r["name"]: r for r in st["roles"]}
        self.assertEqual(set(roles), {"ADFS-Dev", "ADFS-Prod"})
        # Prod's MaxSessionDuration is 1 h: 12 h, 8 h, 4 h, 2 h refused.
        self.assertEqual(roles["ADFS-Prod"]["duration"], 3600)
        self.assertEqual(roles["ADFS-Prod"]["max_source"], "probe")
        sts = self.s.sts.stats()
        self.assertEqual(sts["assume_ok"], 2)
        self.assertEqual(sts["assume_calls"], 6)
        p = self.s.ctl("roles")
        self.assertEqual(p.returncode, 0)
        self.assertIn(PROD_ARN, p.stdout)
        self.assertIn("arn:aws:iam::444455556666:saml-provider/ADFS", p.stdout)
        out = self.s.boto3(self.ecs_env("ADFS-Prod"))
        self.assertTrue(out["Arn"].endswith("assumed-role/ADFS-Prod/alice@example.com"))


class TestPasswordSources(unittest.TestCase):
    """file: and credential: passwords sign in at start, without a login."""

    def wait_valid(self):
        def served():
            st, _, body = self.s.get("/role/dev", token=self.s.token())
            return json.loads(body) if st == 200 else None

        creds = wait_until(served, 30, interval=0.1)
        if creds:
            return creds
        self.fail("no credentials after automatic sign-in:\n" + self.s.log_text())

    def test_password_file(self):
        self.s = Stack()
        self.addCleanup(self.s.close)
        pwfile = os.path.join(self.s.tmp, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(pwfile, 0o600)
        self.s.write_config({"adfs": {"password": f"file:{pwfile}"},
                             "roles": [{"name": "dev", "arn": DEV_ARN}]})
        self.s.start_daemon()
        creds = self.wait_valid()
        self.assertEqual(creds["RoleArn"], DEV_ARN)
        self.assertEqual(self.s.adfs.stats()["password_posts"], 1)
        # `login` reads the file again; no prompt, nothing on stdin. The
        # first cycle may still be sizing durations (GetRole) after the
        # first credentials are served: the daemon then says to try again.
        import time
        for _ in range(100):
            p = self.s.ctl("login", input="")
            if "already running" not in p.stderr:
                break
            time.sleep(0.1)
        self.assertEqual(p.returncode, 0, p.stderr)
        # A login is a new sign-in, with a new SSO (issue 16: the horizon
        # moves on), even while the old one's cookies are valid.
        self.assertEqual(self.s.adfs.stats()["password_posts"], 2)

    def test_password_file_must_be_private(self):
        self.s = Stack()
        self.addCleanup(self.s.close)
        pwfile = os.path.join(self.s.tmp, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD)
        os.chmod(pwfile, 0o644)
        self.s.write_config({"adfs": {"password": f"file:{pwfile}"}})
        try:
            self.s.start_daemon()
        except RuntimeError as e:
            msg = str(e)
        else:
            # A slow daemon (valgrind) may open its control socket before
            # it reads the password; it must exit all the same.
            self.assertNotEqual(self.s.daemon.wait(60), 0)
            msg = self.s.log_text()
        # It exits 1 by itself, on purpose; with no leak on the way out.
        self.s.stop_daemon(expect=1)
        self.assertIn("must have mode 0600", msg)
        self.assertIn(f"chmod 600 {pwfile}", msg)
        self.assertEqual(self.s.adfs.stats()["password_posts"], 0)

    def test_systemd_credential(self):
        self.s = Stack()
        self.addCleanup(self.s.close)
        creddir = os.path.join(self.s.tmp, "creds")
        os.mkdir(creddir, 0o700)
        with open(os.path.join(creddir, "adfs-password"), "w") as f:
            f.write(PASSWORD)
        self.s.write_config({"adfs": {"password": "credential:adfs-password"},
                             "roles": [{"name": "dev", "arn": DEV_ARN}]})
        self.s.start_daemon(env={"CREDENTIALS_DIRECTORY": creddir})
        self.assertEqual(self.wait_valid()["RoleArn"], DEV_ARN)
        self.assertNotIn(PASSWORD, self.s.log_text())


class TestStsRefusals(StackTest):
    """STS's own Code and Message reach the user; other roles still work."""
    config = {"roles": [
        {"name": "dev", "arn": DEV_ARN},
        # Prod's MaxSessionDuration is 1 h: a fixed 2 h is refused.
        {"name": "prod", "arn": PROD_ARN, "duration": "2h"},
        # Not offered to alice by ADFS.
        {"name": "other", "arn": "arn:aws:iam::999999999999:role/Nope"},
    ]}

    def test_errors_are_reported_per_role(self):
        p = self.s.login()
        self.assertNotEqual(p.returncode, 0)
        st = json.loads(self.s.ctl("status", "--json").stdout)
        roles = {r["name"]: r for r in st["roles"]}
        self.assertEqual(roles["dev"]["state"], "valid")
        self.assertEqual(roles["prod"]["state"], "expired")
        self.assertIn("ValidationError", roles["prod"]["last_error"])
        self.assertIn("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
                      roles["prod"]["last_error"])
        self.assertEqual(roles["other"]["state"], "failed")
        self.assertIn("does not offer role arn:aws:iam::999999999999:role/Nope",
                      roles["other"]["last_error"])
        # The endpoint says why there is nothing to serve.
        st, _, body = self.s.get("/role/prod", token=self.s.token())
        err = json.loads(body)
        self.assertEqual((st, err["Code"]), (503, "CredentialsUnavailable"))
        self.assertIn("MaxSessionDuration", err["Message"])
        st, _, _ = self.s.get("/role/dev", token=self.s.token())
        self.assertEqual(st, 200)
        # A fixed duration is never probed: exactly one STS call for prod.
        self.assertEqual(self.s.sts.stats()["assume_calls"], 2)


class TestReload(StackTest):
    """SIGHUP applies a good configuration now, keeps the old one when the
    new one is bad, and refuses what would orphan the held sign-in."""
    config = {"roles": [{"name": "dev", "arn": DEV_ARN}]}

    def hup(self, conf_extra):
        import signal
        import time
        self.s.write_config(conf_extra)
        mark = len(self.s.log_text())
        self.s.daemon.send_signal(signal.SIGHUP)
        for _ in range(100):
            new = self.s.log_text()[mark:]
            if "Configuration reloaded" in new or "rejected" in new or "restart adfs-credd" in new:
                return new
            time.sleep(0.05)
        self.fail("no reload message:\n" + self.s.log_text()[mark:])

    def test_reload(self):
        self.assertEqual(self.s.login().returncode, 0)
        base = {"roles": [{"name": "dev", "arn": DEV_ARN}]}
        out = self.hup(dict(base, serve={"allowed_uids": [65534, 65533]}, log_level="info"))
        self.assertIn("Configuration reloaded", out)
        # The guard reads the new allowed_uids (ASan would catch a stale
        # pointer into the old configuration).
        for _ in range(3):
            self.assertEqual(self.s.get("/role/dev", token=self.s.token())[0], 200)
        with open(self.s.config_path, "a") as f:
            f.write("\n")
        bad = dict(base, log_level="loud")
        out = self.hup(bad)
        self.assertIn("New configuration rejected, keeping the old one", out)
        self.assertRegex(out, re.escape(self.s.config_path) + r":\d+:\d+: .*log_level")
        out = self.hup(dict(base, adfs={"username": "EXAMPLE\\bob"}))
        self.assertIn("restart adfs-credd to apply", out)
        # Still the same daemon, still serving, and `env` still names the
        # port it listens on.
        self.assertEqual(self.s.get("/role/dev", token=self.s.token())[0], 200)
        self.assertIn(self.s.ecs_url, self.s.ctl("env").stdout)
        self.stop_clean()


class TestNoRolesBeforeLogin(StackTest):
    def test_not_signed_in_rather_than_no_such_role(self):
        for path in ("/", "/role/ADFS-Dev"):
            st, _, body = self.s.get(path, token=self.s.token())
            self.assertEqual((st, json.loads(body)["Code"]), (503, "NotSignedIn"), path)


class TestCommandLine(unittest.TestCase):
    def setUp(self):
        self.s = Stack()
        self.addCleanup(self.s.close)

    def test_check_config(self):
        p = subprocess.run([self.s.daemon_bin, "-c", self.s.config_path, "--check-config"],
                           capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "configuration OK"), p.stderr)
        bad = os.path.join(self.s.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("adfs:\n  url: https://adfs.example.com\n  username: u\n  colour: blue\n"
                    "serve:\n  ecs: 0.0.0.0:9911\n")
        p = subprocess.run([self.s.daemon_bin, "-c", bad, "--check-config"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, re.escape(bad) + r":4:3: .*colour")
        self.assertRegex(p.stderr, re.escape(bad) + r":6:\d+: .*loopback")

    def test_ctl_without_daemon(self):
        p = self.s.ctl("status")
        self.assertEqual(p.returncode, 3)
        sock = os.path.join(self.s.state_dir, "control.sock")
        self.assertEqual(p.stderr.strip(),
                         f"adfs-credctl: adfs-credd is not running (no control socket at {sock})")

    def test_env_output_is_eval_safe(self):
        self.s.start_daemon()
        out = subprocess.run(
            ["bash", "-c", f'eval "$({self.s.ctl_bin} -c {self.s.config_path} env)" && '
             'echo "$AWS_CONTAINER_CREDENTIALS_FULL_URI" && '
             'echo "${#AWS_CONTAINER_AUTHORIZATION_TOKEN}"'],
            capture_output=True, text=True, env=clean_sdk_env())
        self.assertEqual(out.returncode, 0, out.stderr)
        uri, n = out.stdout.split()
        self.assertTrue(uri.startswith(self.s.ecs_url + "/"))
        self.assertEqual(n, "43")


if __name__ == "__main__":
    unittest.main()
