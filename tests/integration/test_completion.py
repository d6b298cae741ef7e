"""Shell completions (completions/, issue 17 item 3), as installed: the
module runs `cmake --install` of the build into a temporary prefix and loads
each completion from where the shell itself finds it there (bash-completion
through XDG_DATA_DIRS, zsh through $fpath, fish through XDG_DATA_DIRS), with
the installed adfs-credctl first on PATH.

- bash: Debian's bash-completion machinery (__load_completion, `complete
  -p`), the completion function called with COMP_WORDS, COMP_CWORD,
  COMP_LINE and COMP_POINT set as readline would, and COMPREPLY read back.
- fish: `complete -C LINE`, fish's own completion of a command line.
- zsh: a real completion (Tab) in an interactive zsh on a pseudo-terminal
  (zsh/zpty), with compadd wrapped to note the matches offered.
- `adfs-credctl roles --names`, which the scripts call for ROLE: from a
  running daemon, from the config when it is stopped, silent on stderr."""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import DEV_ARN, PROD_ARN, Stack, build_dir

HERE = os.path.dirname(os.path.abspath(__file__))
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
COMMANDS = {"login", "logout", "status", "roles", "refresh", "env", "exec", "check",
            "credential-process", "doctor", "aws-config", "help"}
FORMATS = {"sh", "fish", "powershell", "json", "dotenv"}

# `bash drive.bash LINE`: bash-completion as an interactive bash loads it,
# then the completion function bound to adfs-credctl, on LINE with the
# cursor at its end, split into words as readline splits them
# (COMP_WORDBREAKS: blanks separate words, '=' and ':' are words of their
# own). Prints `complete -p adfs-credctl`, the file the function is from,
# then COMPREPLY, one a line.
BASH_DRIVER = r"""
source /usr/share/bash-completion/bash_completion || exit 3
__load_completion adfs-credctl || exit 4
spec=$(complete -p adfs-credctl) || exit 5
printf '%s\n' "$spec"
fn=${spec##*-F } fn=${fn%% *}
shopt -s extdebug
declare -F "$fn" | cut -d' ' -f3-
shopt -u extdebug
COMP_LINE=$1
COMP_POINT=${#COMP_LINE}
COMP_WORDS=()
for w in $COMP_LINE; do
	while [[ -n $w ]]; do
		if [[ $w =~ ^([=:]+)(.*)$ || $w =~ ^([^=:]+)(.*)$ ]]; then
			COMP_WORDS+=("${BASH_REMATCH[1]}")
			w=${BASH_REMATCH[2]}
		fi
	done
done
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMPREPLY=()
"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""

# `zsh -f drive.zsh FPATH_DIR OUT LINE`: LINE then Tab in an interactive
# zsh on a pseudo-terminal with FPATH_DIR first in $fpath and compinit run;
# every match a completion function adds is appended to OUT.
ZSH_DRIVER = r"""
zmodload zsh/zpty || exit 3
fp=$1 out=$2 line=$3
zpty z env TERM=dumb zsh -f -i || exit 3
# Runs $1 in the inner shell and waits until it is done and the next
# prompt (@P@) is out: zle drops what is typed before it sets up the
# terminal.
integer n=0
run() {
	(( n++ ))
	zpty -w z "$1; print -r -- __OK''${n}__"
	zpty -r z buf "*__OK${n}__*@P@*" || exit 4
}
run "PS1='@''P@'; unsetopt autolist listbeep beep; fpath=(${(q)fp} \$fpath); autoload -Uz compinit; compinit -u -D"
# compadd, noting what it adds; the calls that only collect (-O, -A, -D)
# pass through untouched.
run "compadd() { if (( \${@[(I)-[OAD]]} )); then builtin compadd \"\$@\"; return; fi; local -a m; builtin compadd -O m \"\$@\"; (( \$#m )) && print -rl -- \$m >>${(q)out}; builtin compadd \"\$@\"; }"
run "print -rl -- \$_comps[adfs-credctl] >>${(q)out}.comps"
zpty -w -n z "$line"$'\t'
run $'\C-e\C-u'"true"
zpty -d z
"""

prefix = None   # the temporary install prefix (setUpModule)
tmpdir = None


def setUpModule():
    global prefix, tmpdir
    tmpdir = tempfile.mkdtemp(prefix="adfs-credd-compl-")
    prefix = os.path.join(tmpdir, "prefix")
    p = subprocess.run(["cmake", "--install", build_dir(), "--prefix", prefix],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("cmake --install failed:\n" + p.stdout + p.stderr)
    for name, text in (("drive.bash", BASH_DRIVER), ("drive.zsh", ZSH_DRIVER)):
        with open(os.path.join(tmpdir, name), "w") as f:
            f.write(text)
    # A home with nothing in it: no user's rc files, completions or config.
    os.makedirs(os.path.join(tmpdir, "home"))


def tearDownModule():
    shutil.rmtree(tmpdir, ignore_errors=True)


def shell_env(**extra):
    """The environment the shells run in: the installed adfs-credctl first
    on PATH, the prefix's share/ first in XDG_DATA_DIRS, an empty home."""
    home = os.path.join(tmpdir, "home")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BASH_COMPLETION", "XDG_", "ADFS_CREDD")) and
           k not in ("ENV", "BASH_ENV", "ZDOTDIR", "FPATH")}
    env.update({
        "PATH": os.path.join(prefix, "bin") + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
        "XDG_DATA_DIRS": os.path.join(prefix, "share") + ":/usr/share",
        "XDG_RUNTIME_DIR": os.path.join(tmpdir, "run"),
    })
    env.update(extra)
    return env


