"""Another local user, and a hostile IdP, against adfs-credctl (issue 15,
items 6 to 8 and 10): the CLI talks only to a control socket of its own
user, the daemon refuses a state_dir others can tamper with, `status` names
another user squatting on a configured port, role names from ADFS that IAM
would refuse are refused, `env` output is safe to eval, remote text reaches
the terminal escaped, and `exec` leaves no static keys or profile to shadow
the daemon. Needs root (other uids through runuser, as test_endpoints)."""

import copy
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import PASSWORD, PYTHON, Stack, StackChecks, clean_sdk_env

RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
NOBODY = 65534
PROV = "arn:aws:iam::111122223333:saml-provider/ADFS"
DEV = "arn:aws:iam::111122223333:role/ADFS-Dev"
# A role name that runs `touch pwned` when printed unquoted for eval.
EVIL_NAME = "x;touch${IFS}pwned;"
EVIL_ROLE = "arn:aws:iam::111122223333:role/" + EVIL_NAME

# Listens on a unix socket as another user; prints "ready", then what it
# was sent (as JSON) once the client goes quiet.
UNIX_SQUATTER = r"""
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(4)
print("ready", flush=True)
s.settimeout(20)
got = b""
try:
    c, _ = s.accept()
    c.settimeout(3)
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += b
except OSError:
    pass
print(json.dumps(got.decode(errors="replace")), flush=True)
"""

# Listens on 127.0.0.1:PORT as another user until its stdin closes.
TCP_SQUATTER = r"""
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
print("ready", flush=True)
sys.stdin.read()
"""


def stop(p):
    try:
        p.communicate(timeout=30)  # closes its stdin: it ends
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()


