"""Audit lines (issue 8): a served read is logged at once the first time a
peer reads a role in a 10 s window; the repeats in that window are counted
and logged as one `repeats=N` line when it ends, or at exit. Since issue
15 refusals are counted the same way (the first line per peer, endpoint,
role and status in a window, then repeats=N), and audit lines are notice
lines, written at every log_level."""

import os
import re
import time
import unittest

from harness import DEV_ARN, Stack, StackChecks, wait_until

SERVED = re.compile(r"audit: ecs role=dev peer_uid=(-?\d+) status=200$", re.M)
REPEATS = re.compile(r"audit: ecs role=dev peer_uid=(-?\d+) status=200 repeats=(\d+)$", re.M)
REFUSED = re.compile(r"audit: ecs role=- peer_uid=-?\d+ status=403 reason=", re.M)
REFUSED_REPEATS = re.compile(r"audit: ecs role=- peer_uid=-?\d+ status=403 repeats=(\d+)$",
                             re.M)


class TestAuditWindow(StackChecks, unittest.TestCase):
    def setUp(self):
        self.s = Stack(config={"roles": [{"name": "dev", "arn": DEV_ARN}],
                               "log_level": "info"})
        self.addCleanup(self.s.close)
        self.s.start_daemon()
        self.assertEqual(self.s.login().returncode, 0)

    def counts(self, log):
        """(served lines, their uids, sum of repeats) for role dev."""
        served = SERVED.findall(log)
        repeats = REPEATS.findall(log)
        return len(served), set(served) | {u for u, _ in repeats}, \
            sum(int(n) for _, n in repeats)

    def wait_for_total(self, total, timeout=25):
        """Waits until the served lines and the repeats account for total
        reads; returns (lines, uids, repeats)."""
        def accounted():
            c = self.counts(self.s.log_text())
            return c if c[0] + c[2] >= total else None

        c = wait_until(accounted, timeout, interval=0.2)
        if c:
            return c
        self.fail(f"the audit does not account for {total} reads:\n{self.s.log_text()}")

    def test_repeats_counted_refusals_counted(self):
        token = self.s.token()
        uid = str(os.geteuid())
        t0 = time.monotonic()
        for _ in range(30):
            st, _, _ = self.s.get("/role/dev", token=token)
            self.assertEqual(st, 200)
        elapsed = time.monotonic() - t0
        for _ in range(3):
            st, _, _ = self.s.get("/role/dev", token="wrong")
            self.assertEqual(st, 403)
        log = self.s.log_text()
        self.assertEqual(len(REFUSED.findall(log)), 1, log)
        # One line per 10 s window at most (the 30 reads take well under
        # one window unless the machine crawls), never one per read.
        lines = len(SERVED.findall(log))
        self.assertGreaterEqual(lines, 1, log)
        self.assertLessEqual(lines, 1 + int(elapsed // 9), log)
        # The window ends: a repeats=N line accounts for the other reads.
        lines, uids, repeats = self.wait_for_total(30)
        self.assertEqual((lines + repeats, uids), (30, {uid}))
        self.assertGreater(repeats, 0)
        # A new window: the next read is logged at once again.
        st, _, _ = self.s.get("/role/dev", token=token)
        self.assertEqual(st, 200)
        self.assertEqual(self.counts(self.s.log_text())[0], lines + 1)
        # Repeats still counted at SIGTERM are logged before the exit.
        for _ in range(4):
            self.assertEqual(self.s.get("/role/dev", token=token)[0], 200)
        log = self.stop_clean()
        n, uids, rep = self.counts(log)
        self.assertEqual((n + rep, uids), (35, {uid}), log)
        self.assertEqual(len(REFUSED.findall(log)) +
                         sum(int(x) for x in REFUSED_REPEATS.findall(log)), 3, log)

    def test_warning_level_keeps_the_audit(self):
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
        # The audit trail is not debug output (issue 15): one line, then
        # repeats=4, at log_level: warning too.
        self.assertRegex(log, r"notice: audit: ecs role=dev peer_uid=\d+ status=200\n")
        self.assertRegex(log, r"notice: audit: ecs role=dev peer_uid=\d+ status=200 repeats=4")


if __name__ == "__main__":
    unittest.main()
