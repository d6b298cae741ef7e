"""What `adfs-credctl login` shows while it waits, and Ctrl-C (issue 17):
on a terminal (the CLI runs on a pty here) one line rewritten with \\r: an
Azure MFA push's countdown with the number to match, or how many roles are
assumed; off a terminal one push line and no more. SIGINT cancels the
daemon's sign-in at once (POST /v1/login/cancel): the CLI exits 130, the
daemon stops polling ADFS, and the next login works at once. `login
--force` replaces a login stuck on a push nobody approves; without it a
busy daemon says to use --force."""

import json
import os
import re
import select
import signal
import subprocess
import time
import unittest

from harness import DEV_ARN, EMU, Stack, StackChecks, wait_until
from test_mfa_push import CAROL, CAROL_PASSWORD, ROLES, push_users

ERIN, ERIN_PASSWORD = "EXAMPLE\\erin", "Never-Mind-5"
# Under valgrind the daemon answers several times slower.
SLOW = 5 if os.environ.get("ADFS_CREDD_VALGRIND") == "1" else 1
ACCOUNT = "111122223333"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/ADFS"
N_ROLES = 6


def erin_mfa(approve_after_polls):
    return {"type": "push", "auth_method": "AzureMfaAuthentication", "number": "77",
            "approve_after_polls": approve_after_polls, "deny": False}


def world():
    """carol (push approved after two polls), erin (a push nobody approves)
    and both offered several roles."""
    many = [f"arn:aws:iam::{ACCOUNT}:role/ADFS-R{i},{PROVIDER}" for i in range(N_ROLES)]
    users = push_users()
    for u in users:
        if u["username"] == CAROL:
            u["roles"] = ROLES + many
    users.append({"username": ERIN, "password": ERIN_PASSWORD, "roles": ROLES,
                  "mfa": erin_mfa(100000)})
    with open(os.path.join(EMU, "world.example.json")) as f:
        roles = json.load(f)["roles"]
    for i in range(N_ROLES):
        roles[f"arn:aws:iam::{ACCOUNT}:role/ADFS-R{i}"] = {
            "max_session_duration": 3600, "get_role": False, "provider": PROVIDER}
    return {"users": users, "roles": roles}


class PtyCtl:
    """adfs-credctl with stdout and stderr on a pseudo-terminal (isatty
    is true, as in a person's shell) and stdin a pipe."""

    def __init__(self, s, *args, stdin_text=None):
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen([s.ctl_bin, "-c", s.config_path, *args],
                                     stdin=subprocess.PIPE, stdout=slave, stderr=slave)
        os.close(slave)
        self.out = b""
        if stdin_text is not None:
            self.proc.stdin.write(stdin_text.encode())
            self.proc.stdin.flush()

    def pump(self, timeout=0.1):
        """Reads what is there; False once nothing more can come."""
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return self.proc.poll() is None
        try:
            data = os.read(self.master, 4096)
        except OSError:  # EIO: the CLI has exited, all read
            return False
        self.out += data
        return bool(data)

    def wait_for(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.text()):
                return True
            if not self.pump():
                break
        return bool(re.search(pattern, self.text()))

    def finish(self, timeout=120):
        """Reads until the CLI exits; its exit status."""
        deadline = time.monotonic() + timeout
        while self.pump() and time.monotonic() < deadline:
            pass
        rc = self.proc.wait(timeout=max(1, deadline - time.monotonic()))
        self.close()
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdin.close()
        try:
            os.close(self.master)
        except OSError:
            pass

    def text(self):
        return self.out.decode(errors="replace")


class WaitTest(StackChecks, unittest.TestCase):
    user = CAROL
    roles = [{"name": "dev", "arn": DEV_ARN}]

    def setUp(self):
        self.s = Stack(config={"adfs": {"username": self.user}, "roles": self.roles},
                       world=world())
        self.addCleanup(self.s.close)
        self.s.start_daemon()

    def pty_login(self, password, *extra):
        c = PtyCtl(self.s, "login", "--password-stdin", *extra, stdin_text=password + "\n")
        self.addCleanup(c.close)
        return c

    def progress(self):
        return self.status().get("progress")

    def idle(self):
        st = self.status()
        return st.get("progress") is None and st["state"] not in ("signing_in", "mfa_pending")


