"""Issue 15, items 3, 4, 5 and 10 (first bullet): what a request can do to
the daemon's log, forwarders running as the owner, the IMDS role list sent
while a reload frees the configuration, and logout ending IMDS sessions.

- A percent-decoded %0a in a path wrote a forged `audit: ... status=200`
  line; now everything taken from a request is escaped (\\x0a).
- Every refusal wrote two lines without limit; now the first line per peer,
  endpoint, role and status in a 10 s window, then one repeats=N line.
- Audit lines vanished below log_level: info; now they are notice lines,
  written at every log_level.
- Forwarded / X-Forwarded-For / X-Real-IP / Via are refused on every route
  of both endpoints (before: only on the IMDS token PUT).
- The IMDS role list was sent from the configuration's string: a reload
  while the reply waited in a full socket freed it (under ASan: a
  heap-use-after-free report, which fails the test at the daemon's stop).
- An IMDS session token outlived `adfs-credctl logout`.
- Per-role tokens: the control socket's env reply has a scoped_token that
  opens one role only (`adfs-credctl env ROLE --scoped` prints it)."""

import http.client
import json
import os
import re
import shlex
import signal
import socket
import time
import unittest

from harness import DEV_ARN, PROD_ARN, Stack, StackChecks, fetch, free_port, wait_until

TTL = "X-aws-ec2-metadata-token-ttl-seconds"
CREDS = "/latest/meta-data/iam/security-credentials"
FWD = {"Forwarded": "for=192.0.2.7", "X-Forwarded-For": "192.0.2.7",
       "X-Real-IP": "192.0.2.7", "Via": "1.1 jump-host"}
# A line of the daemon's own, as a path would forge it (uid 4242 is no
# one's here).
FORGED = "adfs-credd: info: audit: ecs role=dev peer_uid=4242 status=200"
FORGED_RE = re.compile(r"^adfs-credd: \w+: audit: \w+ role=dev peer_uid=4242", re.M)
AUDIT_RE = re.compile(r"audit: (ecs|imds) role=\S+ peer_uid=-?\d+ status=\d+")


