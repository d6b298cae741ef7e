"""Azure MFA push end to end: after the password, the ADFS emulator shows
the push page (number matching: p#validEntropyNumber); `adfs-credctl login
--password-stdin` prints the number to match and waits while the daemon
re-submits the page; ADFS approves after two polls (or denies)."""

import json
import os
import unittest

from harness import DEV_ARN, EMU, Stack, StackChecks

CAROL, CAROL_PASSWORD = "EXAMPLE\\carol", "Push-Me-3"
DAVE, DAVE_PASSWORD = "EXAMPLE\\dave", "Deny-Me-4"
ROLES = ["arn:aws:iam::111122223333:role/ADFS-Dev,arn:aws:iam::111122223333:saml-provider/ADFS"]


def push_users():
    with open(os.path.join(EMU, "world.example.json")) as f:
        users = json.load(f)["users"]
    return users + [
        {"username": CAROL, "password": CAROL_PASSWORD, "roles": ROLES,
         "mfa": {"type": "push", "auth_method": "AzureMfaAuthentication", "number": "42",
                 "approve_after_polls": 2, "deny": False}},
        {"username": DAVE, "password": DAVE_PASSWORD, "roles": ROLES,
         "mfa": {"type": "push", "auth_method": "AzureMfaAuthentication",
                 "approve_after_polls": 2, "deny": True}},
    ]


class PushTest(StackChecks, unittest.TestCase):
    user = CAROL

    def setUp(self):
        self.s = Stack(config={"adfs": {"username": self.user},
                               "roles": [{"name": "dev", "arn": DEV_ARN}]},
                       world={"users": push_users()})
        self.addCleanup(self.s.close)
        self.s.start_daemon()

class TestPushApproved(PushTest):
    def test_number_shown_and_approval_waited_for(self):
        p = self.s.ctl("login", "--password-stdin", input=CAROL_PASSWORD + "\n", timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        self.assertIn("42", p.stdout)
        a = self.s.adfs.stats()
        self.assertEqual(a["password_posts"], 1, a)
        self.assertEqual(a["mfa_prompts"], 1, a)
        self.assertGreaterEqual(a["mfa_polls"], 2, a)
        self.assertEqual(a["mfa_successes"], 1, a)
        self.assertEqual(a["mfa_failures"], 0, a)
        st, _, body = self.s.get("/role/dev", token=self.s.token())
        self.assertEqual(st, 200, body)
        self.assertIs(self.status()["signed_in"], True)
        log = self.stop_clean()
        self.assertNotIn(CAROL_PASSWORD, log)


class TestPushDenied(PushTest):
    user = DAVE

    def test_denial_fails_the_login(self):
        p = self.s.ctl("login", "--password-stdin", input=DAVE_PASSWORD + "\n", timeout=120)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("The request was denied", p.stdout + p.stderr)
        a = self.s.adfs.stats()
        self.assertEqual(a["password_posts"], 1, a)
        self.assertEqual(a["mfa_failures"], 1, a)
        self.assertEqual(a["mfa_successes"], 0, a)
        # The daemon stops at the denial instead of polling on.
        self.assertEqual(a["mfa_polls"], 2, a)
        self.assertIs(self.status()["signed_in"], False)
        self.stop_clean()


if __name__ == "__main__":
    unittest.main()
