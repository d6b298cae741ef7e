#!/usr/bin/env python3
"""Being told when a human is needed (issue 16, docs/internals/alerts.md):
the real daemon against a real, private session bus (dbus-daemon) with
python3-dbusmock's notification server on it, and the notify.command hook.

A password in a file: source that ADFS rejects is the failure: one
notification per failure, not one per round; a sign-in withdraws it; the
hook gets the event in argv and the environment, and nothing secret."""

import json
import os
import signal
import stat
import time
import unittest

from harness import DEV_ARN, PASSWORD, Stack, StackChecks, wait_until
from sessionbus import SessionBus

WRONG = "not-the-password-Zq7"
SUMMARY = "adfs-credd: sign-in needed"
URGENCY_CRITICAL = 2

HOOK = """#!/usr/bin/python3
import json, os, sys, time
with open({out!r}, "a") as f:
    f.write(json.dumps({{"argv": sys.argv, "env": dict(os.environ),
                        "stdin": sys.stdin.read(), "pid": os.getpid()}}) + "\\n")
time.sleep({sleep})
sys.exit({status})
"""


class AlertBase(StackChecks):
    def setUp(self):
        self.s = Stack()
        self.addCleanup(self.s.close)
        self.pwfile = os.path.join(self.s.tmp, "pw")
        self.write_password(WRONG)
        self.notify = {}
        self.configure()

    def configure(self, **notify):
        self.notify.update(notify)
        conf = {"adfs": {"password": f"file:{self.pwfile}"},
                "roles": [{"name": "dev", "arn": DEV_ARN}]}
        if self.notify:
            conf["notify"] = dict(self.notify)
        self.s.write_config(conf)

    def write_password(self, text):
        tmp = self.pwfile + ".new"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.pwfile)

    def wait_state(self, state):
        def reached():
            st = self.status()
            return st if st["state"] == state else None

        st = wait_until(reached, 30, interval=0.1)
        self.assertIsNotNone(st, f"never {state}:\n" + self.s.log_text())
        return st

    def fail_again(self):
        """A new failure after a sign-in: the user logs out (the SSO
        session would take the login without the password), the file
        holds a wrong password again, and the user asks for a login."""
        p = self.s.ctl("logout")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.write_password(WRONG)
        p = self.s.ctl("login", input="")
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.wait_state("failed")

    def creds(self):
        """(status, body) of the dev role's credentials, once served."""
        got = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(
            self.s.get("/role/dev", token=self.s.token())), 20, interval=0.1)
        if got:
            return got[0], got[2]
        st, _, body = self.s.get("/role/dev", token=self.s.token())
        return st, body

    def alerts_logged(self):
        return self.s.log_text().count(SUMMARY + ":")


class TestDesktopNotification(AlertBase, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.bus = SessionBus()
        self.addCleanup(self.bus.close)

    def test_signin_failed_once_then_withdrawn(self):
        self.s.start_daemon(env=self.bus.env)
        self.wait_state("failed")
        got = self.bus.wait_notifies(1)
        self.assertEqual(len(got), 1, got)
        n = got[0]
        self.assertEqual(n.app_name, "adfs-credd")
        self.assertEqual(n.replaces_id, 0)
        self.assertEqual(n.summary, SUMMARY)
        self.assertIn("Incorrect user ID or password", n.body)
        self.assertIn("Run 'adfs-credctl login'", n.body)
        self.assertEqual(n.hints.get("urgency"), URGENCY_CRITICAL, n.hints)
        self.assertEqual(n.expire_timeout, 0)
        self.assertEqual(n.actions, [])
        self.assertNotIn(WRONG, repr(self.bus.calls()))

        # More failing rounds of the same failure: a reload, and a login
        # the user asked for that sends the same wrong password again.
        self.s.daemon.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(
            lambda: "Configuration reloaded" in self.s.log_text(), 10))
        posts = self.s.adfs.stats()["password_posts"]
        p = self.s.ctl("login", input="")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.s.adfs.stats()["password_posts"], posts + 1)
        self.wait_state("failed")
        time.sleep(1)
        self.assertEqual(len(self.bus.notifies()), 1, self.bus.notifies())

        # Signed in again (the right password in the file): withdrawn.
        self.write_password(PASSWORD)
        self.wait_state("signed_in")
        self.assertEqual(self.bus.wait_closed(1), [1], self.s.log_text())
        self.assertEqual(len(self.bus.notifies()), 1)

        # A new failure is told again, as a new notification.
        self.fail_again()
        got = self.bus.wait_notifies(2)
        self.assertEqual(len(got), 2, got)
        self.assertEqual(got[1].summary, SUMMARY)
        self.assertEqual(got[1].replaces_id, 0)
        self.assertNotIn(WRONG, repr(self.bus.calls()))
        self.assertNotIn(PASSWORD, repr(self.bus.calls()))
        self.stop_clean()

    def test_desktop_false_sends_nothing(self):
        self.configure(desktop=False)
        self.s.start_daemon(env=self.bus.env)
        self.wait_state("failed")
        self.assertTrue(wait_until(lambda: self.alerts_logged() == 1, 10),
                        self.s.log_text())
        time.sleep(1)
        self.assertEqual(self.bus.calls(), [])
        self.stop_clean()