def write_config(path, names, state_dir):
    """A config with roles `names` (JSON is YAML)."""
    arns = [DEV_ARN, PROD_ARN]
    roles = ",".join('{"name": "%s", "arn": "%s"}' % (n, arns[i % 2])
                     for i, n in enumerate(names))
    with open(path, "w") as f:
        f.write('{"adfs": {"url": "https://adfs.example.com", '
                '"username": "EXAMPLE\\\\alice"}, "roles": [%s], '
                '"state_dir": "%s"}\n' % (roles, state_dir))


class Bash:
    """complete(line) -> the set of COMPREPLY for line (cursor at its end)."""

    def complete(self, line, cwd=None):
        p = subprocess.run(["bash", "--norc", "--noprofile",
                            os.path.join(tmpdir, "drive.bash"), line],
                           capture_output=True, text=True, timeout=30,
                           env=shell_env(), cwd=cwd or tmpdir)
        self.assertEqual(p.returncode, 0, f"bash driver failed on {line!r}:\n"
                         f"{p.stdout}{p.stderr}")
        spec, source, *reply = p.stdout.split("\n")
        self.assertEqual(spec, "complete -F _adfs_credctl adfs-credctl", p.stdout)
        # Loaded from the prefix (XDG_DATA_DIRS), where the .deb's
        # /usr/share/bash-completion/completions/adfs-credctl would be.
        self.assertEqual(source, os.path.join(prefix, "share", "bash-completion",
                                              "completions", "adfs-credctl"))
        return {r for r in reply if r}


@unittest.skipUnless(os.path.exists(BASH_COMPLETION),
                     "bash-completion is not installed (scripts/install-deps.sh)")
