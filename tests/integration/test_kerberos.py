"""Windows Integrated Authentication end to end: a real MIT KDC
(krb5.py), the ADFS emulator accepting SPNEGO/Kerberos with python3-gssapi
(adfs.wia), and adfs-credd with `adfs.auth: kerberos`, which must sign in by
itself at start (no password anywhere), renew silently via Kerberos when the
ADFS SSO session ends, and fail clearly when the ticket cache is empty.

The daemon's ADFS URL uses the host name `localhost`, so libcurl asks the KDC
for HTTP/localhost (the test certificate carries DNS:localhost)."""

import json
import os
import unittest

import krb5
from harness import DEV_ARN, EMU, Stack, StackChecks, wait_until, status_exit

KERBEROS_USER = "EXAMPLE\\alice"


def setUpModule():
    try:
        import gssapi  # the ADFS emulator's acceptor needs it
        del gssapi
    except ImportError:
        raise unittest.SkipTest("python3-gssapi is not installed")
    if not krb5.available():
        raise unittest.SkipTest("MIT Kerberos KDC tools are not installed")


class KerberosStack(Stack):
    """harness.Stack with WIA switched on in the ADFS emulator (keytab and
    krb5.conf from `kdc`) and a daemon config for `auth: kerberos` at
    https://localhost:<port>, without adfs.username.

    harness.Stack starts the emulators with the test process's environment,
    so the Kerberos variables are put into os.environ only while they start.
    """

    def __init__(self, kdc, config=None, keep=False, world=None):
        self.kdc = kdc
        with open(os.path.join(EMU, "world.example.json")) as f:
            adfs = json.load(f)["adfs"]
        adfs["wia"] = {"enabled": True, "service_principal": "HTTP/localhost",
                       "keytab": kdc.keytab, "users": {kdc.principal: KERBEROS_USER}}
        w = dict(world or {})
        w["adfs"] = adfs
        saved = dict(os.environ)
        os.environ.update(kdc.acceptor_env)
        try:
            super().__init__(config=config, world=w, keep=keep)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def write_config(self, extra):
        super().write_config(extra)
        with open(self.config_path) as f:
            conf = json.load(f)
        a = conf["adfs"]
        given = (extra or {}).get("adfs") or {}
        if "url" not in given:
            a["url"] = f"https://localhost:{self.adfs.port}"
        a.setdefault("auth", "kerberos")
        if given.get("username") is None:
            a.pop("username", None)
        for section in conf.values():
            if isinstance(section, dict):
                for k in [k for k, v in section.items() if v is None]:
                    del section[k]
        with open(self.config_path, "w") as f:
            json.dump(conf, f, indent=2)

    def start_daemon(self, env=None):
        e = dict(self.kdc.client_env)
        e.update(env or {})
        # Nothing else of ours may leak in: the daemon finds its ticket via
        # KRB5CCNAME and the realm via KRB5_CONFIG only.
        super().start_daemon(env=e)

    def forget_sso_sessions(self):
        """Ends every ADFS SSO session but keeps the emulator's counters."""
        return self.adfs._req("POST", "/_emulator/reset", {"state": True, "counters": False})


