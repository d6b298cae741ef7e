"""The SDK matrix: real AWS SDKs find credentials from the real adfs-credd
by themselves, then call GetCallerIdentity on the STS emulator, which checks
the SigV4 signature made with them.

| SDK (where it comes from)                               | ECS | token file | IMDS |
|---------------------------------------------------------|-----|------------|------|
| boto3 / botocore 1.29 (Debian 12 python3-boto3)         | yes | no (1)     | yes  |
| AWS CLI v2 2.9 (Debian 12 awscli, bundles its botocore) | yes | no (1)     | yes  |
| SDK for JavaScript v3 (npm, tests/sdk/js lockfile)      | yes | yes        | yes  |
| SDK for Go v2 1.17 (Debian golang-github-aws-aws-sdk-go-v2-dev) | yes | no (1) | yes |

(1) The SDK predates AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: its source
does not name the variable. For those the token-file test checks that the
SDK, given only the file, is refused by the daemon (403 AccessDenied: it
sent no token) and gets no credentials; if a newer SDK that reads the file
is installed, the same test requires it to succeed instead.

Modes (the environment each client gets, nothing else AWS_*):
- ECS: AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN,
  as `adfs-credctl env ROLE` prints them.
- token file: AWS_CONTAINER_CREDENTIALS_FULL_URI +
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (`adfs-credctl env ROLE --token-file`).
- IMDS: AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT/ (the daemon's
  `serve.imds`, serving `serve.imds_role`), AWS_EC2_METADATA_DISABLED unset.
  The trailing slash matters: awscli 2.9's bundled botocore appends
  "latest/api/token" to the value as it is ("Invalid endpoint EC2 Instance
  Metadata endpoint: http://127.0.0.1:PORTlatest/api/token" without it);
  botocore 1.29, JS and Go accept both forms.
Always: AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE=/dev/null, region
us-east-1, no AWS_CA_BUNDLE (the test CA is given to the STS call only), no
proxy variables, NO_PROXY=127.0.0.1,localhost, HOME in a temp dir.
Everything stays on 127.0.0.1.

Each case checks the assumed-role ARN, that the access key is the one the
daemon serves, and the credentials' expiry as the SDK holds it against the
one the daemon serves (exact, or with the SDK's documented adjustment: Go
takes its 5-minute ExpiryWindow off container credentials and caps IMDS
credentials at one hour from the fetch)."""

import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import (DEV_ARN, HERE, PROD_ARN, PYTHON, ROOT, Stack, clean_sdk_env,
                     fetch, free_port)

SDK_DIR = os.path.join(ROOT, "tests", "sdk")
JS_DIR = os.path.join(SDK_DIR, "js")
GO_DIR = os.path.join(SDK_DIR, "go")
AWS_CLI = "/usr/bin/aws"  # Debian's awscli, not a pyenv/pip one
GO = "/usr/bin/go"
NODE = shutil.which("node")
NPM = shutil.which("npm")

# Where each SDK's container provider lives, to tell whether it knows
# AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
SDK_SOURCES = {
    "boto3": ["/usr/lib/python3/dist-packages/botocore/credentials.py"],
    "awscli": ["/usr/lib/python3/dist-packages/awscli/botocore/credentials.py"],
    "js": [os.path.join(JS_DIR, "node_modules", "@aws-sdk", "credential-provider-http",
                        "dist-cjs", "fromHttp", "fromHttp.js")],
    "go": ["/usr/share/gocode/src/github.com/aws/aws-sdk-go-v2/config/env_config.go",
           "/usr/share/gocode/src/github.com/aws/aws-sdk-go-v2/config/resolve_credentials.go"],
}

ROLES = {"dev": ("ADFS-Dev", "111122223333"), "prod": ("ADFS-Prod", "444455556666")}
IMDS_ROLE = "prod"
CLIENT_TIMEOUT = 60