def as_nobody(test, script, *args):
    """Runs script as nobody until it prints "ready"; stopped at cleanup."""
    p = subprocess.Popen([RUNUSER, "-u", "nobody", "--", PYTHON, "-c", script, *args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    test.addCleanup(stop, p)
    line = p.stdout.readline()
    if line.strip() != "ready":
        raise AssertionError("the squatter did not start: %r" % line)
    return p


def world_user(**changes):
    """world.example.json's users with alice changed."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "emulators", "world.example.json")) as f:
        users = copy.deepcopy(json.load(f)["users"])
    users[0].update(changes)
    return {"users": users}


class TestControlSocketOwner(unittest.TestCase):
    """state_dir in a shared directory: another user gets there first."""

    def setUp(self):
        self.s = Stack()
        self.addCleanup(self.s.close)
        self.shared = os.path.join(self.s.tmp, "shared")
        os.mkdir(self.shared)
        os.chmod(self.s.tmp, 0o755)
        os.chmod(self.shared, 0o1777)
        self.state = os.path.join(self.shared, "state")
        self.s.state_dir = self.state
        self.s.write_config({"state_dir": self.state})

    def test_cli_sends_nothing_to_a_foreign_listener(self):
        subprocess.run([RUNUSER, "-u", "nobody", "--", "mkdir", "-m", "0777", self.state],
                       check=True)
        sq = as_nobody(self, UNIX_SQUATTER, os.path.join(self.state, "control.sock"))
        p = self.s.login()
        got = json.loads(sq.stdout.readline())
        self.assertEqual(got, "", "another user's listener was sent: %r" % got)
        self.assertNotIn(PASSWORD, got)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("belongs to uid %d" % NOBODY, p.stderr)

    def test_daemon_refuses_a_parent_others_can_write(self):
        open_dir = os.path.join(self.s.tmp, "open")
        os.mkdir(open_dir)
        os.chmod(open_dir, 0o777)  # no sticky bit: anyone may rename
        self.s.state_dir = os.path.join(open_dir, "state")
        self.s.write_config({"state_dir": self.s.state_dir})
        with self.assertRaises(RuntimeError):
            self.s.start_daemon()
        self.s.stop_daemon(expect=1)
        self.assertIn("can be written by other users and is not sticky",
                      self.s.log_text())

    def test_daemon_refuses_a_symlinked_state_dir(self):
        real = os.path.join(self.s.tmp, "real")
        os.mkdir(real, 0o700)
        link = os.path.join(self.s.tmp, "link")
        os.symlink(real, link)
        self.s.state_dir = link
        self.s.write_config({"state_dir": link})
        with self.assertRaises(RuntimeError):
            self.s.start_daemon()
        self.s.stop_daemon(expect=1)
        self.assertIn("is a symbolic link", self.s.log_text())

    def test_sticky_shared_parent_is_fine(self):
        # /tmp-like: sticky, root's; the state directory itself is ours.
        self.s.start_daemon()
        st = os.lstat(self.state)
        self.assertEqual(st.st_mode & 0o7777, 0o700)
        p = self.s.ctl("status")
        # The daemon answered: not signed in (4), not "not running" (3).
        self.assertEqual(p.returncode, 4, p.stderr)


class TestPortSquatting(unittest.TestCase):
    """Nothing holds serve.ecs and another user listens there."""

    def setUp(self):
        self.s = Stack()
        self.addCleanup(self.s.close)

    def test_status_names_the_squatter(self):
        as_nobody(self, TCP_SQUATTER, str(self.s.ecs_port))
        p = self.s.ctl("status")
        self.assertIn("127.0.0.1:%d (serve.ecs) is held by uid %d" % (self.s.ecs_port, NOBODY),
                      p.stderr)

    def test_no_warning_when_the_daemon_holds_it(self):
        self.s.start_daemon()
        p = self.s.ctl("status")
        self.assertEqual(p.returncode, 4, p.stderr)   # answered, not signed in
        self.assertNotIn("warning", p.stderr)


class TestHostileRoles(StackChecks, unittest.TestCase):
    """ADFS offers a role whose name is shell code."""

    def setUp(self):
        self.s = Stack(world=world_user(roles=[
            DEV + "," + PROV, EVIL_ROLE + "," + PROV]))
        self.addCleanup(self.s.close)
        self.s.start_daemon()

    def test_refused_and_never_run(self):
        login = self.s.login()
        work = tempfile.mkdtemp(dir=self.s.tmp)
        subprocess.run(["sh", "-c", 'eval "$("$0" -c "$1" env "$2")"', self.s.ctl_bin,
                        self.s.config_path, EVIL_NAME], cwd=work, capture_output=True,
                       timeout=60)
        self.assertFalse(os.path.exists(os.path.join(work, "pwned")),
                         "eval of `adfs-credctl env` ran the role name")
        self.assertNotEqual(login.returncode, 0, login.stdout)
        self.assertIn("IAM would not accept", login.stdout + login.stderr)
        self.assertNotIn(EVIL_NAME, [r["name"] for r in self.status()["roles"]])


class TestRemoteText(StackChecks, unittest.TestCase):
    """ADFS's NameID holds a newline and a C1 CSI (legal in XML)."""

    def setUp(self):
        self.s = Stack(world=world_user(name_id="EXAMPLE\\alice\n\u009b31mFORGED line"))
        self.addCleanup(self.s.close)
        self.s.start_daemon()

    def test_status_escapes_it(self):
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.s.ctl("status")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("\u009b", p.stdout)
        self.assertFalse([ln for ln in p.stdout.splitlines() if "FORGED" in ln
                          and not ln.startswith("signed in as ")], p.stdout)
        self.assertIn("\\u009b31mFORGED", p.stdout)

    def test_daemon_log_escapes_it(self):
        """The daemon logs the user it signed in as: the NameID's newline
        and CSI reach the log escaped, on the one line."""
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stderr)
        log = self.s.log_text()
        self.assertNotIn("\u009b", log)
        self.assertFalse([ln for ln in log.splitlines() if ln.startswith("31mFORGED")
                          or ln.startswith("\u009b31mFORGED")], log)
        self.assertRegex(log, r"EXAMPLE\\alice\\x0a\\u009b31mFORGED line")


class TestEnvAndExec(StackChecks, unittest.TestCase):
    def setUp(self):
        self.s = Stack()
        self.addCleanup(self.s.close)
        # A state_dir with a space, a quote and shell code in its name:
        # `env --token-file` prints it.
        self.s.state_dir = os.path.join(self.s.tmp, "st 'a' $(touch${IFS}pwned)")
        self.s.write_config({"state_dir": self.s.state_dir})
        self.s.start_daemon()
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_env_output_evals_to_the_same_values(self):
        work = tempfile.mkdtemp(dir=self.s.tmp)
        p = subprocess.run(
            ["sh", "-c", 'eval "$("$0" -c "$1" env --token-file)" && '
             'printf "%s\\n" "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"',
             self.s.ctl_bin, self.s.config_path],
            cwd=work, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(os.path.join(work, "pwned")))
        self.assertEqual(p.stdout.strip(), os.path.join(self.s.state_dir, "token"))

    def test_exec_clears_static_keys_and_profiles(self):
        shadow = {"AWS_ACCESS_KEY_ID": "AKIASTATIC", "AWS_SECRET_ACCESS_KEY": "static",
                  "AWS_SESSION_TOKEN": "static", "AWS_PROFILE": "other",
                  "AWS_DEFAULT_PROFILE": "other"}
        p = subprocess.run([self.s.ctl_bin, "-c", self.s.config_path, "exec", "--",
                            "/usr/bin/env"], env=clean_sdk_env(shadow),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        names = {ln.split("=", 1)[0] for ln in p.stdout.splitlines()}
        self.assertFalse(names & set(shadow), p.stdout)
        self.assertIn("AWS_CONTAINER_CREDENTIALS_FULL_URI", names)


if __name__ == "__main__":
    unittest.main()