class TestBash(Bash, unittest.TestCase):
    """The bash completion, without a daemon: commands, options, values,
    files."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=tmpdir)
        self.config = os.path.join(self.dir, "c.yaml")
        write_config(self.config, ["dev", "prod"], os.path.join(self.dir, "state"))

    def test_installed_where_bash_completion_looks(self):
        # complete() checks that __load_completion found it in the prefix.
        self.assertEqual(self.complete("adfs-credctl st"), {"status"})

    def test_commands(self):
        self.assertEqual(self.complete("adfs-credctl "), COMMANDS)
        self.assertEqual(self.complete("adfs-credctl c"), {"check", "credential-process"})
        self.assertEqual(self.complete("adfs-credctl -c x.yaml r"), {"roles", "refresh"})
        self.assertEqual(self.complete("adfs-credctl help e"), {"env", "exec"})

    def test_global_options_before_the_command(self):
        self.assertEqual(self.complete("adfs-credctl -"),
                         {"-c", "--config", "-h", "--help", "--version"})

    def test_options_of_commands(self):
        self.assertEqual(self.complete("adfs-credctl login --"),
                         {"--password-stdin", "--force", "--config", "--help"})
        self.assertEqual(self.complete("adfs-credctl status --"),
                         {"--json", "--quiet", "--wide", "--config", "--help"})
        self.assertEqual(self.complete("adfs-credctl roles --n"), {"--names"})
        self.assertEqual(self.complete("adfs-credctl env --"),
                         {"--token-file", "--scoped", "--format", "--json", "--config",
                          "--help"})
        self.assertEqual(self.complete("adfs-credctl check --"),
                         {"--for", "--quiet", "--json", "--config", "--help"})
        self.assertEqual(self.complete("adfs-credctl exec --r"), {"--require"})
        self.assertEqual(self.complete("adfs-credctl aws-config --"),
                         {"--print", "--diff", "--write", "--profile-prefix", "--file",
                          "--config", "--help"})
        self.assertEqual(self.complete("adfs-credctl doctor --j"), {"--json"})
        # No --version after a command; nothing for logout's own.
        self.assertEqual(self.complete("adfs-credctl logout --"), {"--config", "--help"})

    def test_format_values(self):
        self.assertEqual(self.complete("adfs-credctl env --format "), FORMATS)
        self.assertEqual(self.complete("adfs-credctl env dev --format p"), {"powershell"})
        self.assertEqual(self.complete("adfs-credctl env --format=j"), {"json"})
        # Values that are the user's to type: nothing offered.
        self.assertEqual(self.complete("adfs-credctl check --for "), set())
        self.assertEqual(self.complete("adfs-credctl exec --require "), set())

    def test_files_for_config_and_file(self):
        for line in ("adfs-credctl -c ", "adfs-credctl --config ", "adfs-credctl status -c ",
                     "adfs-credctl aws-config --file ", "adfs-credctl --config="):
            self.assertEqual(self.complete(line, cwd=self.dir), {"c.yaml"}, line)

    def test_global_config_after_the_command(self):
        # -c after the command is read: the roles are its config's, and
        # its value is not taken for ROLE.
        self.assertEqual(self.complete(f"adfs-credctl refresh -c {self.config} "),
                         {"dev", "prod"})
        self.assertEqual(self.complete(f"adfs-credctl env --config={self.config} "),
                         {"dev", "prod"})
        self.assertEqual(self.complete(f"adfs-credctl env -c{self.config} "),
                         {"dev", "prod"})
        self.assertEqual(self.complete(f"adfs-credctl status -c {self.config} --j"),
                         {"--json"})
        self.assertEqual(self.complete(f"adfs-credctl -c {self.config} check --for 8h "),
                         {"dev", "prod"})

    def test_config_under_home(self):
        # ~/ as the shell would expand it (the word reaches the completion
        # as typed).
        home = os.path.join(tmpdir, "home")
        write_config(os.path.join(home, "mine.yaml"), ["research"],
                     os.path.join(self.dir, "state"))
        self.addCleanup(os.unlink, os.path.join(home, "mine.yaml"))
        self.assertEqual(self.complete("adfs-credctl -c ~/mine.yaml env "), {"research"})

    def test_one_role_only(self):
        self.assertEqual(self.complete(f"adfs-credctl -c {self.config} env d"), {"dev"})
        self.assertEqual(self.complete(f"adfs-credctl -c {self.config} env dev "), set())
        self.assertEqual(self.complete(f"adfs-credctl -c {self.config} status "), set())

    def test_exec_command_after_double_dash(self):
        got = self.complete(f"adfs-credctl -c {self.config} exec dev -- bas")
        self.assertIn("bash", got)
        self.assertFalse(got - {c for c in got if c.startswith("bas")}, got)
        # After --, adfs-credctl's options and roles are not offered.
        got = self.complete(f"adfs-credctl -c {self.config} exec -- ls --")
        self.assertNotIn("--config", got)
        self.assertNotIn("--require", got)
        self.assertEqual(self.complete(f"adfs-credctl -c {self.config} exec -- "
                                       f"ls {self.dir}/c."), {f"{self.dir}/c.yaml"})


class RoleNames:
    """A Stack with three roles whose daemon runs."""

    def setUp(self):
        self.s = Stack(config={"roles": [
            {"name": "dev", "arn": DEV_ARN},
            {"name": "prod", "arn": PROD_ARN},
            {"name": "prod-admin", "arn": PROD_ARN},
        ]})
        self.addCleanup(self.s.close)
        self.s.start_daemon()

    def other_roles(self):
        """Rewrites the config with other roles; the running daemon keeps
        its own until a reload, so the two sources differ."""
        self.s.write_config({"roles": [{"name": "alpha", "arn": DEV_ARN},
                                       {"name": "beta", "arn": PROD_ARN}]})


class TestRoleNames(RoleNames, unittest.TestCase):
    """adfs-credctl roles --names itself."""

    def names(self, *args, config=True, env=None):
        cmd = [os.path.join(prefix, "bin", "adfs-credctl")]
        if config:
            cmd += ["-c", self.s.config_path]
        p = subprocess.run(cmd + ["roles", "--names", *args], capture_output=True,
                           text=True, timeout=30, env=shell_env(**(env or {})))
        return p.returncode, p.stdout, p.stderr

    def test_from_the_daemon_then_the_config(self):
        self.assertEqual(self.names(), (0, "dev\nprod\nprod-admin\n", ""))
        self.other_roles()
        self.assertEqual(self.names(), (0, "dev\nprod\nprod-admin\n", ""))
        self.s.stop_daemon()
        self.assertEqual(self.names(), (0, "alpha\nbeta\n", ""))

    def test_held_roles_without_a_roles_section(self):
        self.s.stop_daemon()
        self.s.write_config({"roles": None})
        self.s.start_daemon()
        self.assertEqual(self.s.login().returncode, 0)
        self.assertEqual(self.names(), (0, "ADFS-Dev\nADFS-Prod\n", ""))

    def test_silent_when_it_cannot(self):
        self.s.stop_daemon()
        bad = os.path.join(self.s.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("adfs:\n  url: http://adfs.example.com\n")
        for env in ({"ADFS_CREDD_CONFIG": bad}, {}):
            # -c to a missing file, a config that does not load, no config
            # and no daemon: nothing on stdout or stderr, exit 1.
            with self.subTest(env=env):
                self.assertEqual(self.names(config=False, env=env), (1, "", ""))
        cmd = [os.path.join(prefix, "bin", "adfs-credctl"), "-c"]
        for path in (bad, os.path.join(self.s.tmp, "missing.yaml")):
            p = subprocess.run(cmd + [path, "roles", "--names"], capture_output=True,
                               text=True, timeout=30, env=shell_env())
            self.assertEqual((p.returncode, p.stdout, p.stderr), (1, "", ""), path)

    def test_config_without_runtime_dir(self):
        # No XDG_RUNTIME_DIR and no state_dir: no socket to ask, but the
        # config's roles still come (find_socket() would fail first).
        self.s.stop_daemon()
        self.s.write_config({"state_dir": None, "roles": [
            {"name": "dev", "arn": DEV_ARN}, {"name": "prod", "arn": PROD_ARN},
            {"name": "prod-admin", "arn": PROD_ARN}]})
        env = shell_env()
        del env["XDG_RUNTIME_DIR"]
        p = subprocess.run([os.path.join(prefix, "bin", "adfs-credctl"), "-c",
                            self.s.config_path, "roles", "--names"],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual((p.returncode, p.stdout, p.stderr),
                         (0, "dev\nprod\nprod-admin\n", ""))

    def test_config_from_the_environment(self):
        self.s.stop_daemon()
        self.assertEqual(self.names(config=False,
                                    env={"ADFS_CREDD_CONFIG": self.s.config_path}),
                         (0, "dev\nprod\nprod-admin\n", ""))

    def test_usage(self):
        for args in (("extra",), ("--json",)):
            rc, out, err = self.names(*args)
            self.assertEqual((rc, out), (2, ""), args)
            self.assertIn("adfs-credctl roles: ", err)


@unittest.skipUnless(os.path.exists(BASH_COMPLETION),
                     "bash-completion is not installed (scripts/install-deps.sh)")
class TestBashRoles(RoleNames, Bash, unittest.TestCase):
    """ROLE from the running daemon, and from the config once it stops."""

    def test_roles_from_daemon_then_config(self):
        c = self.s.config_path
        self.assertEqual(self.complete(f"adfs-credctl -c {c} refresh "),
                         {"dev", "prod", "prod-admin"})
        self.assertEqual(self.complete(f"adfs-credctl env -c {c} prod"),
                         {"prod", "prod-admin"})
        self.assertEqual(self.complete(f"adfs-credctl credential-process --config {c} d"),
                         {"dev"})
        self.other_roles()
        self.assertEqual(self.complete(f"adfs-credctl -c {c} exec "),
                         {"dev", "prod", "prod-admin"})
        self.s.stop_daemon()
        self.assertEqual(self.complete(f"adfs-credctl -c {c} exec "), {"alpha", "beta"})
        self.assertEqual(self.complete(f"adfs-credctl check --for 1h -c {c} "),
                         {"alpha", "beta"})


@unittest.skipUnless(shutil.which("fish"), "fish is not installed (scripts/install-deps.sh)")
class TestFish(RoleNames, unittest.TestCase):
    """fish's own `complete -C`, the file autoloaded from the prefix."""

    def complete(self, line):
        p = subprocess.run(["fish", "-c", 'complete -C "$argv[1]"', line],
                           capture_output=True, text=True, timeout=30, env=shell_env(),
                           cwd=self.s.tmp)
        self.assertEqual(p.returncode, 0, p.stderr)
        return {r.split("\t")[0] for r in p.stdout.split("\n") if r}

    def test_completions(self):
        c = self.s.config_path
        self.assertEqual(self.complete("adfs-credctl st"), {"status"})
        self.assertEqual(self.complete("adfs-credctl "), COMMANDS)
        self.assertEqual(self.complete("adfs-credctl status --"),
                         {"--json", "--quiet", "--wide", "--config", "--help"})
        self.assertEqual(self.complete("adfs-credctl env --format "), FORMATS)
        self.assertEqual(self.complete("adfs-credctl -c conf"), {"config.yaml"})
        self.assertEqual(self.complete(f"adfs-credctl refresh -c {c} "),
                         {"dev", "prod", "prod-admin"})
        self.assertEqual(self.complete(f"adfs-credctl refresh -c {c} dev "), set())
        self.assertEqual(self.complete(f"adfs-credctl refresh -c{c} "),
                         {"dev", "prod", "prod-admin"})
        self.assertIn("bash", self.complete(f"adfs-credctl -c {c} exec dev -- bas"))
        self.assertNotIn("--config", self.complete("adfs-credctl exec -- ls --"))
        self.other_roles()
        self.s.stop_daemon()
        self.assertEqual(self.complete(f"adfs-credctl --config {c} env "), {"alpha", "beta"})