class KerberosTest(StackChecks, unittest.TestCase):
    config = {"roles": [{"name": "dev", "arn": DEV_ARN}], "default_role": "dev"}

    @classmethod
    def setUpClass(cls):
        cls.kdc = krb5.KDC().start()

    @classmethod
    def tearDownClass(cls):
        cls.kdc.stop()

    def setUp(self):
        self.kdc.kinit()          # every test starts with a valid TGT
        self.s = KerberosStack(self.kdc, config=self.config)
        self.addCleanup(self.s.close)

    # --- helpers -------------------------------------------------------------
    def status(self):
        p = self.s.ctl("status", "--json")
        self.assertEqual(p.returncode, status_exit(json.loads(p.stdout)), p.stderr)
        return json.loads(p.stdout)

    def wait_for(self, what, fn, timeout=30):
        def ready():
            last = fn()
            if last:
                return last
            if self.s.daemon is not None and self.s.daemon.poll() is not None:
                self.fail("adfs-credd exited while waiting for %s:\n%s"
                          % (what, self.s.log_text()))
            return None

        last = wait_until(ready, timeout, interval=0.2)
        if last:
            return last
        self.fail("timed out waiting for %s; status %s\nADFS %s\n%s"
                  % (what, self.status(), self.s.adfs.stats(), self.s.log_text()))

    def creds(self):
        st, _, body = self.s.get("/role/dev", token=self.s.token())
        return json.loads(body) if st == 200 else None

    # --- tests ---------------------------------------------------------------
    def test_signs_in_at_start_and_renews_via_kerberos(self):
        self.s.start_daemon()
        # No `adfs-credctl login`: the daemon signs in by itself.
        creds = self.wait_for("credentials at the ECS endpoint", self.creds)
        self.assertEqual(creds["RoleArn"], DEV_ARN)
        st = self.s.adfs.stats()
        self.assertEqual(st["wia_successes"], 1, st)
        self.assertEqual(st["wia_failures"], 0, st)
        self.assertEqual(st["wia_redirects"], 1, st)     # the IE11 User-Agent chose WIA
        self.assertEqual(st["password_posts"], 0, st)
        self.assertEqual(st["login_page_gets"], 0, st)
        status = self.status()
        self.assertIs(status["signed_in"], True, status)
        self.assertEqual(status["user"], KERBEROS_USER)
        self.assertIsNone(status["error"])

        out = self.s.boto3(self.ecs_env("dev"))
        self.assertEqual(out["method"], "container-role")
        self.assertEqual(out["Arn"], "arn:aws:sts::111122223333:assumed-role/ADFS-Dev/"
                                     "alice@example.com")

        # The ADFS SSO session ends; a refresh signs in again via Kerberos
        # without asking anyone for anything.
        self.s.forget_sso_sessions()
        p = self.s.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        st = self.s.adfs.stats()
        self.assertEqual(st["wia_successes"], 2, st)
        self.assertEqual(st["password_posts"], 0, st)
        renewed = self.creds()
        self.assertIsNotNone(renewed)
        self.assertNotEqual(renewed["AccessKeyId"], creds["AccessKeyId"])
        self.assertIs(self.status()["signed_in"], True)
        self.stop_clean()

    def test_empty_ticket_cache_fails_clearly(self):
        self.kdc.kdestroy()
        self.s.start_daemon()
        status = self.wait_for("a sign-in error in status --json",
                               lambda: (lambda st: st if st.get("error") else None)(self.status()))
        # Recorded for the daemon authors (printed with -v or on failure).
        print("\n[kerberos, no ticket] status --json error: %r" % status["error"])
        self.assertIs(status["signed_in"], False, status)
        self.assertIsNone(self.s.daemon.poll(), "adfs-credd exited:\n" + self.s.log_text())
        st, _, body = self.s.get("/role/dev", token=self.s.token())
        self.assertEqual(st, 503, body)
        ads = self.s.adfs.stats()
        self.assertGreaterEqual(ads["wia_challenges"], 1, ads)   # no ticket, no token
        self.assertEqual(ads["wia_successes"], 0, ads)
        self.assertEqual(ads["password_posts"], 0, ads)
        # What a user needs to read: that Kerberos is the problem, and
        # what to do about it.
        self.assertRegex(status["error"], r"(?i)kerberos|ticket|kinit|negotiate", status)
        self.assertRegex(status["error"], r"(?i)kinit|ticket", status)

        self.stop_clean()

    def test_kinit_then_refresh_recovers_without_restart(self):
        self.kdc.kdestroy()
        self.s.start_daemon()
        self.wait_for("a sign-in error in status --json",
                      lambda: self.status().get("error"))
        # The user runs kinit; asking the daemon to try again must not
        # need a password (there is none with auth: kerberos) nor a restart.
        self.kdc.kinit()
        p = self.s.ctl("refresh")
        self.assertEqual(p.returncode, 0, "refresh after kinit: " + p.stdout + p.stderr
                         + "\n" + self.s.log_text())
        self.assertIsNotNone(self.creds())
        self.assertEqual(self.s.adfs.stats()["wia_successes"], 1)
        self.assertEqual(self.s.adfs.stats()["password_posts"], 0)
        self.stop_clean()


if __name__ == "__main__":
    unittest.main()