class TestNoDesktop(AlertBase, unittest.TestCase):
    def serves_after_failures(self, env, warning):
        self.s.start_daemon(env=env)
        self.wait_state("failed")
        self.assertTrue(wait_until(lambda: warning in self.s.log_text(), 10),
                        self.s.log_text())
        # Works on: signs in and serves.
        self.write_password(PASSWORD)
        self.wait_state("signed_in")
        st, body = self.creds()
        self.assertEqual(st, 200, body)
        self.assertIn("AccessKeyId", json.loads(body))
        # Another failure: alerted in the journal, the warning not again.
        self.fail_again()
        self.assertTrue(wait_until(lambda: self.alerts_logged() == 2, 10),
                        self.s.log_text())
        time.sleep(1)
        self.assertEqual(self.s.log_text().count(warning), 1, self.s.log_text())
        self.stop_clean()

    def test_no_session_bus(self):
        nowhere = os.path.join(self.s.tmp, "no-such-bus")
        self.serves_after_failures(
            {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={nowhere}"}, "No session bus")

    def test_no_notification_server(self):
        bus = SessionBus(server=False)
        self.addCleanup(bus.close)
        self.serves_after_failures(bus.env, "No notification server on the session bus")


class TestNotifyCommand(AlertBase, unittest.TestCase):
    def hook(self, status=0, sleep=0):
        self.out = os.path.join(self.s.tmp, "hook.jsonl")
        path = os.path.join(self.s.tmp, "hook")
        with open(path, "w") as f:
            f.write(HOOK.format(out=self.out, status=status, sleep=sleep))
        os.chmod(path, stat.S_IRWXU)
        return path

    def runs(self, n):
        def read():
            try:
                with open(self.out) as f:
                    lines = [json.loads(x) for x in f]
            except FileNotFoundError:
                return None
            return lines if len(lines) >= n else None

        got = wait_until(read, 20, interval=0.1)
        self.assertIsNotNone(got, self.s.log_text())
        return got

    def test_command_gets_the_event_and_no_secret(self):
        self.configure(desktop=False, command=self.hook(status=3))
        # The right password first: credentials are served, then a
        # failure while they are: none of them reaches the hook.
        self.write_password(PASSWORD)
        # What systemd gives the daemon is not the hook's: the
        # credentials directory (a password may be there) and a forged
        # event from the daemon's own environment.
        creds_dir = os.path.join(self.s.tmp, "credentials")
        os.mkdir(creds_dir, 0o700)
        self.s.start_daemon(env={"CREDENTIALS_DIRECTORY": creds_dir,
                                 "ADFS_CREDD_EVENT": "forged"})
        self.wait_state("signed_in")
        st, body = self.creds()
        self.assertEqual(st, 200, body)
        creds = json.loads(body)
        self.fail_again()

        run = self.runs(1)[0]
        self.assertEqual(run["argv"][1:], ["signin-failed"])
        env = run["env"]
        self.assertEqual(env["ADFS_CREDD_EVENT"], "signin-failed")
        self.assertEqual(env["ADFS_CREDD_SUMMARY"], SUMMARY)
        self.assertIn("Incorrect user ID or password", env["ADFS_CREDD_BODY"])
        self.assertIn("Run 'adfs-credctl login'", env["ADFS_CREDD_BODY"])
        self.assertEqual(env["ADFS_CREDD_WHEN"], "")
        self.assertEqual(run["stdin"], "")
        dump = json.dumps(run)
        for secret in (WRONG, PASSWORD, creds["SecretAccessKey"], creds["Token"],
                       creds["AccessKeyId"], self.s.token().strip()):
            self.assertNotIn(secret, dump)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "AWS_CONTAINER_AUTHORIZATION_TOKEN", "CREDENTIALS_DIRECTORY"):
            self.assertNotIn(k, env)
        # Its failure is said; the daemon goes on.
        self.assertTrue(wait_until(
            lambda: "exited with status 3" in self.s.log_text(), 10),
            self.s.log_text())
        # The same failure again: no second run.
        p = self.s.ctl("login", input="")
        self.assertNotEqual(p.returncode, 0)
        self.wait_state("failed")
        time.sleep(1)
        self.assertEqual(len(self.runs(1)), 1)
        self.assertEqual(self.status()["state"], "failed")
        self.stop_clean()

    def test_command_one_at_a_time_and_stopped_after_60s(self):
        self.configure(desktop=False, command=self.hook(sleep=600))
        self.s.start_daemon()
        self.wait_state("failed")
        first = self.runs(1)[0]
        # Signed in, then a new failure while the first hook still runs:
        # no second instance.
        self.write_password(PASSWORD)
        self.wait_state("signed_in")
        self.fail_again()
        self.assertTrue(wait_until(lambda: self.alerts_logged() == 2, 10),
                        self.s.log_text())
        self.assertTrue(wait_until(
            lambda: "notify.command for signin-failed is still running"
            in self.s.log_text(), 10), self.s.log_text())
        self.assertEqual(len(self.runs(1)), 1)
        # 60 s after its start: SIGTERM, said, and reaped.
        self.assertTrue(wait_until(
            lambda: "was killed by SIGTERM" in self.s.log_text(), 90),
            self.s.log_text())
        self.assertIn("notify.command for signin-failed still runs after 60s",
                      self.s.log_text())
        # Reaped (sd-event reaps once the exit was handled).
        self.assertTrue(wait_until(
            lambda: not os.path.exists(f"/proc/{first['pid']}"), 10))
        self.assertEqual(self.status()["state"], "failed")
        self.stop_clean()


if __name__ == "__main__":
    unittest.main()
