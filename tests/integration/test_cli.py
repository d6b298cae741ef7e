"""adfs-credctl's command line as a user meets it (issue 17 items 1, 2
and 6): --help for every command, global options anywhere, the exit
statuses, the machine-readable outputs, exec without a command, and the
status table on a narrow terminal. Everything runs the built adfs-credctl
against a real daemon and the emulators."""
import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import termios
import unittest

from harness import DEV_ARN, PROD_ARN, PYTHON, Stack, StackChecks, clean_sdk_env

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))

# The exit statuses of adfs-credctl(1).
OK, FAIL, USAGE, NOT_RUNNING, NOT_SIGNED_IN, ROLE_INVALID = 0, 1, 2, 3, 4, 5

# Prod's MaxSessionDuration is 1 h: a fixed 2 h is refused, so prod has no
# valid credentials while dev has.
ROLES = [{"name": "dev", "arn": DEV_ARN},
         {"name": "prod", "arn": PROD_ARN, "duration": "2h"}]


def commands(ctl):
    """The commands `adfs-credctl --help` lists."""
    out = subprocess.run([ctl, "--help"], capture_output=True, text=True, check=True).stdout
    block = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines()]


def synopsis(ctl, cmd):
    """COMMAND --help's usage line, after the command's name."""
    out = subprocess.run([ctl, cmd, "--help"], capture_output=True, text=True, check=True).stdout
    first = out.splitlines()[0]
    prefix = f"Usage: adfs-credctl [-c CONFIG] {cmd}"
    assert first.startswith(prefix), first
    return first[len(prefix):].strip(), out


class TestHelp(unittest.TestCase):
    """--help for every command, in three spellings; usage errors exit 2
    and say where the help is. No daemon is needed for any of it."""

    @classmethod
    def setUpClass(cls):
        cls.s = Stack()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def test_every_command_has_help(self):
        cmds = commands(self.s.ctl_bin)
        self.assertIn("status", cmds)
        self.assertGreaterEqual(len(cmds), 10, cmds)
        for cmd in cmds:
            for args in ((cmd, "--help"), (cmd, "-h"), ("help", cmd), ("--help", cmd),
                         (cmd, "-c", "/nonexistent.yaml", "--help")):
                p = self.s.ctl(*args)
                self.assertEqual(p.returncode, OK, (args, p.stderr))
                self.assertTrue(p.stdout.startswith(f"Usage: adfs-credctl [-c CONFIG] {cmd}"),
                                (args, p.stdout))
                self.assertIn("Exit status:", p.stdout)
            # Every option of the synopsis is explained below it.
            syn, out = synopsis(self.s.ctl_bin, cmd)
            for opt in re.findall(r"--[a-z-]+", syn):
                self.assertRegex(out, rf"(?m)^ +(-\w, )?{opt}\b", (cmd, opt))

    def test_usage_errors(self):
        for args, says in ((("frobnicate",), "unknown command 'frobnicate'"),
                           (("--frob", "status"), "unknown option '--frob'"),
                           (("status", "--frob"), "adfs-credctl status: unknown option '--frob'"),
                           (("env", "--format", "csh"), "--format is sh, fish"),
                           (("env", "--format"), "--format needs a value"),
                           (("check", "dev"), "--for DURATION is needed"),
                           (("check", "--for", "soon"), "--for takes a duration"),
                           (("roles", "extra"), "it takes no arguments"),
                           (("exec", "dev", "ls"), "a command goes after '--'"),
                           (("status", "-c"), "-c needs a path")):
            p = self.s.ctl(*args)
            self.assertEqual(p.returncode, USAGE, (args, p.stderr))
            self.assertIn(says, p.stderr, args)
            self.assertRegex(p.stderr, r"see 'adfs-credctl( [a-z-]+)? --help'", args)
        p = subprocess.run([self.s.ctl_bin], capture_output=True, text=True)
        self.assertEqual(p.returncode, USAGE)
        self.assertIn("Usage: adfs-credctl", p.stderr)

    def test_readme_table_matches_help(self):
        """README's Commands table has a row per command, with the
        synopsis --help prints."""
        with open(os.path.join(SRC, "README.md")) as f:
            readme = f.read()
        rows = {}
        for m in re.finditer(r"(?m)^\| `adfs-credctl ([a-z-]+)((?: [^`]*)?)` \|", readme):
            rows[m.group(1)] = m.group(2).strip().replace("\\|", "|")
        for cmd in commands(self.s.ctl_bin):
            syn, _ = synopsis(self.s.ctl_bin, cmd)
            self.assertIn(cmd, rows, f"README's Commands table has no row for {cmd}")
            self.assertEqual(rows[cmd], syn, cmd)
        self.assertEqual(sorted(rows), sorted(commands(self.s.ctl_bin)))

    def test_man_page_has_every_option_and_status(self):
        with open(os.path.join(SRC, "docs", "man", "adfs-credctl.1")) as f:
            man = f.read()
        for cmd in commands(self.s.ctl_bin):
            self.assertTrue(re.search(rf"(?m)^\.It Cm {re.escape(cmd)}\b", man), cmd)
            syn, _ = synopsis(self.s.ctl_bin, cmd)
            for opt in re.findall(r"--([a-z-]+)", syn):
                self.assertTrue(re.search(rf"Fl \\-{opt}\b", man), (cmd, opt))
        status = man.split(".Sh EXIT STATUS", 1)[1].split(".Sh ", 1)[0]
        for code in range(6):
            self.assertTrue(re.search(rf"(?m)^\.It {code}\b", status), code)


