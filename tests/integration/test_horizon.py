"""The unattended horizon end to end (issue 16): `status --json` says until
when renewal goes on without a person (renewable_until, renewable_by) and
until when each role is served (served_until); `check ROLE --for D` and
`exec --require D` answer from it, on each side of the boundary, in the
four sign-in modes:

  - forms with SSO cookies only (no remembered password): the SSO's end,
    then the last-call refresh just before it; the prediction is checked
    against what is really served once the SSO has ended;
  - keep me signed in: the persistent cookie's expiry;
  - Kerberos: the ticket's end in the credential cache (a real KDC);
  - a remembered password (forms) or a password file (WS-Trust): unbounded.

Plus the correction when the SSO ends before adfs.sso_lifetime says, and
the desktop notification notify.before ahead of the horizon, on a real
session bus. Everything runs under tests/timewarp (x200 for the long ones):
hours of simulated time take seconds."""

import datetime
import json
import os
import shutil
import subprocess
import time
import unittest

from harness import DEV_ARN, EMU, PASSWORD, Stack, StackChecks
from test_long_job import Warp

H = 3600
M = 60
WORLD_ADFS = json.load(open(os.path.join(EMU, "world.example.json")))["adfs"]
ROLES = [{"name": "dev", "arn": DEV_ARN, "duration": "1h"}]


def epoch(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def adfs_world(**kw):
    a = json.loads(json.dumps(WORLD_ADFS))
    a.update(kw)
    return {"adfs": a}


class HorizonBase(StackChecks, unittest.TestCase):
    factor = 200
    config = {}
    world = adfs_world(sso_lifetime=2 * H)

    def setUp(self):
        self.warp = Warp(self.factor)
        config = {"roles": ROLES}
        config.update(self.config)
        self.s = Stack(config=config, world=self.world,
                       emulator_env=self.warp.env())
        self.addCleanup(self.s.close)

    def start(self, env=None):
        e = self.warp.env(self.s.daemon_bin, self.factor / 10)
        e.update(env or {})
        self.s.start_daemon(env=e)

    def login(self):
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())

    def role(self, st=None):
        st = st or self.status()
        return {r["name"]: r for r in st["roles"]}["dev"]

    def check(self, seconds, *extra):
        return self.s.ctl("check", "dev", "--for", str(int(seconds)), *extra)

    def assert_boundary(self, margin=10 * M):
        """check --for on each side of what status says is served."""
        st = self.status()
        left = epoch(self.role(st)["served_until"]) - epoch(st["now"])
        self.assertGreater(left, 2 * margin, st)
        p = self.check(left - margin)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("dev is served until", p.stdout)
        p = self.check(left + margin)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("short of", p.stderr)
        return st, p.stderr


class TestSsoHorizon(HorizonBase):
    """Forms, no remembered password: renewal needs a person when the ADFS
    SSO ends (adfs.sso_lifetime, 2 h here as the emulator's). dev lasts
    2 h: the plan refreshes it about 1.5 h in, and next after the SSO's
    end, so the last call 5 min before the end is what makes it last until
    2 h - 5 min + 2 h (promised 5 min less). The credentials really served
    after the SSO ended reach there, and no further."""

    config = {"adfs": {"sso_lifetime": "2h"},
              "roles": [{"name": "dev", "arn": DEV_ARN, "duration": "2h"}]}

    def test_sso_horizon(self):
        self.start()
        self.login()
        st = self.status()
        now, ru = epoch(st["now"]), epoch(st["renewable_until"])
        self.assertEqual((st["renewable_by"], st["renewable_source"]), ("sso", "config"))
        self.assertEqual(st["sso_expires"], st["renewable_until"])
        self.assertTrue(2 * H - 2 * M <= ru - now <= 2 * H, st)
        su = epoch(self.role(st)["served_until"])
        # The last call 5 min before the end, less the 5 min it may not
        # be worth (session/horizon.h).
        self.assertAlmostEqual(su, ru - 5 * M + 2 * H - 5 * M, delta=2)

        st, why = self.assert_boundary()
        self.assertIn("when the ADFS SSO ends", why)
        self.assertIn("adfs.keep_me_signed_in", why)
        left = epoch(self.role(st)["served_until"]) - epoch(st["now"])
        # exec --require: a job that cannot finish is not started.
        marker = os.path.join(self.s.tmp, "ran")
        p = self.s.ctl("exec", "--require", str(int(left + 10 * M)), "dev", "--",
                       "touch", marker)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("short of", p.stderr)
        self.assertFalse(os.path.exists(marker))
        p = self.s.ctl("exec", "--require", str(int(left - 10 * M)), "dev", "--",
                       "touch", marker)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertTrue(os.path.exists(marker))

        # Past the SSO's end and the next planned refresh (which meets
        # the sign-in form): nothing renews, and what is served is what
        # the last call got, as predicted.
        self.warp.sleep_until(ru + 1 * H + 32 * M)
        st = self.status()
        self.assertEqual(st["state"], "not_signed_in", st)
        self.assertEqual(st["renewable_by"], "none")
        self.assertIsNone(st["renewable_until"])
        code, _, body = self.s.get("/role/dev", token=self.s.token())
        self.assertEqual(code, 200, body)
        served = epoch(json.loads(body)["Expiration"])
        # At least what was promised, and at most the last call's gain
        # more (it was made, or a refresh just before it was enough).
        self.assertGreaterEqual(served, su)
        self.assertLessEqual(served, su + 5 * M + M)
        self.assertIn("The last renewal before the ADFS SSO ends", self.s.log_text())
        self.assertEqual(self.s.adfs.stats()["password_posts"], 1)
        # Nothing more can be promised than what is held.
        p = self.check(served - self.warp.now() + 5 * M)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("nothing can renew it without you", p.stderr)
        self.warp.sleep_until(served + 2 * M)
        code, _, body = self.s.get("/role/dev", token=self.s.token())
        self.assertEqual(code, 503, body)
        self.stop_clean()