@unittest.skipUnless(shutil.which("zsh"), "zsh is not installed (scripts/install-deps.sh)")
class TestZsh(RoleNames, unittest.TestCase):
    """A Tab in an interactive zsh (zpty), _adfs-credctl from the prefix's
    vendor-completions in $fpath."""

    def complete(self, line):
        out = os.path.join(self.s.tmp, "zsh-matches")
        for f in (out, out + ".comps"):
            if os.path.exists(f):
                os.unlink(f)
        fp = os.path.join(prefix, "share", "zsh", "vendor-completions")
        p = subprocess.run(["zsh", "-f", os.path.join(tmpdir, "drive.zsh"), fp, out, line],
                           capture_output=True, text=True, timeout=60, env=shell_env(),
                           cwd=self.s.tmp)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(out + ".comps") as f:
            self.assertEqual(f.read(), "_adfs-credctl\n")
        if not os.path.exists(out):
            return set()
        with open(out) as f:
            return set(f.read().split())

    def test_syntax(self):
        p = subprocess.run(["zsh", "-n", os.path.join(prefix, "share", "zsh",
                                                      "vendor-completions", "_adfs-credctl")],
                           capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_completions(self):
        c = self.s.config_path
        self.assertEqual(self.complete("adfs-credctl st"), {"status"})
        self.assertEqual(self.complete("adfs-credctl "), COMMANDS)
        self.assertEqual(self.complete("adfs-credctl status --"),
                         {"--json", "--quiet", "--wide", "--config", "--help"})
        self.assertEqual(self.complete("adfs-credctl env --format "), FORMATS)
        self.assertEqual(self.complete("adfs-credctl -c conf"), {"config.yaml"})
        self.assertEqual(self.complete(f"adfs-credctl refresh -c {c} "),
                         {"dev", "prod", "prod-admin"})
        self.assertEqual(self.complete(f"adfs-credctl status -c {c} --j"), {"--json"})
        self.assertIn("bash", self.complete(f"adfs-credctl -c {c} exec dev -- bas"))
        self.other_roles()
        self.s.stop_daemon()
        self.assertEqual(self.complete(f"adfs-credctl --config {c} env "), {"alpha", "beta"})


if __name__ == "__main__":
    unittest.main()