def raw_get(port, path, headers=None, method="GET"):
    """One request with path sent as is (percent escapes included)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, b"" if method == "PUT" else None, headers or {})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def pct(s):
    return "".join(ch if ch.isalnum() or ch in "/-_.=:" else "%%%02x" % ord(ch)
                   for ch in s)


class Base(StackChecks, unittest.TestCase):
    config = {}

    def setUp(self):
        self.imds_port = free_port()
        cfg = {"roles": [{"name": "dev", "arn": DEV_ARN},
                         {"name": "prod", "arn": PROD_ARN}],
               "serve": {"imds": f"127.0.0.1:{self.imds_port}", "imds_role": "prod"}}
        cfg.update(self.config)
        self.s = Stack(config=cfg)
        self.addCleanup(self.s.close)
        self.s.start_daemon()
        self.assertEqual(self.s.login().returncode, 0, self.s.log_text())
        self.imds = f"http://127.0.0.1:{self.imds_port}"

    def imds_token(self, headers=None):
        st, _, body = fetch(self.imds + "/latest/api/token", "PUT",
                            dict({TTL: "600"}, **(headers or {})))
        self.assertEqual(st, 200, body)
        return body


class TestLogInjection(Base):
    def test_percent_0a_forges_no_line(self):
        tok = self.s.token()
        itok = self.imds_token()
        evil = pct("x\n" + FORGED + "\r\x1b[2K")
        # ECS, right token: 404 no such role, audited with the reason.
        st, _ = raw_get(self.s.ecs_port, "/role/" + evil, {"Authorization": tok})
        self.assertEqual(st, 404)
        # ECS, wrong token: refused with a warning that names the URL.
        st, _ = raw_get(self.s.ecs_port, "/role/" + evil, {"Authorization": "nope"})
        self.assertEqual(st, 403)
        # IMDS: the audit names the role asked.
        st, _ = raw_get(self.imds_port, CREDS + "/" + evil,
                        {"X-aws-ec2-metadata-token": itok})
        self.assertEqual(st, 404)
        log = self.s.log_text()
        self.assertNotRegex(log, FORGED_RE, "a request forged a log line:\n" + log)
        self.assertNotIn("\x1b", log)
        self.assertNotIn("\r", log)
        self.assertRegex(log, r"audit: ecs role=- peer_uid=\d+ status=404 reason=no role "
                              r"named 'x\\x0aadfs-credd: info: audit:")
        self.assertRegex(log, r"ECS request for /role/x\\x0aadfs-credd: info: audit: .*"
                              r"\\x0d\\x1b\[2K refused")
        self.assertRegex(log, r"audit: imds role=x\\x0aadfs-credd: info: audit: .* "
                              r"status=404 reason=no such role")


class TestRefusalFlood(Base):
    def test_refusals_logged_once_per_window(self):
        n = 300
        t0 = time.monotonic()
        statuses = set()
        for i in range(n):
            statuses.add(self.s.get("/role/dev", token="wrong-%d" % i)[0])
        elapsed = time.monotonic() - t0
        self.assertEqual(statuses, {403, 429})
        log = self.s.log_text()
        uid = os.geteuid()
        refusal = re.findall(r"^.*audit: ecs role=- peer_uid=%d status=(?:403|429) "
                             r"reason=.*$" % uid, log, re.M)
        warn = re.findall(r"^.*ECS request for /role/dev refused.*$", log, re.M)
        windows = 1 + int(elapsed // 10)
        # One line per status (403, then 429) and window; the same for the
        # warnings: not 2 x 300.
        self.assertLessEqual(len(refusal), 2 * windows, log[-3000:])
        self.assertLessEqual(len(warn), 2 * windows, log[-3000:])
        self.assertGreaterEqual(len(refusal), 2)
        # The window ends (or the daemon stops): repeats=N accounts for the
        # rest.
        log = self.stop_clean()
        lines = len(re.findall(r"audit: ecs role=- peer_uid=%d status=(?:403|429) reason="
                               % uid, log))
        repeats = sum(int(x) for x in re.findall(
            r"audit: ecs role=- peer_uid=%d status=(?:403|429) repeats=(\d+)" % uid, log))
        self.assertEqual(lines + repeats, n, log[-3000:])


class TestAuditAtWarning(Base):
    config = {"log_level": "warning"}

    def test_audit_lines_at_every_level(self):
        tok = self.s.token()
        self.assertEqual(self.s.get("/role/dev", token=tok)[0], 200)
        self.assertEqual(self.s.get("/role/dev", token="wrong")[0], 403)
        itok = self.imds_token()
        self.assertEqual(fetch(self.imds + CREDS + "/prod",
                               headers={"X-aws-ec2-metadata-token": itok})[0], 200)
        log = self.s.log_text()
        uid = os.geteuid()
        self.assertRegex(log, r"notice: audit: ecs role=dev peer_uid=%d status=200" % uid)
        self.assertRegex(log, r"notice: audit: ecs role=- peer_uid=%d status=403 reason=" % uid)
        self.assertRegex(log, r"notice: audit: imds role=prod peer_uid=%d status=200" % uid)
        self.assertNotRegex(log, r"(?m)^adfs-credd: info:")


class TestForwarders(Base):
    def test_forwarder_headers_refused_everywhere(self):
        tok = self.s.token()
        itok = self.imds_token()
        for name, value in FWD.items():
            h = {name: value}
            for path in ("/", "/role/dev", "/role/prod", "/role/nope", "/x"):
                st, _, body = self.s.get(path, token=tok, headers=h)
                self.assertIn(st, (403, 429), (name, path, body))
                self.assertNotIn("SecretAccessKey", body)
            for path in (CREDS, CREDS + "/", CREDS + "/prod", CREDS + "/prod/",
                         "/latest/meta-data/"):
                st, _, body = fetch(self.imds + path,
                                    headers=dict(h, **{"X-aws-ec2-metadata-token": itok}))
                self.assertIn(st, (403, 429), (name, path, body))
                self.assertEqual(body, "")
            st, _, body = fetch(self.imds + "/latest/api/token", "PUT",
                                dict(h, **{TTL: "60"}))
            self.assertIn(st, (403, 429), (name, body))
            self.assertEqual(body, "")
        # The first refusal is logged with its reason (the others of the
        # window are counted: TestRefusalFlood).
        self.assertIn("requests through a proxy or forwarder (Forwarded) are refused",
                      self.s.log_text())
        # Without those headers the same requests are served.
        self.assertEqual(self.s.get("/role/dev", token=tok)[0], 200)
        self.assertEqual(fetch(self.imds + CREDS + "/prod",
                               headers={"X-aws-ec2-metadata-token": itok})[0], 200)


class TestLogoutEndsImdsSessions(Base):
    def test_logout_invalidates_imds_tokens(self):
        itok = self.imds_token()
        h = {"X-aws-ec2-metadata-token": itok}
        self.assertEqual(fetch(self.imds + CREDS, headers=h)[:3:2], (200, "prod"))
        p = self.s.ctl("logout")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.s.login().returncode, 0)
        st, _, body = fetch(self.imds + CREDS + "/prod", headers=h)
        self.assertEqual((st, body), (401, ""), "an IMDS token outlived logout")
        # A new session works.
        h = {"X-aws-ec2-metadata-token": self.imds_token()}
        self.assertEqual(fetch(self.imds + CREDS + "/prod", headers=h)[0], 200)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


class TestScopedToken(Base):
    """Item 10: the control socket's env reply carries scoped_token, which
    `adfs-credctl env ROLE --scoped` prints: it opens that role only."""

    def env(self, role):
        c = UnixHTTPConnection(os.path.join(self.s.state_dir, "control.sock"))
        try:
            c.request("GET", "/v1/env?role=" + role)
            r = c.getresponse()
            body = r.read().decode()
            self.assertEqual(r.status, 200, body)
            return json.loads(body)
        finally:
            c.close()

    def test_scoped_token_opens_its_role_only(self):
        dev = self.env("dev")
        prod = self.env("prod")
        self.assertRegex(dev.get("scoped_token") or "", r"^[A-Za-z0-9_-]{43}$", dev)
        self.assertNotEqual(dev["scoped_token"], dev["token"])
        self.assertNotEqual(dev["scoped_token"], prod["scoped_token"])
        st, _, body = self.s.get("/role/dev", token=dev["scoped_token"])
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["RoleArn"], DEV_ARN)
        for path in ("/role/prod", "/role/nope", "/x"):
            st, _, body = self.s.get(path, token=dev["scoped_token"])
            self.assertEqual(st, 403, (path, body))
            self.assertNotIn("SecretAccessKey", body)
        self.assertEqual(self.s.get("/role/prod", token=prod["scoped_token"])[0], 200)
        # logout rotates the endpoint token, and with it every scoped one.
        self.assertEqual(self.s.ctl("logout").returncode, 0)
        self.assertEqual(self.s.login().returncode, 0)
        self.assertEqual(self.s.get("/role/dev", token=dev["scoped_token"])[0], 403)
        self.assertEqual(self.s.get("/role/dev", token=self.env("dev")["scoped_token"])[0],
                         200)


    def test_cli_env_scoped(self):
        """`adfs-credctl env dev --scoped`, as a job would eval it: boto3
        reads dev with it, and the same token pointed at prod is refused."""
        p = self.s.ctl("env", "dev", "--scoped")
        self.assertEqual(p.returncode, 0, p.stderr)
        env = {}
        for line in p.stdout.splitlines():
            words = shlex.split(line)
            self.assertEqual(words[0], "export", line)
            k, v = words[1].split("=", 1)
            env[k] = v
        self.assertEqual(env["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
                         self.env("dev")["scoped_token"])
        self.assertNotEqual(env["AWS_CONTAINER_AUTHORIZATION_TOKEN"], self.s.token())
        self.assertIn(DEV_ARN.split("/")[-1], self.s.boto3(env)["Arn"])
        uri = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        self.assertTrue(uri.endswith("/role/dev"), uri)
        with self.assertRaises(AssertionError):
            self.s.boto3(dict(env, AWS_CONTAINER_CREDENTIALS_FULL_URI=uri[:-3] + "prod"))
        p = self.s.ctl("env", "dev", "--scoped", "--token-file")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--token-file and --scoped exclude each other", p.stderr)


class TestRoleListQueuedAcrossReload(Base):
    """Item 5: the role list reply waits in a full socket while a reload
    frees the configuration it was sent from. The client pipelines many
    role-list requests on one connection with a tiny receive buffer and
    reads nothing until the reload is done. Under ASan (WITH_ASAN) the old
    code reads the freed name: a heap-use-after-free report that fails the
    test at the daemon's stop; in any build the bodies must all be a role
    name."""

    def test_reload_while_role_list_queued(self):
        itok = self.imds_token()
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
               "X-aws-ec2-metadata-token: %s\r\n\r\n" % (CREDS, self.imds_port, itok)).encode()
        n = 60000
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        c.connect(("127.0.0.1", self.imds_port))
        self.addCleanup(c.close)
        c.settimeout(0.2)
        sent = 0
        data = req * n
        # Push until the daemon stops reading: its replies fill our window.
        deadline = time.monotonic() + 10
        while sent < len(data) and time.monotonic() < deadline:
            try:
                sent += c.send(data[sent:sent + 65536])
            except socket.timeout:
                break
        self.assertGreater(sent, len(req) * 50, "the daemon read too little")
        # Replies are queued now. Reload with another role name: the old
        # configuration (and its imds_role string) is freed.
        self.s.write_config({"roles": [{"name": "dev", "arn": DEV_ARN},
                                       {"name": "prod", "arn": PROD_ARN}],
                             "serve": {"imds": f"127.0.0.1:{self.imds_port}",
                                       "imds_role": "dev"}})
        self.s.daemon.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "Configuration reloaded" in self.s.log_text(), 10),
                        self.s.log_text()[-2000:])
        # Now read everything that comes.
        c.settimeout(3)
        got = b""
        while True:
            try:
                b = c.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            got += b
        bodies = re.findall(rb"Content-Length: (\d+)\r\n(?:[^\r]*\r\n)*\r\n", got)
        self.assertGreater(len(bodies), 0)
        for m in re.finditer(rb"\r\n\r\n(prod|dev)?", got):
            self.assertIsNotNone(m.group(1), got[m.start():m.start() + 40])
        c.close()
        self.stop_clean()  # fails on an ASan report


if __name__ == "__main__":
    unittest.main()