class TestSsoEndsEarly(HorizonBase):
    """adfs.sso_lifetime says 3 h, ADFS ends the SSO after 2 h: once the
    daemon has seen that, the next sign-in's horizon is what it saw (the
    last round that still worked), never more than the 2 h ADFS gives, so
    the last call before it finds the SSO alive."""

    config = {"adfs": {"sso_lifetime": "3h"}}

    def test_corrected(self):
        self.start()
        self.login()
        st = self.status()
        self.assertEqual(st["renewable_source"], "config")
        self.assertAlmostEqual(epoch(st["renewable_until"]) - epoch(st["now"]), 3 * H,
                               delta=2 * M)
        t0 = self.warp.now()
        self.warp.sleep_until(t0 + 2 * H + 45 * M)
        st = self.status()
        self.assertEqual(st["state"], "not_signed_in", st)
        self.login()
        st = self.status()
        self.assertEqual((st["renewable_by"], st["renewable_source"]), ("sso", "observed"))
        left = epoch(st["renewable_until"]) - epoch(st["now"])
        self.assertTrue(H <= left <= 2 * H, st)
        # That survives a restart (state.json).
        self.s.stop_daemon()
        self.start()
        st2 = self.status()
        self.assertEqual(st2["renewable_source"], "observed")
        # state.json keeps whole seconds: the same end, to the second.
        self.assertAlmostEqual(epoch(st2["renewable_until"]), epoch(st["renewable_until"]),
                               delta=1)
        self.stop_clean()


class TestKmsiHorizon(HorizonBase):
    """Keep me signed in: the persistent cookie's expiry (AD FS
    KmsiLifetimeMins, 4 h here) is the horizon, not the 2 h SSO."""

    config = {"adfs": {"keep_me_signed_in": True}}
    world = adfs_world(sso_lifetime=2 * H, kmsi_enabled=True, kmsi_lifetime=4 * H)

    def test_kmsi_horizon(self):
        self.start()
        self.login()
        st = self.status()
        self.assertEqual((st["renewable_by"], st["renewable_source"]), ("kmsi", "cookie"), st)
        self.assertAlmostEqual(epoch(st["renewable_until"]) - epoch(st["now"]), 4 * H,
                               delta=2 * M)
        _, why = self.assert_boundary()
        self.assertIn("keep-me-signed-in cookie expires", why)
        self.stop_clean()


class TestPasswordHorizon(HorizonBase):
    """A remembered password renews whenever the SSO ends: unbounded."""

    config = {"adfs": {"remember_password": True}}

    def test_unbounded(self):
        self.start()
        self.login()
        st = self.status()
        self.assertEqual(st["renewable_by"], "password")
        self.assertIsNone(st["renewable_until"])
        self.assertIsNone(self.role(st)["served_until"])
        p = self.check(1000 * H)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("no end in sight", p.stdout)
        # Forgotten (logout): nothing renews, nothing is served.
        self.assertEqual(self.s.ctl("logout").returncode, 0)
        p = self.check(M)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("no valid credentials", p.stderr)
        self.stop_clean()


