"""adfs-credctl aws-config: the block of credential_process profiles it keeps
in the AWS config file, used by real SDKs.

One stack (two roles, a region) is signed in once. `aws-config --write`
goes into a temporary AWS_CONFIG_FILE that already holds the user's own
text, which must stay byte for byte; a second --write changes nothing.
Then, for each generated profile, each SDK of the SDK matrix (Debian's
boto3, the AWS CLI v2, the Go SDK v2 and the JS SDK v3; their clients are
test_sdk_matrix's) is run with AWS_PROFILE=<profile> and nothing else
AWS_* but AWS_CONFIG_FILE, so it finds the profile, runs
`adfs-credctl credential-process ROLE` (the build's, first on PATH) and
calls GetCallerIdentity on the STS emulator as that role. --diff and the
refusals (through the CLI: the file is left as it was) are checked too."""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import unittest

from harness import DEV_ARN, HERE, PROD_ARN, PYTHON, Stack, clean_sdk_env
from test_sdk_matrix import AWS_CLI, GO_DIR, JS_DIR, NODE, npm_ci

ROLES = {"dev": ("ADFS-Dev", "111122223333"), "prod": ("ADFS-Prod", "444455556666")}
REGION = "eu-west-1"
BEGIN = "# BEGIN adfs-credd profiles"
END = "# END adfs-credd profiles"

# The user's own file: comments, odd spacing, a continuation, a colon key,
# and a profile named like nothing the block makes.
USER_TEXT = ("# my AWS config\n"
             "[default]\n"
             "region = us-west-2\n"
             "output=json\n"
             "\n"
             "; work account\n"
             "[profile work]   \n"
             "s3 =\n"
             "    max_concurrent_requests = 4\n"
             "cli_pager:\n")


def identity_arn(role):
    name, account = ROLES[role]
    return f"arn:aws:sts::{account}:assumed-role/{name}/alice@example.com"


