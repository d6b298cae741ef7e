"""WS-Trust 1.3 usernamemixed end to end (`adfs.auth: wstrust`): the daemon
POSTs a SOAP RequestSecurityToken to the ADFS emulator, wraps the Assertion
from the RSTR in a samlp:Response and redeems it at the STS emulator, which
checks the Assertion's signature. A wrong password comes back as AD FS's
SOAP fault (ID3242) and is never sent again."""

import json
import unittest

from harness import DEV_ARN, PASSWORD, USER, Stack, StackChecks

ID3242 = "ID3242: The security token could not be authenticated or authorized."
ENDPOINT = b"/adfs/services/trust/13/usernamemixed"



class WsTrustTest(StackChecks, unittest.TestCase):
    config = {"adfs": {"auth": "wstrust", "username": USER},
              "roles": [{"name": "dev", "arn": DEV_ARN}], "default_role": "dev"}

    def setUp(self):
        self.s = Stack(config=self.config)
        self.addCleanup(self.s.close)
        self.s.start_daemon()

    def test_login_serves_credentials(self):
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.s.log_text())
        st, _, body = self.s.get("/role/dev", token=self.s.token())
        self.assertEqual(st, 200, body)
        creds = json.loads(body)
        self.assertEqual(creds["RoleArn"], DEV_ARN)
        out = self.s.boto3(self.ecs_env("dev"))
        self.assertEqual(out["Arn"], "arn:aws:sts::111122223333:assumed-role/ADFS-Dev/"
                                     "alice@example.com")
        a = self.s.adfs.stats()
        self.assertEqual(a["wstrust_requests"], 1, a)
        self.assertEqual(a["wstrust_failures"], 0, a)
        # Nothing went through the forms pages.
        self.assertEqual(a["password_posts"], 0, a)
        self.assertEqual(a["login_page_gets"], 0, a)
        s = self.s.sts.stats()
        self.assertEqual(s["assume_ok"], 1, s)
        status = self.status()
        self.assertIs(status["signed_in"], True, status)
        log = self.stop_clean()
        self.assertNotIn(PASSWORD, log)
        self.assertNotIn(creds["SecretAccessKey"], log)

    def test_wrong_password_fails_once_with_adfs_text(self):
        p = self.s.login(password="not-the-password")
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn(ID3242, p.stdout + p.stderr)
        a = self.s.adfs.stats()
        self.assertEqual(a["wstrust_requests"], 1, a)
        self.assertEqual(a["wstrust_failures"], 1, a)
        self.assertEqual(a["wstrust_faults"].get("FailedAuthentication"), 1, a)
        status = self.status()
        self.assertIs(status["signed_in"], False, status)
        self.assertIn("ID3242", status["error"] or "", status)
        # A later refresh must not send the rejected password again.
        self.s.ctl("refresh")
        a = self.s.adfs.stats()
        self.assertEqual(a["wstrust_requests"], 1, a)
        self.assertEqual(a["wstrust_failures"], 1, a)
        log = self.stop_clean()
        self.assertNotIn("not-the-password", log)


if __name__ == "__main__":
    unittest.main()