class TestPushCountdown(WaitTest):
    def test_countdown_with_number_on_a_terminal(self):
        c = self.pty_login(CAROL_PASSWORD)
        rc = c.finish()
        out = c.text()
        self.assertEqual(rc, 0, out + self.s.log_text())
        # The line is rewritten in place: several counts, each after \r.
        counts = re.findall(r"\r\x1b\[KApprove on your device, number 42: (\d:\d\d) left", out)
        self.assertTrue(counts, out)
        self.assertRegex(counts[0], r"^(2:00|1:5\d)$", out)
        self.assertGreaterEqual(len(set(counts)), 2, out)
        # The old stdout line is not printed as well on a terminal.
        self.assertNotIn("Number to enter", out)
        self.assertIn("signed in as", out)

    def test_one_line_off_a_terminal(self):
        p = self.s.ctl("login", "--password-stdin", input=CAROL_PASSWORD + "\n")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        lines = [l for l in (p.stdout + p.stderr).splitlines() if "Approve" in l]
        self.assertEqual(len(lines), 1, p.stdout + p.stderr)
        self.assertRegex(lines[0], r"Number to enter: 42 \(waiting (2:00|1:5\d) for it\)$")
        self.assertNotIn("\r", p.stdout + p.stderr)
        self.assertNotIn("\x1b", p.stdout + p.stderr)


class TestRoleProgress(WaitTest):
    roles = [{"name": "dev", "arn": DEV_ARN}] + [
        {"name": f"r{i}", "arn": f"arn:aws:iam::{ACCOUNT}:role/ADFS-R{i}"}
        for i in range(N_ROLES)]

    def test_roles_counted_while_assumed(self):
        # Each AssumeRoleWithSAML takes 0.5 s: the roles take seconds.
        self.s.sts.configure(delay=0.5, delay_count=-1,
                             fault_ops=["AssumeRoleWithSAML"])
        c = self.pty_login(CAROL_PASSWORD)
        rc = c.finish()
        out = c.text()
        self.assertEqual(rc, 0, out + self.s.log_text())
        done = [int(n) for n in re.findall(r"\r\x1b\[KSigning in: (\d)/7 roles", out)]
        self.assertTrue(done, out)
        self.assertEqual(done, sorted(done), out)
        self.assertGreaterEqual(len(set(done)), 2, out)
        self.assertIsNone(self.progress())


class StuckTest(WaitTest):
    user = ERIN

    def wait_pending(self):
        self.assertTrue(wait_until(lambda: (self.progress() or {}).get("phase") == "mfa", 30),
                        self.s.log_text())
        p = self.progress()
        self.assertEqual(p and p["phase"], "mfa", p)

    def approve_next(self):
        self.s.adfs.configure(user_overrides={ERIN: {"mfa": erin_mfa(1)}})


class TestPushInstructions(StuckTest):
    def test_instructions_once_above_the_countdown(self):
        # A push without a number: ADFS's own text instead.
        self.s.adfs.configure(user_overrides={ERIN: {"mfa": dict(
            erin_mfa(1), number="")}})
        c = self.pty_login(ERIN_PASSWORD)
        rc = c.finish()
        out = c.text()
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.count("ADFS: We've sent a notification"), 1, out)
        self.assertRegex(out, r"\r\x1b\[KApprove on your device: \d:\d\d left")
        self.assertNotIn("number", out)


class TestInterrupt(StuckTest):
    def test_ctrl_c_cancels_the_sign_in(self):
        c = self.pty_login(ERIN_PASSWORD)
        self.assertTrue(c.wait_for(r"number 77: \d:\d\d left", 30), c.text())
        self.wait_pending()
        polls = self.s.adfs.stats()["mfa_polls"]
        t = time.monotonic()
        c.proc.send_signal(signal.SIGINT)
        rc = c.finish(10 * SLOW)
        self.assertEqual(rc, 130, c.text())
        self.assertIn("the sign-in was cancelled", c.text())
        self.assertTrue(wait_until(self.idle, 1.0 * SLOW), self.status())
        self.assertLess(time.monotonic() - t, 2.5 * SLOW)
        st = self.status()
        self.assertFalse(st["signed_in"], st)
        self.assertEqual(st["state"], "signed_out", st)
        # The push is no longer polled (ADFS_PUSH_POLL_INTERVAL is 3 s).
        time.sleep(4)
        self.assertLessEqual(self.s.adfs.stats()["mfa_polls"], polls + 1)
        # At once a new login works (no "already running"), and the
        # password went to ADFS once per login: nothing retried it.
        self.approve_next()
        p = self.s.ctl("login", "--password-stdin", input=ERIN_PASSWORD + "\n")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        a = self.s.adfs.stats()
        self.assertEqual(a["password_posts"], 2, a)
        self.assertIs(self.status()["signed_in"], True)
        self.assertNotIn(ERIN_PASSWORD, self.stop_clean())