class TestAwsConfig(unittest.TestCase):
    s = None

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="adfs-credd-awscfg-")
        cls.home = os.path.join(cls.work, "home")
        os.mkdir(cls.home)
        cls.go_bin = os.path.join(cls.work, "sdk-go-client")
        go_build = subprocess.Popen(["sh", os.path.join(GO_DIR, "build.sh"), cls.go_bin],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, start_new_session=True)
        try:
            npm_ci()
            cls.s = Stack(config={
                "aws": {"region": REGION},
                "roles": [{"name": "dev", "arn": DEV_ARN},
                          {"name": "prod", "arn": PROD_ARN, "duration": "1h"}],
                "default_role": "dev",
            })
            cls.s.start_daemon()
            p = cls.s.login()
            if p.returncode != 0:
                raise RuntimeError(f"login failed:\n{p.stdout}{p.stderr}\n{cls.s.log_text()}")
        except BaseException:
            try:
                os.killpg(go_build.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            go_build.communicate()
            cls.cleanup()
            raise
        out, _ = go_build.communicate(timeout=300)
        if go_build.returncode != 0:
            cls.cleanup()
            raise RuntimeError(f"building the Go client failed:\n{out}")

    @classmethod
    def tearDownClass(cls):
        cls.cleanup()

    @classmethod
    def cleanup(cls):
        try:
            if cls.s:
                s, cls.s = cls.s, None
                s.close()
        finally:
            shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.work)
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.path = os.path.join(self.dir, "config")

    # ---- helpers ------------------------------------------------------

    def awscfg(self, *args, path=None):
        """adfs-credctl -c CONFIG aws-config ARGS on self.path."""
        return self.s.ctl("aws-config", *args, "--file", path or self.path)

    def write_file(self, data, mode=0o644):
        with open(self.path, "wb") as f:
            f.write(data)
        os.chmod(self.path, mode)

    def read(self, path=None):
        with open(path or self.path, "rb") as f:
            return f.read()

    def block(self, prefix=None):
        p = self.s.ctl("aws-config", "--print",
                       *(["--profile-prefix", prefix] if prefix else []))
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def sdk_env(self, profile):
        env = clean_sdk_env({"AWS_CONFIG_FILE": self.path, "AWS_PROFILE": profile,
                             "AWS_PAGER": "", "HOME": self.home,
                             # credential_process = adfs-credctl ...: the build's
                             "PATH": self.s.build + os.pathsep + "/usr/bin:/bin"})
        # The region comes from the profile, as it would for a user.
        for k in ("AWS_DEFAULT_REGION", "AWS_REGION", "ALL_PROXY", "all_proxy",
                  "PYTHONPATH", "PYTHONHOME", "NODE_OPTIONS", "NODE_PATH",
                  "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR",
                  "ADFS_CREDD_CONFIG"):
            env.pop(k, None)
        return env

    def run_sdk(self, sdk, profile):
        sts, ca = self.s.sts.url, self.s.ca
        argv = {
            "boto3": [PYTHON, os.path.join(HERE, "sdk_boto3.py"), sts, ca,
                      "get_caller_identity"],
            "awscli": [AWS_CLI, "sts", "get-caller-identity", "--output", "json",
                       "--endpoint-url", sts, "--ca-bundle", ca],
            "go": [self.go_bin, sts, ca],
            "js": [NODE, os.path.join(JS_DIR, "client.js"), sts, ca],
        }[sdk]
        return subprocess.run(argv, env=self.sdk_env(profile), capture_output=True,
                              text=True, timeout=60, cwd=self.dir)

    def check_sdks(self, profiles):
        for profile, role in profiles.items():
            for sdk in ("boto3", "awscli", "go", "js"):
                with self.subTest(sdk=sdk, profile=profile):
                    p = self.run_sdk(sdk, profile)
                    self.assertEqual(p.returncode, 0,
                                     f"{sdk} with profile {profile}:\n{p.stdout}\n{p.stderr}")
                    out = json.loads(p.stdout)
                    self.assertEqual(out["Arn"], identity_arn(role), out)
                    if sdk == "boto3":
                        self.assertEqual(out["method"], "custom-process")
                    if sdk == "go":
                        self.assertEqual(out["Source"], "ProcessProvider")
                    if sdk == "js":
                        self.assertIn("CREDENTIALS_PROFILE_PROCESS", out["Sources"])
                    print(f"\n  {sdk} {profile}: {out['Arn']}", end="")

    # ---- tests --------------------------------------------------------

    def test_write_keeps_user_text_and_every_sdk_uses_the_profiles(self):
        self.write_file(USER_TEXT.encode(), 0o640)
        p = self.awscfg("--write")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("wrote 2 profiles", p.stdout)
        new = self.read()
        block = self.block()
        # Appended after one blank line; the user's bytes are a prefix.
        self.assertEqual(new, USER_TEXT.encode() + b"\n" + block.encode())
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o640)
        self.assertEqual(self.read(self.path + ".adfs-credd.bak"), USER_TEXT.encode())
        self.assertEqual(stat.S_IMODE(os.stat(self.path + ".adfs-credd.bak").st_mode), 0o640)
        # The block: one profile per configured role, reaching this
        # daemon (its config, absolute) and the config's region.
        conf = re.escape(self.s.config_path)
        for role in ROLES:
            self.assertRegex(block, rf"\n\[profile {role}\]\ncredential_process = adfs-credctl "
                                    rf"--config {conf} credential-process {role}\n"
                                    rf"region = {REGION}\n")
        self.assertTrue(block.startswith(BEGIN) and block.endswith(END + "\n"), block)

        # Idempotent: the second --write says so and touches nothing.
        os.unlink(self.path + ".adfs-credd.bak")
        before = os.stat(self.path)
        p = self.awscfg("--write")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("up to date", p.stdout)
        after = os.stat(self.path)
        self.assertEqual((after.st_ino, after.st_mtime_ns), (before.st_ino, before.st_mtime_ns))
        self.assertFalse(os.path.exists(self.path + ".adfs-credd.bak"))
        self.assertEqual(self.read(), new)

        # The region the SDKs take from the profile.
        p = subprocess.run([AWS_CLI, "configure", "get", "region"], env=self.sdk_env("prod"),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.stdout.strip(), REGION, p.stderr)
        self.check_sdks({"dev": "dev", "prod": "prod"})

    def test_prefix_replaces_the_block_in_place(self):
        # The block in the middle, the user's text after it without a
        # final newline, CRLF line ends: all of it stays.
        head = USER_TEXT.replace("\n", "\r\n").encode()
        tail = b"\r\n[profile later]\r\nregion = ap-south-1"
        self.write_file(head)
        self.assertEqual(self.awscfg("--write").returncode, 0)
        with open(self.path, "ab") as f:
            f.write(tail)
        p = self.awscfg("--write", "--profile-prefix", "adfs-")
        self.assertEqual(p.returncode, 0, p.stderr)
        block = self.block("adfs-").replace("\n", "\r\n").encode()
        self.assertEqual(self.read(), head + b"\r\n" + block + tail)
        self.assertIn(b"[profile adfs-prod]\r\n", block)
        self.check_sdks({"adfs-dev": "dev", "adfs-prod": "prod"})

    def test_diff(self):
        self.write_file(USER_TEXT.encode())
        p = self.awscfg("--diff")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTrue(p.stdout.startswith(f"--- {self.path}\n+++ {self.path}\n@@ "),
                        p.stdout)
        self.assertIn("\n+[profile dev]\n", p.stdout)
        self.assertEqual(self.read(), USER_TEXT.encode(), "--diff wrote the file")
        # The diff is what --write does: patch(1) applied to a copy gives
        # the written file.
        copy = os.path.join(self.dir, "copy")
        shutil.copy(self.path, copy)
        patch = subprocess.run(["patch", "-s", copy], input=p.stdout, text=True,
                               capture_output=True)
        self.assertEqual(patch.returncode, 0, patch.stderr)
        self.assertEqual(self.awscfg("--write").returncode, 0)
        self.assertEqual(self.read(copy), self.read())
        p = self.awscfg("--diff")
        self.assertEqual((p.returncode, p.stdout), (0, ""), p.stderr)
        # No file yet: a diff from /dev/null; nothing is created.
        new = os.path.join(self.dir, "aws", "config")
        p = self.awscfg("--diff", path=new)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTrue(p.stdout.startswith(f"--- /dev/null\n+++ {new}\n@@ -0,0 +1,"))
        self.assertFalse(os.path.exists(os.path.dirname(new)))
        # --write creates it 0600 in a new 0700 directory.
        self.assertEqual(self.awscfg("--write", path=new).returncode, 0)
        self.assertEqual(stat.S_IMODE(os.stat(new).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(new)).st_mode), 0o700)
        self.assertEqual(self.read(new), self.block().encode())

    def test_refusals_leave_the_file_alone(self):
        cases = {
            "unterminated": (USER_TEXT + BEGIN + "\n[profile dev]\n", "has no"),
            "duplicated": (f"{BEGIN}\n{END}\n[a]\n{BEGIN}\n{END}\n", "second adfs-credd block"),
            "stray end": (USER_TEXT + END + "\n", "end marker with no"),
            "not INI": (USER_TEXT + "this is not ini\n", "not a line of an INI file"),
            "conflict": (USER_TEXT + "[profile prod]\nregion = x\n", "--profile-prefix"),
        }
        for name, (text, words) in cases.items():
            with self.subTest(case=name):
                self.write_file(text.encode(), 0o600)
                before = os.stat(self.path)
                for action, code in (("--write", 1), ("--diff", 2)):
                    p = self.awscfg(action)
                    self.assertEqual(p.returncode, code, p.stdout + p.stderr)
                    self.assertEqual(p.stdout, "")
                    self.assertIn(words, p.stderr)
                    self.assertRegex(p.stderr, rf"^adfs-credctl: {re.escape(self.path)}:\d+: ")
                    self.assertIn("unchanged", p.stderr)
                after = os.stat(self.path)
                self.assertEqual(self.read(), text.encode())
                self.assertEqual((after.st_ino, after.st_mtime_ns),
                                 (before.st_ino, before.st_mtime_ns))
                self.assertFalse(os.path.exists(self.path + ".adfs-credd.bak"))
        # The conflict goes away with a prefix.
        p = self.awscfg("--write", "--profile-prefix", "adfs-")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_which_file(self):
        ctl = [self.s.ctl_bin, "-c", self.s.config_path, "aws-config", "--write"]
        # Never the real home's file, whatever goes wrong.
        home = os.path.join(self.dir, "home")
        os.mkdir(home)
        env = dict(os.environ, HOME=home)
        env.pop("AWS_CONFIG_FILE", None)
        # $AWS_CONFIG_FILE when there is no --file.
        p = subprocess.run(ctl, capture_output=True, text=True,
                           env=dict(env, AWS_CONFIG_FILE=self.path))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.read(), self.block().encode())
        self.assertFalse(os.path.exists(os.path.join(home, ".aws")))
        # Else ~/.aws/config, ~/.aws made 0700.
        p = subprocess.run(ctl, capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        aws = os.path.join(home, ".aws")
        self.assertEqual(stat.S_IMODE(os.stat(aws).st_mode), 0o700)
        self.assertEqual(self.read(os.path.join(aws, "config")), self.block().encode())
        # A symlink (a dotfiles repository) stays a link; its target is
        # written, the backup beside the target.
        target = os.path.join(self.dir, "dotfiles-config")
        with open(target, "w") as f:
            f.write(USER_TEXT)
        link = os.path.join(self.dir, "link")
        os.symlink(target, link)
        p = self.awscfg("--write", path=link)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.islink(link))
        self.assertEqual(self.read(target), (USER_TEXT + "\n" + self.block()).encode())
        self.assertEqual(self.read(target + ".adfs-credd.bak"), USER_TEXT.encode())

    def test_usage(self):
        for args in ((), ("--print", "--write"), ("--print", "extra"),
                     ("--print", "--profile-prefix", "a b"), ("--bogus",)):
            with self.subTest(args=args):
                p = self.s.ctl("aws-config", *args)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("see 'adfs-credctl aws-config --help'", p.stderr)
        # -c goes after the command too (a global option).
        p = subprocess.run([self.s.ctl_bin, "aws-config", "--print", "-c", self.s.config_path],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"--config {self.s.config_path} credential-process dev\n", p.stdout)

    def test_config_path_in_the_profiles(self):
        ctl = self.s.ctl_bin
        env = dict(os.environ, HOME=self.home)
        env.pop("ADFS_CREDD_CONFIG", None)
        # $ADFS_CREDD_CONFIG names the config: the profiles name it too.
        p = subprocess.run([ctl, "aws-config", "--print"], capture_output=True, text=True,
                           env=dict(env, ADFS_CREDD_CONFIG=self.s.config_path))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"credential_process = adfs-credctl --config {self.s.config_path} "
                      "credential-process dev\n", p.stdout)
        # A relative -c becomes absolute (the SDK runs it from anywhere);
        # a path that needs quoting is one shell word.
        odd = os.path.join(self.dir, "my conf's.yaml")
        shutil.copy(self.s.config_path, odd)
        p = subprocess.run([ctl, "-c", os.path.basename(odd), "aws-config", "--print"],
                           capture_output=True, text=True, env=env, cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        quoted = "'" + odd.replace("'", "'\\''") + "'"
        self.assertIn(f"--config {quoted} credential-process prod\n", p.stdout)
        # The default config: no --config.
        xdg = os.path.join(self.dir, "xdg")
        os.makedirs(os.path.join(xdg, "adfs-credd"))
        shutil.copy(self.s.config_path, os.path.join(xdg, "adfs-credd", "config.yaml"))
        p = subprocess.run([ctl, "aws-config", "--print"], capture_output=True, text=True,
                           env=dict(env, XDG_CONFIG_HOME=xdg))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("credential_process = adfs-credctl credential-process dev\n", p.stdout)
        # A config without roles: told to list them.
        with open(self.s.config_path) as f:
            text = f.read()
        conf = json.loads(text)
        del conf["roles"], conf["default_role"]
        noroles = os.path.join(self.dir, "noroles.yaml")
        with open(noroles, "w") as f:
            json.dump(conf, f)
        p = subprocess.run([ctl, "-c", noroles, "aws-config", "--print"],
                           capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("lists no roles", p.stderr)
        # --diff's trouble is 2 (diff(1)): 1 would say "would change".
        p = subprocess.run([ctl, "-c", noroles, "aws-config", "--diff", "--file", self.path],
                           capture_output=True, text=True, env=env)
        self.assertEqual((p.returncode, p.stdout), (2, ""))
        self.assertIn("lists no roles", p.stderr)


if __name__ == "__main__":
    unittest.main()