def parse_time(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def reads_token_file(sdk):
    for path in SDK_SOURCES[sdk]:
        with open(path, errors="replace") as f:
            if "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" in f.read():
                return True
    return False


def npm_ci():
    """`npm ci` into tests/sdk/js/node_modules, unless it already holds
    exactly this lockfile (for this node major version). A lock keeps two
    test runs (two build trees) from installing at once."""
    if not NODE or not NPM:
        raise RuntimeError("node and npm are needed (scripts/install-deps.sh installs them)")
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        with open(os.path.join(JS_DIR, name), "rb") as f:
            h.update(f.read())
    node_v = subprocess.run([NODE, "--version"], capture_output=True, text=True,
                            check=True).stdout.strip()
    h.update(node_v.split(".")[0].encode())
    stamp = os.path.join(JS_DIR, "node_modules", ".adfs-credd-stamp")
    with open(os.path.join(JS_DIR, ".npm-ci.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(stamp) as f:
                if f.read() == h.hexdigest():
                    return
        except OSError:
            pass
        p = subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR,
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"npm ci failed:\n{p.stdout}\n{p.stderr}")
        with open(stamp, "w") as f:
            f.write(h.hexdigest())


class TestSdkMatrix(unittest.TestCase):
    s = None

    @classmethod
    def setUpClass(cls):
        cls.started = time.monotonic()
        cls.work = tempfile.mkdtemp(prefix="adfs-credd-sdk-")
        cls.home = os.path.join(cls.work, "home")
        os.mkdir(cls.home)
        # The Go client builds (offline, GOPATH mode) while npm and the
        # stack start.
        cls.go_bin = os.path.join(cls.work, "sdk-go-client")
        go_build = subprocess.Popen(["sh", os.path.join(GO_DIR, "build.sh"), cls.go_bin],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, start_new_session=True)
        try:
            npm_ci()
            cls.imds_port = free_port()
            cls.s = Stack(config={
                "roles": [{"name": "dev", "arn": DEV_ARN},
                          {"name": "prod", "arn": PROD_ARN, "duration": "1h"}],
                "default_role": "dev",
                "serve": {"imds": f"127.0.0.1:{cls.imds_port}", "imds_role": IMDS_ROLE},
            })
            cls.s.start_daemon()
            p = cls.s.login()
            if p.returncode != 0:
                raise RuntimeError(f"login failed:\n{p.stdout}{p.stderr}\n{cls.s.log_text()}")
            # What the daemon serves, read once: the SDKs must see the same.
            cls.served = {}
            for role in ROLES:
                st, _, body = cls.s.get(f"/role/{role}", token=cls.s.token())
                if st != 200:
                    raise RuntimeError(f"/role/{role}: {st} {body}")
                cls.served[role] = json.loads(body)
            cls.served_imds = cls.imds_creds()
        except BaseException:
            try:
                os.killpg(go_build.pid, signal.SIGKILL)  # sh and its go build
            except ProcessLookupError:
                pass
            go_build.communicate()
            cls.cleanup(check=False)
            raise
        out, _ = go_build.communicate(timeout=300)
        if go_build.returncode != 0:
            cls.cleanup(check=False)
            raise RuntimeError(f"building the Go client failed:\n{out}")

    @classmethod
    def tearDownClass(cls):
        cls.cleanup(check=True)

    @classmethod
    def cleanup(cls, check):
        problem = None
        try:
            if cls.s:
                # A clean exit, and no sanitizer report (ASan builds):
                # Stack.close() fails on either.
                s, cls.s = cls.s, None
                try:
                    s.close()
                except AssertionError as e:
                    problem = str(e)
        finally:
            shutil.rmtree(cls.work, ignore_errors=True)
            print(f"\nSDK matrix: {time.monotonic() - cls.started:.1f} s in all")
        if problem and check:
            raise AssertionError(problem)

    @classmethod
    def imds_creds(cls):
        """IMDSv2 by hand: the document the daemon serves to IMDS clients."""
        base = f"http://127.0.0.1:{cls.imds_port}"
        def get(url, method="GET", headers=None):
            st, _, body = fetch(url, method, headers)
            if st != 200:
                raise RuntimeError(f"IMDS: {method} {url}: {st} {body}")
            return body

        tok = get(base + "/latest/api/token", "PUT",
                  {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        h = {"X-aws-ec2-metadata-token": tok}
        path = "/latest/meta-data/iam/security-credentials/"
        role = get(base + path, headers=h)
        if role != IMDS_ROLE:
            raise RuntimeError(f"IMDS role list says {role!r}, not {IMDS_ROLE!r}")
        return json.loads(get(base + path + role, headers=h))

    # ---- environments -------------------------------------------------

    def env_for(self, mode, role):
        if mode == "imds":
            extra = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{self.imds_port}/"}
        else:
            args = ["env", role] + (["--token-file"] if mode == "token_file" else [])
            p = self.s.ctl(*args)
            self.assertEqual(p.returncode, 0, p.stderr)
            extra = {}
            for line in p.stdout.splitlines():
                m = re.match(r"^export (AWS_[A-Z_]+)=(.*)$", line)
                self.assertIsNotNone(m, f"unexpected line in env output: {line!r}")
                extra[m.group(1)] = m.group(2)
            want = {"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" if mode == "token_file"
                    else "AWS_CONTAINER_AUTHORIZATION_TOKEN"}
            self.assertEqual(set(extra), want)
            self.assertRegex(extra["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
                             rf"^http://127\.0\.0\.1:{self.s.ecs_port}/role/{role}$")
        env = clean_sdk_env(extra)
        env.update({"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_PAGER": "", "HOME": self.home,
                    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
        # Nothing from the caller's shell that would change what the
        # clients load or trust: no proxy, no extra CA, no module paths.
        for k in ("ALL_PROXY", "all_proxy", "PYTHONPATH", "PYTHONHOME", "NODE_OPTIONS",
                  "NODE_PATH", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR"):
            env.pop(k, None)
        if mode == "imds":
            # The IMDS client must be on for these runs.
            env.pop("AWS_EC2_METADATA_DISABLED", None)
        assert not {k for k in env if k.startswith("AWS_")} - {
            "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PAGER",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT"}
        return env

    def run_client(self, argv, env):
        t0 = time.monotonic()
        p = subprocess.run(argv, env=env, capture_output=True, text=True,
                           timeout=CLIENT_TIMEOUT, cwd=self.work)
        return p, time.monotonic() - t0

    # ---- clients ------------------------------------------------------
    # Each returns (process, parsed JSON or None).

    def boto3(self, env):
        p, _ = self.run_client([PYTHON, os.path.join(HERE, "sdk_boto3.py"),
                                self.s.sts.url, self.s.ca, "get_caller_identity"], env)
        return p, (json.loads(p.stdout) if p.returncode == 0 else None)

    def awscli(self, env):
        p, _ = self.run_client([AWS_CLI, "sts", "get-caller-identity", "--output", "json",
                                "--endpoint-url", self.s.sts.url, "--ca-bundle", self.s.ca],
                               env)
        if p.returncode != 0:
            return p, None
        out = json.loads(p.stdout)
        # The credentials as the CLI resolved them (its own, separate
        # resolution through the same chain): awscli 2.9 has
        # `configure export-credentials`.
        p2, _ = self.run_client([AWS_CLI, "configure", "export-credentials",
                                 "--format", "process"], env)
        if p2.returncode != 0:
            return p2, None
        creds = json.loads(p2.stdout)
        out.update(AccessKeyId=creds["AccessKeyId"], Expiration=creds.get("Expiration"))
        return p, out

    def js(self, env):
        p, _ = self.run_client([NODE, os.path.join(JS_DIR, "client.js"),
                                self.s.sts.url, self.s.ca], env)
        return p, (json.loads(p.stdout) if p.returncode == 0 else None)

    def go(self, env):
        p, _ = self.run_client([self.go_bin, self.s.sts.url, self.s.ca], env)
        return p, (json.loads(p.stdout) if p.returncode == 0 else None)

    # ---- checks -------------------------------------------------------

    def check_identity(self, out, role, p):
        self.assertIsNotNone(out, f"client failed:\n{p.stdout}\n{p.stderr}")
        name, account = ROLES[role]
        self.assertEqual(out["Arn"], f"arn:aws:sts::{account}:assumed-role/{name}/alice@example.com")
        if "Account" in out:
            self.assertEqual(out["Account"], account)

    def check_ecs(self, sdk, mode="ecs", roles=("dev", "prod")):
        client = getattr(self, sdk)
        fetched_at = datetime.datetime.now(datetime.timezone.utc)
        for role in roles:
            with self.subTest(role=role):
                p, out = client(self.env_for(mode, role))
                self.check_identity(out, role, p)
                served = self.served[role]
                self.assertEqual(out["AccessKeyId"], served["AccessKeyId"])
                exp = parse_time(out["Expiration"])
                want = parse_time(served["Expiration"])
                if sdk == "go":
                    # aws.CredentialsCache with ExpiryWindow = 5 min
                    # (config.resolveHTTPCredProvider) moves Expires.
                    want -= datetime.timedelta(minutes=5)
                self.assertEqual(exp, want, out)
                self.assertGreater(exp, fetched_at)
                if sdk == "js":
                    # fromHttp, not the legacy fromContainerMetadata.
                    self.assertIn("CREDENTIALS_HTTP", out["Sources"])
                if sdk == "boto3":
                    self.assertEqual(out["method"], "container-role")
                if sdk == "go":
                    self.assertEqual(out["Source"], "CredentialsEndpointProvider")
                print(f"\n  {sdk} {mode} {role}: {json.dumps(out, sort_keys=True)}", end="")

    def check_imds(self, sdk):
        client = getattr(self, sdk)
        before = datetime.datetime.now(datetime.timezone.utc)
        p, out = client(self.env_for("imds", IMDS_ROLE))
        after = datetime.datetime.now(datetime.timezone.utc)
        self.check_identity(out, IMDS_ROLE, p)
        served = self.served_imds
        self.assertEqual(served["Code"], "Success")
        self.assertEqual(out["AccessKeyId"], served["AccessKeyId"])
        # The IMDS document carries the same session as the ECS endpoint.
        self.assertEqual(served["AccessKeyId"], self.served[IMDS_ROLE]["AccessKeyId"])
        exp = parse_time(out["Expiration"])
        want = parse_time(served["Expiration"])
        if sdk == "go" and want > before + datetime.timedelta(hours=1):
            # ec2rolecreds caps Expires at one hour from the fetch.
            self.assertGreaterEqual(exp, before + datetime.timedelta(hours=1))
            self.assertLessEqual(exp, after + datetime.timedelta(hours=1))
        else:
            self.assertEqual(exp, want, out)
        if sdk == "boto3":
            self.assertEqual(out["method"], "iam-role")
        if sdk == "go":
            self.assertEqual(out["Source"], "EC2RoleProvider")
        print(f"\n  {sdk} imds {IMDS_ROLE}: {json.dumps(out, sort_keys=True)}", end="")

    def check_token_file(self, sdk):
        if reads_token_file(sdk):
            self.check_ecs(sdk, mode="token_file", roles=("dev",))
            return
        # This SDK version does not know the variable: with only the file
        # it sends no token, the daemon refuses it, and no credentials
        # come out (the ECS variables keep IMDS off, so nothing else is
        # tried).
        p, out = getattr(self, sdk)(self.env_for("token_file", "dev"))
        self.assertIsNone(out, f"{sdk} got credentials without reading the token file?\n"
                               f"{p.stdout}")
        self.assertNotEqual(p.returncode, 0)
        text = p.stdout + p.stderr
        self.assertIn("AccessDenied", text)
        print(f"\n  {sdk} token_file: not supported by this version; "
              f"refused as expected: {text.strip().splitlines()[-1][:200]}", end="")

    # ---- the matrix ---------------------------------------------------

    def test_boto3_ecs(self):
        self.check_ecs("boto3")

    def test_boto3_imds(self):
        self.check_imds("boto3")

    def test_boto3_token_file(self):
        self.check_token_file("boto3")

    def test_awscli_ecs(self):
        self.check_ecs("awscli")

    def test_awscli_imds(self):
        self.check_imds("awscli")

    def test_awscli_token_file(self):
        self.check_token_file("awscli")

    def test_js_ecs(self):
        self.check_ecs("js")

    def test_js_token_file(self):
        self.assertTrue(reads_token_file("js"), "the pinned JS SDK reads the token file")
        self.check_token_file("js")

    def test_js_imds(self):
        self.check_imds("js")

    def test_go_ecs(self):
        self.check_ecs("go")

    def test_go_imds(self):
        self.check_imds("go")

    def test_go_token_file(self):
        self.check_token_file("go")


if __name__ == "__main__":
    unittest.main()