class CliTest(unittest.TestCase, StackChecks):
    config = {"roles": ROLES}

    def setUp(self):
        self.s = Stack(config=self.config)
        self.addCleanup(self.s.close)

    def ctl_env(self, *args, env=None, config=True):
        """adfs-credctl with env added, -c only when config is true."""
        e = dict(os.environ)
        e.pop("ADFS_CREDD_CONFIG", None)
        e.update(env or {})
        pre = ["-c", self.s.config_path] if config else []
        return subprocess.run([self.s.ctl_bin, *pre, *args], capture_output=True, text=True,
                              env=e, timeout=60)


class TestGlobalOptions(CliTest):
    def test_config_anywhere_and_from_environment(self):
        self.s.start_daemon()
        path = self.s.config_path
        for args, env in ((("-c", path, "status"), None),
                          (("status", "-c", path), None),
                          (("status", "--config", path), None),
                          (("status", f"--config={path}"), None),
                          (("--config", path, "status", "--json"), None),
                          (("status",), {"ADFS_CREDD_CONFIG": path})):
            p = self.ctl_env(*args, env=env, config=False)
            # Not signed in yet: 4, the daemon's answer, not 3.
            self.assertEqual(p.returncode, NOT_SIGNED_IN, (args, env, p.stderr))
        # -c wins over the environment.
        p = self.ctl_env("status", "-c", path, env={"ADFS_CREDD_CONFIG": "/nonexistent.yaml"},
                         config=False)
        self.assertEqual(p.returncode, NOT_SIGNED_IN, p.stderr)
        p = self.ctl_env("status", env={"ADFS_CREDD_CONFIG": "/nonexistent.yaml"}, config=False)
        self.assertEqual(p.returncode, FAIL, p.stderr)
        self.assertIn("/nonexistent.yaml", p.stderr)
        # After exec's "--", -c is the command's.
        p = self.ctl_env("exec", "dev", "--", PYTHON, "-c", "print('ran')", config=False,
                         env={"ADFS_CREDD_CONFIG": path})
        self.assertEqual((p.returncode, p.stdout), (OK, "ran\n"), p.stderr)


class TestExitStatus(CliTest):
    def test_codes(self):
        # No daemon: 3 from every command that needs it.
        for args in (("status",), ("status", "--quiet"), ("roles",), ("refresh",),
                     ("env", "dev"), ("credential-process", "dev"), ("check", "--for", "1h"),
                     ("exec", "dev", "--", "true"), ("logout",)):
            p = self.s.ctl(*args)
            self.assertEqual(p.returncode, NOT_RUNNING, (args, p.stderr))
            self.assertIn("adfs-credd is not running", p.stderr, args)
        self.s.start_daemon()
        # Not signed in: 4.
        for args in (("status",), ("credential-process", "dev"), ("refresh",),
                     ("refresh", "dev")):
            p = self.s.ctl(*args)
            self.assertEqual(p.returncode, NOT_SIGNED_IN, (args, p.stdout, p.stderr))
        # A role that does not exist: 2.
        for args in (("credential-process", "nope"), ("env", "nope"),
                     ("check", "nope", "--for", "1h")):
            p = self.s.ctl(*args)
            self.assertEqual(p.returncode, USAGE, (args, p.stderr))
            self.assertIn("no such role", p.stderr, args)
        # Signed in, prod refused by STS: the login fails (1), status says
        # a role is not valid (5), prod's credentials too, dev's are served.
        p = self.s.login()
        self.assertEqual(p.returncode, FAIL, p.stdout + p.stderr)
        st = self.status()   # checks the exit status against the reply
        self.assertEqual({r["name"]: r["state"] for r in st["roles"]},
                         {"dev": "valid", "prod": "expired"})
        p = self.s.ctl("status")
        self.assertEqual(p.returncode, ROLE_INVALID, p.stderr)
        self.assertIn("prod", p.stdout)
        p = self.s.ctl("status", "--quiet")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (ROLE_INVALID, "", ""))
        p = self.s.ctl("credential-process", "prod")
        self.assertEqual(p.returncode, ROLE_INVALID, p.stderr)
        self.assertIn("no valid credentials for this role", p.stderr)
        p = self.s.ctl("credential-process", "dev")
        self.assertEqual(p.returncode, OK, p.stderr)
        self.assertEqual(json.loads(p.stdout)["Version"], 1)
        p = self.s.ctl("refresh", "nope")
        self.assertEqual(p.returncode, USAGE, p.stderr)
        self.assertIn("no such role", p.stderr)


