"""The local endpoints (issue 5): IMDSv2 exactly as SDKs expect it, the
guards (peer uid from the kernel, Host, browser context), the refusal
throttle and the audit line."""

import json
import os
import re
import shutil
import subprocess
import time
import unittest

from harness import DEV_ARN, PROD_ARN, Stack, fetch, free_port

TTL = "X-aws-ec2-metadata-token-ttl-seconds"
CREDS = "/latest/meta-data/iam/security-credentials"


class TestImds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.imds_port = free_port()
        cls.s = Stack(config={
            "roles": [{"name": "dev", "arn": DEV_ARN}, {"name": "prod", "arn": PROD_ARN}],
            "serve": {"imds": f"127.0.0.1:{cls.imds_port}", "imds_role": "prod"},
        })
        cls.s.start_daemon()
        assert cls.s.login().returncode == 0, cls.s.log_text()
        cls.url = f"http://127.0.0.1:{cls.imds_port}"

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def token(self, ttl="21600"):
        st, h, body = fetch(self.url + "/latest/api/token", "PUT", {TTL: ttl})
        self.assertEqual(st, 200, body)
        self.assertEqual(h[TTL], ttl)
        return body

    def test_token_rules(self):
        tok = self.token()
        self.assertRegex(tok, r"^[A-Za-z0-9_-]{43}$")
        self.assertNotEqual(tok, self.token(), "tokens are random")
        self.assertEqual(self.token("1") and True, True)
        for ttl in (None, "", "0", "21601", "-5", "abc", "1.5"):
            st, _, body = fetch(self.url + "/latest/api/token", "PUT",
                               {TTL: ttl} if ttl is not None else {})
            self.assertEqual((st, body), (400, ""), ttl)
        st, _, body = fetch(self.url + "/latest/api/token", "PUT",
                           {TTL: "60", "X-Forwarded-For": "10.0.0.1"})
        self.assertEqual((st, body), (403, ""))
        st, _, _ = fetch(self.url + "/2021-03-23/api/token", "PUT", {TTL: "60"})
        self.assertEqual(st, 403)

    def test_imdsv1_and_bad_tokens_refused(self):
        for headers in ({}, {"X-aws-ec2-metadata-token": "x" * 43},
                        {"X-aws-ec2-metadata-token": self.token()[:-1]}):
            st, _, body = fetch(self.url + CREDS + "/", headers=headers)
            self.assertEqual((st, body), (401, ""), headers)

    def test_token_expires(self):
        tok = self.token("1")
        h = {"X-aws-ec2-metadata-token": tok}
        self.assertEqual(fetch(self.url + CREDS, headers=h)[0], 200)
        time.sleep(1.3)
        self.assertEqual(fetch(self.url + CREDS, headers=h)[0], 401)

    def test_role_list_and_document(self):
        h = {"X-aws-ec2-metadata-token": self.token()}
        for path in (CREDS, CREDS + "/"):
            st, hdr, body = fetch(self.url + path, headers=h)
            self.assertEqual((st, body), (200, "prod"), path)
            self.assertEqual(hdr["Content-Type"], "text/plain")
        for path in (CREDS + "/prod", CREDS + "/prod/"):
            st, _, body = fetch(self.url + path, headers=h)
            self.assertEqual(st, 200)
            doc = json.loads(body)
            self.assertEqual(set(doc), {"Code", "LastUpdated", "Type", "AccessKeyId",
                                        "SecretAccessKey", "Token", "Expiration"})
            self.assertEqual((doc["Code"], doc["Type"]), ("Success", "AWS-HMAC"))
            self.assertRegex(doc["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertRegex(doc["LastUpdated"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        for path in (CREDS + "/dev", "/latest/meta-data/iam/security-credentials-extended/",
                     "/latest/meta-data/iam/security-credentials-extended/prod",
                     "/latest/meta-data/placement/availability-zone/",
                     "/latest/dynamic/instance-identity/document", "/"):
            st, _, body = fetch(self.url + path, headers=h)
            self.assertEqual((st, body), (404, ""), path)

    def test_boto3_finds_credentials_over_imds(self):
        out = self.s.boto3({"AWS_EC2_METADATA_SERVICE_ENDPOINT": self.url,
                            "AWS_EC2_METADATA_DISABLED": "false"})
        self.assertEqual(out["method"], "iam-role")
        self.assertTrue(out["Arn"].endswith("assumed-role/ADFS-Prod/alice@example.com"), out)

    def test_audit_lines(self):
        h = {"X-aws-ec2-metadata-token": self.token()}
        fetch(self.url + CREDS + "/prod", headers=h)
        log = self.s.log_text()
        self.assertRegex(log, r"audit: imds role=prod peer_uid=%d status=200" % os.geteuid())


def run_as_nobody(args):
    """Runs args as uid 65534 (nobody); needs root."""
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return subprocess.run([runuser, "-u", "nobody", "--"] + args,
                          capture_output=True, text=True, timeout=30)


FETCH = r"""
import json, sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], headers={"Authorization": sys.argv[2]})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
"""


class TestPeerUid(unittest.TestCase):
    """The kernel's answer to "who is asking" (NETLINK_SOCK_DIAG) decides,
    even with the right token in hand."""

    def setUp(self):
        if os.geteuid() != 0:
            self.fail("this test starts a client as another user and must run as root "
                      "(CI does); run 'sudo make check'")

    def start(self, allowed):
        self.s = Stack(config={"roles": [{"name": "dev", "arn": DEV_ARN}],
                               "serve": {"allowed_uids": allowed}})
        self.addCleanup(self.s.close)
        self.s.start_daemon()
        self.assertEqual(self.s.login().returncode, 0)

    def fetch_as_nobody(self):
        p = run_as_nobody(["/usr/bin/python3", "-c", FETCH,
                           self.s.ecs_url + "/role/dev", self.s.token()])
        self.assertEqual(p.returncode, 0, p.stderr)
        status, body = p.stdout.split(" ", 1)
        return int(status), json.loads(body)

    def test_other_user_with_the_token_is_refused(self):
        self.start([])
        st, body = self.fetch_as_nobody()
        self.assertEqual((st, body["Code"]), (403, "AccessDenied"))
        self.assertIn("user 65534 may not read", body["Message"])
        self.assertNotIn("SecretAccessKey", json.dumps(body))
        self.assertIn("audit: ecs role=- peer_uid=65534 status=403", self.s.log_text())

    def test_allowed_uid_is_served(self):
        self.start([65534])
        st, body = self.fetch_as_nobody()
        self.assertEqual(st, 200)
        self.assertEqual(body["RoleArn"], DEV_ARN)


class TestThrottle(unittest.TestCase):
    def test_refusals_throttled_reads_never(self):
        s = Stack(config={"roles": [{"name": "dev", "arn": DEV_ARN}]})
        self.addCleanup(s.close)
        s.start_daemon()
        self.assertEqual(s.login().returncode, 0)
        codes = [s.get("/role/dev", token="wrong")[0] for _ in range(25)]
        self.assertEqual(codes[:20], [403] * 20)
        self.assertEqual(codes[21:], [429] * 4)
        st, h, body = s.get("/role/dev", token="wrong")
        self.assertEqual((st, json.loads(body)["Code"]), (429, "Throttled"))
        self.assertEqual(h["Content-Type"], "application/json")
        # The same user's valid reads are still served: a batch job's
        # thousands of SDK starts must never be throttled.
        for _ in range(50):
            self.assertEqual(s.get("/role/dev", token=s.token())[0], 200)
        self.assertIn("answering 429", s.log_text())


if __name__ == "__main__":
    unittest.main()
