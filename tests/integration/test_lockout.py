#!/usr/bin/env python3
"""Lockout safety over time: a wrong password in a file: source is sent to
ADFS once, and not again after a reload that keeps the source, nor after
daemon restarts (the rejection is saved in state.json as the file's name
and version, nothing derived from the password). A new version of the
file is signed in with by itself; `login` tries the file again."""

import os
import signal
import unittest

from harness import DEV_ARN, PASSWORD, Stack, StackChecks, wait_until

WRONG = "not-the-password"


class TestRejectedPasswordFile(StackChecks, unittest.TestCase):
    def setUp(self):
        self.s = Stack()
        self.addCleanup(self.s.close)
        self.pwfile = os.path.join(self.s.tmp, "pw")
        self.write_password(WRONG)
        self.s.write_config({"adfs": {"password": f"file:{self.pwfile}"},
                             "roles": [{"name": "dev", "arn": DEV_ARN}]})

    def write_password(self, text):
        # Written anew (a new inode), as editors and config managers do.
        tmp = self.pwfile + ".new"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.pwfile)

    def posts(self):
        return self.s.adfs.stats()["password_posts"]

    def saved(self):
        with open(os.path.join(self.s.state_dir, "state.json")) as f:
            return f.read().replace(" ", "")

    def wait_state(self, state):
        def reached():
            st = self.status()
            return st if st["state"] == state else None

        st = wait_until(reached, 30, interval=0.1)
        self.assertIsNotNone(st, f"never {state}:\n" + self.s.log_text())
        return st

    def test_rejected_file_is_not_resent(self):
        self.s.start_daemon()
        st = self.wait_state("failed")
        self.assertEqual(self.posts(), 1)
        self.assertIn("Incorrect user ID or password", st["error"])
        saved = self.saved()
        self.assertIn('"rejected_source":{"ref":"file:', saved)
        self.assertNotIn(WRONG, saved)

        # A reload that keeps the source: nothing sent.
        self.s.daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: "Configuration reloaded" in self.s.log_text(), 10)
        self.assertEqual(self.posts(), 1)

        # Restarts, as Restart=on-failure or a reboot would do them.
        for _ in range(3):
            self.stop_clean()
            self.s.start_daemon()
            st = self.wait_state("failed")
            self.assertIn("ADFS rejected the password in file:", st["error"])
            self.assertEqual(self.posts(), 1, self.s.log_text())
        # Said once per run, not at every look (the error; the
        # signin-failed alert repeats it once per run too).
        self.assertEqual(self.s.log_text().count(
            "error: ADFS rejected the password in file:"), 3, self.s.log_text())
        self.assertEqual(self.s.log_text().count("put the right one there"), 6)

        # The right password written to the file: signed in by itself.
        self.write_password(PASSWORD)
        self.wait_state("signed_in")
        self.assertEqual(self.posts(), 2)
        # Saved when the cycle ends: the rejection is forgotten.
        self.assertTrue(wait_until(
            lambda: '"rejected_source":null' in self.saved(), 30),
            self.saved())
        self.stop_clean()

    def test_login_tries_the_file_again(self):
        self.s.start_daemon()
        self.wait_state("failed")
        self.stop_clean()
        self.s.start_daemon()
        self.wait_state("failed")
        self.assertEqual(self.posts(), 1)
        # The same wrong file, but the user asked: sent once more.
        p = self.s.ctl("login", input="")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.posts(), 2)
        self.wait_state("failed")
        # Fixed in place (same inode, a new mtime): signed in by itself.
        with open(self.pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        self.wait_state("signed_in")
        self.assertEqual(self.posts(), 3)
        self.stop_clean()


if __name__ == "__main__":
    unittest.main()