class TestClientGone(StuckTest):
    def test_killed_login_cancels_the_sign_in(self):
        # No Ctrl-C handler runs: the daemon sees the connection close.
        c = self.pty_login(ERIN_PASSWORD)
        self.wait_pending()
        # The CLI has come back with POST /v1/mfa and waits in it.
        self.assertTrue(wait_until(lambda: self.status()["state"] == "signing_in", 10))
        c.proc.kill()
        c.finish(10)
        self.assertTrue(wait_until(self.idle, 1.0 * SLOW), self.status())
        self.assertIn("adfs-credctl went away", self.s.log_text())
        self.approve_next()
        p = self.s.ctl("login", "--password-stdin", input=ERIN_PASSWORD + "\n")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.stop_clean()


class TestInterruptRemembered(StuckTest):
    """With adfs.remember_password the daemon would keep the password for
    renewals: a cancelled login's password goes all the same, and nothing
    sends it (nor pushes to the phone) by itself."""

    def setUp(self):
        self.s = Stack(config={"adfs": {"username": self.user, "remember_password": True},
                               "roles": self.roles}, world=world())
        self.addCleanup(self.s.close)
        self.s.start_daemon()

    def test_cancelled_password_is_not_sent_again(self):
        c = self.pty_login(ERIN_PASSWORD)
        self.assertTrue(c.wait_for(r"number 77: \d:\d\d left", 30), c.text())
        self.wait_pending()
        c.proc.send_signal(signal.SIGINT)
        self.assertEqual(c.finish(10 * SLOW), 130, c.text())
        self.assertTrue(wait_until(self.idle, 1.0 * SLOW), self.status())
        st = self.status()
        self.assertIs(st["password_held"], False, st)
        # The timer (and a refresh) would sign in again with it at once.
        p = self.s.ctl("refresh")
        time.sleep(3)
        a = self.s.adfs.stats()
        self.assertEqual(a["password_posts"], 1, a)
        self.assertEqual(a["mfa_prompts"], 1, a)
        self.assertTrue(self.idle(), self.status())


class TestInterruptAtCodePrompt(WaitTest):
    user = "EXAMPLE\\bob"

    def test_ctrl_c_while_the_code_is_asked(self):
        # stdin stays open: the CLI waits for the code line.
        c = PtyCtl(self.s, "login", "--password-stdin", stdin_text="Battery-Staple-2\n")
        self.addCleanup(c.close)
        self.assertTrue(wait_until(lambda: self.status()["state"] == "mfa_pending", 30))
        time.sleep(0.3)
        c.proc.send_signal(signal.SIGINT)
        self.assertEqual(c.finish(10 * SLOW), 130, c.text())
        self.assertIn("the sign-in was cancelled", c.text())
        self.assertNotIn("no verification code given", c.text())
        self.assertTrue(wait_until(self.idle, 1.0 * SLOW), self.status())
        self.stop_clean()


class TestForce(StuckTest):
    def test_force_replaces_a_stuck_login(self):
        stuck = subprocess.Popen([self.s.ctl_bin, "-c", self.s.config_path, "login",
                                  "--password-stdin"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: stuck.poll() is None and stuck.kill())
        stuck.stdin.write(ERIN_PASSWORD + "\n")
        stuck.stdin.close()
        stuck.stdin = None  # communicate() below only reads
        self.wait_pending()
        p = self.s.ctl("login", "--password-stdin", input=ERIN_PASSWORD + "\n")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("already running", p.stderr)
        self.assertIn("--force", p.stderr)
        self.approve_next()
        p = self.s.ctl("login", "--password-stdin", "--force", input=ERIN_PASSWORD + "\n")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        self.assertIs(self.status()["signed_in"], True)
        out, err = stuck.communicate(timeout=10)
        self.assertEqual(stuck.returncode, 1, out + err)
        self.assertIn("cancelled", out + err)
        self.assertIsNone(self.progress())
        a = self.s.adfs.stats()
        self.assertEqual(a["password_posts"], 2, a)
        self.stop_clean()


class TestStopWhileWaiting(StuckTest):
    def test_sigterm_answers_the_waiting_login(self):
        # libmicrohttpd aborts the daemon when it stops with a request
        # still suspended (the login waiting on the push).
        stuck = subprocess.Popen([self.s.ctl_bin, "-c", self.s.config_path, "login",
                                  "--password-stdin"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: stuck.poll() is None and stuck.kill())
        stuck.stdin.write(ERIN_PASSWORD + "\n")
        stuck.stdin.close()
        stuck.stdin = None
        self.wait_pending()
        # The CLI has come back with POST /v1/mfa: the daemon waits on
        # the push for it.
        self.assertTrue(wait_until(lambda: self.status()["state"] == "signing_in", 10))
        self.stop_clean()
        out, err = stuck.communicate(timeout=10)
        self.assertEqual(stuck.returncode, 1, out + err)
        self.assertIn("adfs-credd is stopping", out + err)


if __name__ == "__main__":
    unittest.main()
