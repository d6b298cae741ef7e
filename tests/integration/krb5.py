"""A throw-away MIT Kerberos realm for the tests.

KDC() writes krb5.conf and kdc.conf into a new temporary directory, creates
the database with kdb5_util (stash file, master password given on the
command line, so nothing is interactive), adds a user principal with a
password and an HTTP service principal with a random key, exports the
service key to a keytab, starts `krb5kdc -n` (foreground) on 127.0.0.1 with
a free port for both UDP and TCP, and runs kinit for the user into a FILE:
ccache. Nothing is read from or written to /etc: every process we start gets
KRB5_CONFIG (and KRB5_KDC_PROFILE for the KDC tools) explicitly, and works
as root in CI.

    with KDC() as kdc:
        kdc.client_env     # KRB5_CONFIG, KRB5CCNAME         -> the daemon
        kdc.acceptor_env   # KRB5_CONFIG, KRB5_KTNAME, ...   -> adfs_emulator.py
        kdc.kdestroy()     # empty the user's ccache (a "no ticket" run)
        kdc.kinit()        # and get a ticket again

Also usable from the command line for manual checks:
    /usr/bin/python3 tests/integration/krb5.py   # prints the env, waits for ^C
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

from harness import stop_process, wait_until

REALM = "TEST.REALM"
USER = "alice"
USER_PASSWORD = "Kerberos-Pass-1"
SERVICE = "HTTP/localhost"
MASTER_PASSWORD = "kdc-master-only-for-tests"

SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


def _tool(name):
    for d in SBIN:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    found = shutil.which(name)
    if not found:
        raise RuntimeError("%s not found: install krb5-kdc, krb5-admin-server and "
                           "krb5-user" % name)
    return found


def available():
    """True when the MIT KDC tools and a kinit are installed."""
    try:
        for t in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "kdestroy"):
            _tool(t)
        return True
    except RuntimeError:
        return False


def free_port_tcp_udp():
    """A port number that is free for both TCP and UDP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free TCP+UDP port on 127.0.0.1")


class KDC:
    def __init__(self, realm=REALM, user=USER, password=USER_PASSWORD,
                 service=SERVICE, keep=False):
        self.realm, self.user, self.password, self.service = realm, user, password, service
        self.keep = keep
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="krb5-kdc-")
        os.chmod(self.dir, 0o700)
        self.port = None
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.keytab = os.path.join(self.dir, "http.keytab")
        self.ccache = "FILE:" + os.path.join(self.dir, "ccache")
        self.rcache_dir = os.path.join(self.dir, "rcache")
        self.log = os.path.join(self.dir, "kdc.log")
        self.stdout_log = os.path.join(self.dir, "krb5kdc.out")

    # --- environment -------------------------------------------------------
    @property
    def principal(self):
        return "%s@%s" % (self.user, self.realm)

    @property
    def service_principal(self):
        return "%s@%s" % (self.service, self.realm)

    @property
    def env(self):
        """Everything (KDC tools, clients and acceptors)."""
        return {"KRB5_CONFIG": self.krb5_conf, "KRB5_KDC_PROFILE": self.kdc_conf,
                "KRB5CCNAME": self.ccache, "KRB5_KTNAME": "FILE:" + self.keytab,
                "KRB5RCACHEDIR": self.rcache_dir}

    @property
    def client_env(self):
        """For the process that signs in (the daemon, kinit, klist)."""
        return {"KRB5_CONFIG": self.krb5_conf, "KRB5CCNAME": self.ccache}

    @property
    def acceptor_env(self):
        """For the ADFS emulator (the HTTP/localhost acceptor)."""
        return {"KRB5_CONFIG": self.krb5_conf, "KRB5_KTNAME": "FILE:" + self.keytab,
                "KRB5RCACHEDIR": self.rcache_dir}

    def _run(self, argv, input=None, env=None, check=True):
        e = dict(os.environ)
        # Never let a caller's ccache or config leak in.
        for k in ("KRB5CCNAME", "KRB5_CONFIG", "KRB5_KDC_PROFILE", "KRB5_KTNAME",
                  "KRB5_CLIENT_KTNAME", "KRB5_TRACE"):
            e.pop(k, None)
        e.update({"KRB5_CONFIG": self.krb5_conf, "KRB5_KDC_PROFILE": self.kdc_conf})
        e.update(env or {})
        p = subprocess.run(argv, input=input, env=e, capture_output=True, text=True,
                           timeout=60)
        if check and p.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(argv), p.returncode,
                                                          p.stdout, p.stderr))
        return p

    # --- life cycle ----------------------------------------------------------
    def start(self):
        """Creates the realm, starts the KDC, gets the user a ticket; on
        failure everything started so far is stopped again."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        self.port = free_port_tcp_udp()
        os.makedirs(self.rcache_dir, mode=0o700, exist_ok=True)
        self._write_configs()
        self._run([_tool("kdb5_util"), "-r", self.realm, "create", "-s",
                   "-P", MASTER_PASSWORD])
        kadmin = _tool("kadmin.local")
        self._run([kadmin, "-r", self.realm, "-q",
                   "addprinc -pw %s %s" % (self.password, self.principal)])
        self._run([kadmin, "-r", self.realm, "-q",
                   "addprinc -randkey %s" % self.service_principal])
        self._run([kadmin, "-r", self.realm, "-q",
                   "ktadd -k %s %s" % (self.keytab, self.service_principal)])
        os.chmod(self.keytab, 0o600)
        e = dict(os.environ)
        e.update({"KRB5_CONFIG": self.krb5_conf, "KRB5_KDC_PROFILE": self.kdc_conf})
        self._out = open(self.stdout_log, "w")
        self.proc = subprocess.Popen([_tool("krb5kdc"), "-n", "-r", self.realm],
                                     env=e, stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_listening()
        self.kinit()
        return self

    def _write_configs(self):
        with open(self.krb5_conf, "w") as f:
            f.write("""[libdefaults]
    default_realm = %(realm)s
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    ignore_acceptor_hostname = true
    forwardable = false
    ticket_lifetime = 10h
    default_ccache_name = %(ccache)s
    default_keytab_name = FILE:%(keytab)s

