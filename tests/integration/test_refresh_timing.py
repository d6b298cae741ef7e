"""Refresh timing fixed with issue 4, under accelerated time (tests/timewarp,
as in test_long_job.py): a failed ADFS round backs off instead of starting a
cycle every second; a cycle that outlives its SAML assertion fetches a new
one; a sign-in at start that met an unreachable ADFS is retried."""

import copy
import json
import os
import unittest

from harness import DEV_ARN, PASSWORD, PROD_ARN, Stack
from test_long_job import WORLD, Warp, epoch

M = 60


class Base(unittest.TestCase):
    factor = 200
    roles = [{"name": "prod", "arn": PROD_ARN}]
    world = WORLD
    extra = {}

    def setUp(self):
        self.warp = Warp(self.factor)
        self.s = Stack(config=dict({"roles": self.roles}, **self.extra),
                       world=self.world, emulator_env=self.warp.env())
        self.addCleanup(self.s.close)

    def start(self):
        # Awake time 10 times slower than the wall clock, as in the long job.
        self.s.start_daemon(env=self.warp.env(self.s.daemon_bin, self.factor / 10))

    def roles_status(self):
        p = self.s.ctl("status", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)


class TestAdfsOutage(Base):
    def test_failed_adfs_round_backs_off(self):
        self.start()
        self.assertEqual(self.s.login().returncode, 0, self.s.log_text())
        prod = self.roles_status()["roles"][0]
        planned, expires = epoch(prod["next_refresh"]), epoch(prod["expires"])

        # ADFS is down from just before prod's planned refresh.
        self.warp.sleep_until(planned - M)
        self.s.adfs.configure(fail_status=503, fail_count=-1)
        self.warp.sleep_until(planned + 10 * M)
        tries = self.s.adfs.stats()["faults_injected"].get("fail", 0)
        # 30 s, 1, 2, 4 min apart: 4 or 5 rounds in 10 min (it was one
        # about every second: ~600).
        self.assertGreaterEqual(tries, 3)
        self.assertLessEqual(tries, 6)
        st = self.roles_status()
        prod = st["roles"][0]
        self.assertEqual(prod["state"], "valid")
        self.assertIn("503", prod["last_error"] or "")
        code, _, _ = self.s.get("/role/prod", token=self.s.token())
        self.assertEqual(code, 200, "the old credentials are still served")

        # ADFS is back: the next try refreshes.
        self.s.adfs.configure(fail_count=0)
        self.warp.sleep_until(planned + 20 * M)
        prod = self.roles_status()["roles"][0]
        self.assertIsNone(prod["last_error"])
        self.assertGreater(epoch(prod["expires"]), expires)


class TestSlowSts(Base):
    # Each AssumeRoleWithSAML takes 29 s: two probed roles need 10 calls,
    # more than the 5 minutes STS gives an assertion.
    factor = 20
    roles = [{"name": "dev", "arn": DEV_ARN}, {"name": "prod", "arn": PROD_ARN}]
    world = copy.deepcopy(WORLD)
    world["roles"][DEV_ARN].update(max_session_duration=3600, get_role=False)

    def test_cycle_fetches_a_new_assertion(self):
        self.start()
        self.s.sts.configure(delay=29, delay_count=-1, fault_ops=["AssumeRoleWithSAML"])
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        st = self.roles_status()
        self.assertEqual([r["state"] for r in st["roles"]], ["valid", "valid"])
        log = self.s.log_text()
        self.assertIn("fetching a new one", log)
        self.assertNotIn(": error:", log)
        sts = self.s.sts.stats()
        self.assertNotIn("ExpiredTokenException", sts.get("assume_errors", {}))
        self.assertEqual(sts["assume_calls"], 10)
        adfs = self.s.adfs.stats()
        self.assertEqual((adfs["password_posts"], adfs["cookie_rounds"]), (1, 1))


class TestSignInAtStartRetried(Base):
    def test_unreachable_adfs_at_start(self):
        pwfile = os.path.join(self.s.tmp, "password")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(pwfile, 0o600)
        self.s.write_config({"roles": self.roles,
                             "adfs": {"password": f"file:{pwfile}"}})
        self.s.adfs.configure(fail_status=503, fail_count=-1)
        t0 = self.warp.now()
        self.start()
        self.warp.sleep_until(t0 + 3 * M)
        self.assertEqual(self.roles_status()["state"], "signed_out")
        self.s.adfs.configure(fail_count=0)
        # Tries at 30 s, 1.5 min, 3.5 min, 7.5 min ...: signed in by 8 min.
        self.warp.sleep_until(t0 + 9 * M)
        st = self.roles_status()
        self.assertEqual(st["state"], "signed_in", self.s.log_text())
        self.assertEqual(st["roles"][0]["state"], "valid")
        self.assertEqual(self.s.adfs.stats()["password_posts"], 1)


if __name__ == "__main__":
    unittest.main()