class TestWsTrustPasswordFile(HorizonBase):
    """WS-Trust with a password file: the password each round, from the
    file: unbounded. The same without any password at hand (prompt, not
    remembered) cannot renew at all: served until what is held."""

    def test_file_unbounded(self):
        pw = os.path.join(self.s.tmp, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(pw, 0o600)
        self.s.write_config({"roles": ROLES,
                             "adfs": {"auth": "wstrust", "password": "file:" + pw}})
        self.start()
        self.assertTrue(self.wait_valid(), self.s.log_text())
        st = self.status()
        self.assertEqual(st["renewable_by"], "password")
        p = self.check(100 * H)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.s.stop_daemon()

        self.s.write_config({"roles": ROLES, "adfs": {"auth": "wstrust"}})
        self.start()
        self.login()
        st = self.status()
        self.assertEqual(st["renewable_by"], "none")
        expires = epoch(self.role(st)["expires"])
        self.assertEqual(self.role(st)["served_until"], self.role(st)["expires"])
        self.assert_boundary(margin=5 * M)
        self.assertLess(expires - epoch(st["now"]), H + M)
        self.stop_clean()

    def wait_valid(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st = self.status()
            if self.role(st)["state"] == "valid":
                return True
            time.sleep(0.2)
        return False


class TestNotifyBefore(HorizonBase):
    """notify.before (30 min) ahead of the SSO's end, one desktop
    notification on a real session bus (dbus-daemon + python3-dbusmock's
    notification server), saying until when and what to do; not one per
    refresh; withdrawn when a new sign-in moves the horizon."""

    config = {"adfs": {"sso_lifetime": "2h"}, "notify": {"before": "30m"}}

    def test_one_warning(self):
        from sessionbus import SessionBus
        bus = SessionBus()
        self.addCleanup(bus.close)
        self.start(env=bus.env)
        self.login()
        st = self.status()
        ru = epoch(st["renewable_until"])
        self.warp.sleep_until(ru - 45 * M)
        self.assertEqual([n for n in bus.notifies() if "soon" in n.summary], [])
        self.warp.sleep_until(ru - 20 * M)
        soon = [n for n in bus.wait_notifies(1) if "soon" in n.summary]
        self.assertEqual(len(soon), 1, bus.notifies())
        self.assertIn("Renewal needs you after", soon[0].body)
        self.assertIn("adfs-credctl login", soon[0].body)
        self.assertIn("served until", soon[0].body)
        # Further refreshes before the end tell nothing new.
        self.warp.sleep_until(ru - 2 * M)
        soon = [n for n in bus.notifies() if "soon" in n.summary]
        self.assertEqual(len(soon), 1, bus.notifies())
        # Signed in again: a new horizon, and the warning is withdrawn.
        self.assertEqual(bus.closed_ids(), [])
        self.login()
        self.assertEqual(len(bus.wait_closed(1)), 1, bus.calls())
        self.assertGreater(epoch(self.status()["renewable_until"]), ru + H)
        self.stop_clean()


class TestKerberosHorizon(HorizonBase):
    """Kerberos: the TGT's end time in the credential cache, read anew at
    each status (kinit renews it), with renew_till; without a ticket, the
    SSO the last Kerberos sign-in started. A ticket ending within
    notify.before is told once on the session bus."""

    factor = 20

    def setUp(self):
        import krb5
        if not krb5.available():
            raise unittest.SkipTest("MIT Kerberos KDC tools are not installed")
        from test_kerberos import KerberosStack
        self.warp = Warp(self.factor)
        self.kdc = krb5.KDC()
        self.kdc.__enter__()
        self.addCleanup(self.kdc.__exit__, None, None, None)
        self.kdc.kinit(args=("-l", "3h", "-r", "1d"))
        # The SSO a Kerberos sign-in starts (1 h) ends before the ticket.
        self.s = KerberosStack(self.kdc, config={"roles": ROLES,
                                                 "adfs": {"sso_lifetime": "1h"},
                                                 "notify": {"before": "3h"}})
        self.addCleanup(self.s.close)

    def test_ticket_end(self):
        from sessionbus import SessionBus
        self.bus = SessionBus()
        self.addCleanup(self.bus.close)
        env = dict(self.kdc.client_env)
        env.update(self.bus.env)
        self.start(env=env)
        deadline = time.monotonic() + 30
        while self.role()["state"] != "valid" and time.monotonic() < deadline:
            time.sleep(0.2)
        st = self.status()
        self.assertEqual((st["renewable_by"], st["renewable_source"]), ("kerberos", "ticket"),
                         st)
        end = epoch(st["renewable_until"])
        # The KDC runs in real time: the ticket ends 3 h after kinit.
        self.assertAlmostEqual(end, time.time() + 3 * H, delta=5 * M)
        self.assertIsNotNone(st["kerberos_renew_till"])
        _, why = self.assert_boundary()
        self.assertIn("Kerberos ticket ends", why)
        # A longer ticket moves the horizon at once.
        self.kdc.kinit(args=("-l", "8h"))
        st = self.status()
        self.assertAlmostEqual(epoch(st["renewable_until"]), time.time() + 8 * H, delta=5 * M)
        # A ticket ending within notify.before (3 h here) is told once,
        # on the real session bus, as the Kerberos ticket's end.
        self.assertEqual(self.bus.wait_notifies(1)[0].summary, "adfs-credd: sign in again soon")
        soon = self.bus.notifies()
        self.assertEqual(len(soon), 1, soon)
        self.assertIn("the Kerberos ticket ends", soon[0].body)
        # No ticket: what the SSO the ticket started still gives (1 h
        # from when ADFS says the user authenticated).
        self.kdc.kdestroy()
        st = self.status()
        self.assertEqual(st["renewable_by"], "sso", st)
        self.assertLessEqual(epoch(st["renewable_until"]) - epoch(st["now"]), H)
        self.stop_clean()


class TestLoginStartsNewSso(StackChecks, unittest.TestCase):
    """`adfs-credctl login` while signed in is a new sign-in: the password
    is posted (a new SSO, a later horizon), not a cookie round that leaves
    the old SSO's end where it was. A login that fails (ADFS down) gives
    back the old SSO's cookies: renewal goes on with them."""

    def setUp(self):
        self.s = Stack(config={"roles": ROLES})
        self.addCleanup(self.s.close)

    def test_fresh_login(self):
        self.s.start_daemon()
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stderr)
        first = epoch(self.status()["renewable_until"])
        time.sleep(1.1)
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.s.adfs.stats()["password_posts"], 2)
        second = epoch(self.status()["renewable_until"])
        self.assertGreater(second, first)
        # ADFS fails the next login: the cookies it had come back.
        self.s.adfs.configure(fail_status=503, fail_count=-1)
        p = self.s.login()
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.s.adfs.configure(fail_count=0)
        rounds = self.s.adfs.stats()["cookie_rounds"]
        p = self.s.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        a = self.s.adfs.stats()
        self.assertEqual((a["password_posts"], a["cookie_rounds"]), (2, rounds + 1), a)
        self.assertEqual(epoch(self.status()["renewable_until"]), second)
        self.stop_clean()


class TestCheckExitCodes(StackChecks, unittest.TestCase):
    """check's exit statuses (adfs-credctl(1)): 3 when no daemon listens, 2
    for a usage error or no such role, 1 when nothing is held yet; exec
    --require the same, without running the command."""

    def setUp(self):
        self.s = Stack(config={"roles": None})
        self.addCleanup(self.s.close)

    def test_codes(self):
        marker = os.path.join(self.s.tmp, "ran")
        p = self.s.ctl("check", "--for", "1h")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("adfs-credd is not running", p.stderr)
        p = self.s.ctl("exec", "--require", "1h", "--", "touch", marker)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.s.start_daemon()
        for args in (("check", "--for", "0"), ("check", "--for", "soon"), ("check",),
                     ("check", "nope", "--for", "1h"),
                     ("exec", "--require", "bad", "--", "touch", marker)):
            p = self.s.ctl(*args)
            self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
        p = self.s.ctl("check", "--for", "1h")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("no role is held yet: run 'adfs-credctl login'", p.stderr)
        p = self.s.ctl("exec", "--require", "1h", "--", "touch", marker)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertFalse(os.path.exists(marker))
        self.stop_clean()


if __name__ == "__main__":
    unittest.main()