class TestAllValid(CliTest):
    config = {"roles": [{"name": "dev", "arn": DEV_ARN}, {"name": "prod", "arn": PROD_ARN}]}

    def test_status_zero_and_quiet(self):
        self.s.start_daemon()
        p = self.s.ctl("status", "--quiet")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (NOT_SIGNED_IN, "", ""))
        p = self.s.login()
        self.assertEqual(p.returncode, OK, p.stderr)
        p = self.s.ctl("status", "--quiet")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (OK, "", ""))
        self.assertEqual(self.status()["signed_in"], True)
        p = self.s.ctl("logout")
        self.assertEqual(p.returncode, OK, p.stderr)
        p = self.s.ctl("status", "-q")
        self.assertEqual(p.returncode, NOT_SIGNED_IN)


class TestOutputs(CliTest):
    """--json on roles, env and check; env in every format, each read by
    what reads it; exec with no command."""

    def setUp(self):
        super().setUp()
        self.s.start_daemon()
        p = self.s.login()
        self.assertEqual(p.returncode, FAIL, p.stderr)   # prod is refused; dev is valid

    def expect_env(self):
        tok = self.s.token()
        return {"AWS_CONTAINER_CREDENTIALS_FULL_URI": self.s.ecs_url + "/role/dev",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": tok}

    def test_roles_json(self):
        p = self.s.ctl("roles", "--json")
        self.assertEqual(p.returncode, OK, p.stderr)
        roles = {r["role_arn"]: r for r in json.loads(p.stdout)["roles"]}
        self.assertEqual(roles[DEV_ARN]["held_as"], "dev")
        self.assertIn("saml-provider", roles[DEV_ARN]["principal_arn"])

    def test_check_json(self):
        p = self.s.ctl("check", "dev", "--for", "1h", "--json")
        self.assertEqual(p.returncode, OK, p.stderr)
        o = json.loads(p.stdout)
        self.assertEqual((o["ok"], o["role"], o["for"]), (True, "dev", 3600))
        self.assertTrue(o["message"])
        # No end for a password-less SSO is not claimed: a year is too long.
        p = self.s.ctl("check", "dev", "--for", "200h", "--json")
        o = json.loads(p.stdout)
        self.assertEqual((p.returncode, o["ok"]), (FAIL, False), p.stdout)
        self.assertIn("run 'adfs-credctl login'", o["message"])

    def test_env_formats(self):
        want = self.expect_env()
        # sh: what eval makes of it, in a POSIX shell.
        out = subprocess.run(["sh", "-c", f'eval "$("$0" -c "$1" env dev)" && env',
                              self.s.ctl_bin, self.s.config_path],
                             capture_output=True, text=True, check=True).stdout
        got = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        for k, v in want.items():
            self.assertEqual(got.get(k), v, k)
        # fish: the same through fish's own reading.
        out = subprocess.run(["fish", "--no-config", "-c",
                              f"{self.s.ctl_bin} -c {self.s.config_path} env dev --format fish "
                              "| source; and env"],
                             capture_output=True, text=True, check=True).stdout
        got = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        for k, v in want.items():
            self.assertEqual(got.get(k), v, k)
        # json, both spellings.
        for args in (("--format", "json"), ("--json",)):
            p = self.s.ctl("env", "dev", *args)
            self.assertEqual((p.returncode, json.loads(p.stdout)), (OK, want), p.stderr)
        # dotenv: NAME=VALUE lines, no quotes (docker --env-file reads the
        # value as it is).
        p = self.s.ctl("env", "dev", "--format", "dotenv")
        self.assertEqual(p.stdout, "".join(f"{k}={v}\n" for k, v in want.items()))
        # powershell: there is no PowerShell in Debian to run it; its
        # single-quoted string is literal, ' doubled.
        p = self.s.ctl("env", "dev", "--format", "powershell")
        self.assertEqual(p.stdout, "".join(f"$Env:{k} = '{v}'\n" for k, v in want.items()))
        # --token-file: the file's name, in every format.
        p = self.s.ctl("env", "dev", "--token-file", "--json")
        o = json.loads(p.stdout)
        self.assertEqual(o["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"],
                         os.path.join(self.s.state_dir, "token"))
        self.assertNotIn("AWS_CONTAINER_AUTHORIZATION_TOKEN", o)
        # What boto3 makes of the json form: credentials for dev.
        p = self.s.ctl("env", "dev", "--json")
        ident = self.s.boto3(json.loads(p.stdout))
        self.assertIn("ADFS-Dev", ident["Arn"])

    def test_exec_without_command_starts_shell(self):
        out = os.path.join(self.s.tmp, "shell-env.json")
        shell = os.path.join(self.s.tmp, "fake-shell")
        with open(shell, "w") as f:
            f.write(f"#!{PYTHON}\nimport json, os, sys\n"
                    f"json.dump({{'argv': sys.argv, 'env': dict(os.environ)}}, open({out!r}, 'w'))\n")
        os.chmod(shell, 0o755)
        env = clean_sdk_env({"SHELL": shell, "AWS_PROFILE": "stale",
                             "AWS_ACCESS_KEY_ID": "AKIASTALE"})
        env["PATH"] = os.environ["PATH"]
        p = subprocess.run([self.s.ctl_bin, "-c", self.s.config_path, "exec", "dev"],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, OK, p.stderr)
        self.assertIn(f"starting {shell} with role dev", p.stderr)
        with open(out) as f:
            run = json.load(f)
        self.assertEqual(run["argv"], [shell])
        e = run["env"]
        self.assertEqual(e["ADFS_CREDD_ROLE"], "dev")
        self.assertEqual(e["AWS_CONTAINER_CREDENTIALS_FULL_URI"], self.s.ecs_url + "/role/dev")
        self.assertNotIn("AWS_PROFILE", e)
        self.assertNotIn("AWS_ACCESS_KEY_ID", e)
        # The same with a command: the role is there too.
        p = self.s.ctl("exec", "dev", "--", PYTHON, "-c",
                       "import os; print(os.environ['ADFS_CREDD_ROLE'])")
        self.assertEqual((p.returncode, p.stdout), (OK, "dev\n"), p.stderr)


def run_in_pty(argv, cols, env):
    """argv with its stdout on a terminal cols wide; returns the output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    p = subprocess.Popen(argv, stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 4096)
        except OSError:   # EIO: the other side is closed
            break
        if not b:
            break
        chunks.append(b)
    os.close(master)
    p.wait(timeout=30)
    return p.returncode, b"".join(chunks).decode().replace("\r\n", "\n")


class TestStatusLayout(CliTest):
    LONG = "platform-engineering-production-eu-west-1-readonly-auditors"
    config = {"roles": [{"name": "dev", "arn": DEV_ARN},
                        {"name": LONG, "arn": PROD_ARN}]}

    def test_narrow_terminal_wide_and_colour(self):
        self.s.start_daemon()
        self.assertEqual(self.s.login().returncode, OK)
        argv = [self.s.ctl_bin, "-c", self.s.config_path, "status"]
        env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", TERM="xterm")
        env.pop("NO_COLOR", None)
        rc, out = run_in_pty(argv, 100, env)
        self.assertEqual(rc, OK, out)
        table = out.split("\n")[2:]
        plain = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in table if line]
        # Each role on one line no wider than the terminal; the long name
        # cut with an ellipsis, the columns still lined up.
        self.assertEqual(len(plain), 3, out)
        for line in plain:
            self.assertLessEqual(len(line), 100, line)
        self.assertNotIn(self.LONG, out)
        cut = [line for line in plain if line.startswith(self.LONG[:10])]
        self.assertEqual(len(cut), 1, plain)
        self.assertIn("\u2026", cut[0])
        starts = {line.index("valid") for line in plain[1:]}
        self.assertEqual(len(starts), 1, plain)
        self.assertEqual(plain[0].index("STATE"), starts.pop(), plain)
        # The state is coloured on a terminal...
        self.assertIn("\x1b[32mvalid\x1b[0m", out)
        # ...but not with NO_COLOR, nor in a pipe.
        rc, out = run_in_pty(argv, 100, dict(env, NO_COLOR="1"))
        self.assertNotIn("\x1b[", out)
        p = self.s.ctl("status")
        self.assertNotIn("\x1b[", p.stdout)
        # --wide, and a pipe: nothing is cut.
        rc, out = run_in_pty(argv + ["--wide"], 100, env)
        self.assertIn(self.LONG, out)
        self.assertIn(self.LONG, p.stdout)
        # A very narrow terminal: still one line per role.
        rc, out = run_in_pty(argv, 60, env)
        self.assertEqual(len([line for line in out.split("\n")[2:] if line]), 3, out)


if __name__ == "__main__":
    unittest.main()
