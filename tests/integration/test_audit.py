"""Audit lines (issue 8): a served read is logged at once the first time a
peer reads a role in a 10 s window; the repeats in that window are counted
and logged as one `repeats=N` line when it ends, or at exit. Refusals keep
one line each."""

import os
import re
import time
import unittest

from harness import DEV_ARN, Stack, StackChecks

SERVED = re.compile(r"audit: ecs role=dev peer_uid=(-?\d+) status=200$", re.M)
REPEATS = re.compile(r"audit: ecs role=dev peer_uid=(-?\d+) status=200 repeats=(\d+)$", re.M)
REFUSED = re.compile(r"audit: ecs role=- peer_uid=-?\d+ status=403 reason=", re.M)


class TestAuditWindow(StackChecks, unittest.TestCase):
    def setUp(self):
        self.s = Stack(config={"roles": [{"name": "dev", "arn": DEV_ARN}],
                               "log_level": "info"})
        self.addCleanup(self.s.close)
        self.s.start_daemon()
        self.assertEqual(self.s.login().returncode, 0)

    def wait_for(self, pattern, n, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = pattern.findall(self.s.log_text())
            if len(found) >= n:
                return found
            time.sleep(0.2)
        self.fail(f"fewer than {n} lines match {pattern.pattern}:\n{self.s.log_text()}")

    def test_repeats_counted_refusals_each_logged(self):
        token = self.s.token()
        t0 = time.monotonic()
        for _ in range(30):
            st, _, _ = self.s.get("/role/dev", token=token)
            self.assertEqual(st, 200)
        for _ in range(3):
            st, _, _ = self.s.get("/role/dev", token="wrong")
            self.assertEqual(st, 403)
        log = self.s.log_text()
        self.assertEqual(len(SERVED.findall(log)), 1, log)
        self.assertEqual([int(u) for u in SERVED.findall(log)], [os.geteuid()])
        self.assertEqual(len(REFUSED.findall(log)), 3, log)
        if time.monotonic() - t0 < 9:  # still inside the window
            self.assertEqual(REPEATS.findall(log), [], log)
        # The window ends: one line with the 29 repeats.
        found = self.wait_for(REPEATS, 1)
        self.assertEqual(found, [(str(os.geteuid()), "29")])
        # A new window: the next read is logged at once again.
        st, _, _ = self.s.get("/role/dev", token=token)
        self.assertEqual(st, 200)
        self.wait_for(SERVED, 2, timeout=5)
        # Repeats still counted at SIGTERM are logged before the exit.
        for _ in range(4):
            self.assertEqual(self.s.get("/role/dev", token=token)[0], 200)
        log = self.stop_clean()
        self.assertEqual(REPEATS.findall(log), [(str(os.geteuid()), "29"),
                                                (str(os.geteuid()), "4")], log)
        self.assertEqual(len(SERVED.findall(log)), 2, log)

    def test_warning_level_logs_no_served_reads(self):
        self.s.stop_daemon()
        self.s.write_config({"roles": [{"name": "dev", "arn": DEV_ARN}],
                             "log_level": "warning"})
        self.s.start_daemon()
        with open(self.s.daemon_log) as f:
            f.seek(0, 2)
            start = f.tell()
        for _ in range(5):
            self.assertEqual(self.s.get("/role/dev", token=self.s.token())[0], 200)
        log = self.stop_clean()[start:]
        self.assertNotRegex(log, r"audit: ecs role=dev .*status=200")


if __name__ == "__main__":
    unittest.main()