[realms]
    %(realm)s = {
        kdc = 127.0.0.1:%(port)d
        admin_server = 127.0.0.1:%(port)d
    }

[domain_realm]
    localhost = %(realm)s
    .localhost = %(realm)s

[logging]
    kdc = FILE:%(log)s
    default = FILE:%(log)s
""" % {"realm": self.realm, "port": self.port, "ccache": self.ccache,
       "keytab": self.keytab, "log": self.log})
        with open(self.kdc_conf, "w") as f:
            f.write("""[kdcdefaults]
    kdc_listen = 127.0.0.1:%(port)d
    kdc_tcp_listen = 127.0.0.1:%(port)d

[realms]
    %(realm)s = {
        database_name = %(dir)s/principal
        key_stash_file = %(dir)s/stash
        acl_file = %(dir)s/kadm5.acl
        max_life = 10h 0m 0s
        max_renewable_life = 1d 0h 0m 0s
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }

[logging]
    kdc = FILE:%(log)s
""" % {"realm": self.realm, "port": self.port, "dir": self.dir, "log": self.log})
        with open(os.path.join(self.dir, "kadm5.acl"), "w") as f:
            f.write("")

    def _wait_listening(self, timeout=15):
        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError("krb5kdc exited (%s):\n%s" % (self.proc.returncode,
                                                                 self.log_text()))
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True

        if wait_until(listening, timeout, ignore=(OSError,)):
            return
        raise RuntimeError("krb5kdc did not listen on 127.0.0.1:%d:\n%s"
                           % (self.port, self.log_text()))

    def log_text(self):
        out = []
        for p in (self.stdout_log, self.log):
            try:
                with open(p, errors="replace") as f:
                    out.append(f.read())
            except OSError:
                pass
        return "".join(out)

    # --- tickets ---------------------------------------------------------------
    def kinit(self, principal=None, password=None, ccache=None, args=()):
        """Get a TGT (password on stdin) into ccache (default: the user's);
        args go to kinit before the principal (e.g. "-l", "3h")."""
        self._run([_tool("kinit"), *args, principal or self.principal],
                  input=(password or self.password) + "\n",
                  env={"KRB5CCNAME": ccache or self.ccache})

    def kdestroy(self, ccache=None):
        self._run([_tool("kdestroy"), "-q"], env={"KRB5CCNAME": ccache or self.ccache},
                  check=False)

    def klist(self, ccache=None):
        p = self._run([shutil.which("klist") or "/usr/bin/klist"],
                      env={"KRB5CCNAME": ccache or self.ccache}, check=False)
        return p.returncode, p.stdout + p.stderr

    def add_principal(self, name, password=None):
        q = ("addprinc -pw %s %s" % (password, name)) if password else ("addprinc -randkey %s" % name)
        self._run([_tool("kadmin.local"), "-r", self.realm, "-q", q])

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc, 10)
            self._out.close()
            self.proc = None
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    with KDC(keep="--keep" in sys.argv) as kdc:
        for k, v in sorted(kdc.env.items()):
            print("export %s=%s" % (k, v))
        print("# user %s, password %s; service %s (keytab above). ^C stops the KDC."
              % (kdc.principal, kdc.password, kdc.service_principal))
        sys.stdout.flush()
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
