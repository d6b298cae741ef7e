"""adfs-credctl doctor (issue 16, item 6): it walks the chain (config, DNS,
TCP, TLS, the ADFS sign-in page, the relying party, STS, the clock against
STS's Date, systemd, the ports, the daemon) and names what is wrong.

Done when "doctor names every injected fault": one real stack (the
daemon signed in, the ADFS and STS emulators on loopback) is healthy
first (exit 0, every step OK or WARN), then each fault of the table is
injected on its own, doctor must FAIL the step that owns it with a key
phrase and exit 1, and the fault is taken away again. The faults:
a broken config, a name that does not resolve (tests/resolvfault), a
closed port, a proxy that refuses, a CA we do not trust, a certificate
for another name, an expired certificate, IdP-initiated sign-on off
(MSIS7012), an unknown relying party (MSIS7007), STS failing (503), STS's
clock 10 minutes off, the daemon stopped, and serve.ecs held by another
user (nobody, through runuser; we run as root in CI)."""

import datetime
import json
import os
import re
import shutil
import select
import signal
import socket
import subprocess
import threading
import unittest

from harness import (PROD_ARN, PYTHON, Stack, StackChecks, clean_sdk_env, fetch, free_port,
                     preload)

RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
NOBODY = 65534
SPARED = "127.0.0.2"  # control requests come from here (tls_exempt)
PROXY_SECRET = "pr0xy-Secret"

STEPS = ["config", "dns", "tcp", "tls", "signin-page", "relying-party", "sts", "clock",
         "systemd", "ports", "daemon"]

# Listens on 127.0.0.1:PORT as another user until its stdin closes.
TCP_SQUATTER = r"""
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
print("ready", flush=True)
sys.stdin.read()
"""

# A certificate signed by the stack's test CA: argv = ca.pem ca.key out.pem
# SAN-DNS-name days-from-now-start days-from-now-end. Debian's
# python3-cryptography; the emulators' tls_cert knob presents it.
MAKE_CERT = r"""
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
ca_pem, ca_key, out, name, start, end = sys.argv[1:]
ca = x509.load_pem_x509_certificate(open(ca_pem, "rb").read())
cakey = serialization.load_pem_private_key(open(ca_key, "rb").read(), None)
key = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.utcnow()
san = [x509.DNSName(name)]
if name == "localhost":
    import ipaddress
    san.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
cert = (x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=float(start)))
        .not_valid_after(now + datetime.timedelta(days=float(end)))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .sign(cakey, hashes.SHA256()))
with open(out, "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))
    f.write(key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()))
"""


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on 127.0.0.1 (what https_proxy points
    at in an office): it records each CONNECT target and relays bytes; it
    sees TLS only, never what is inside."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.targets = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.relay, args=(c,), daemon=True).start()

    def relay(self, c):
        with c:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                b = c.recv(4096)
                if not b:
                    return
                head += b
            m = re.match(rb"CONNECT ([^ :]+):(\d+) HTTP/1\.[01]\r\n", head)
            if not m:
                c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            self.targets.append("%s:%s" % (m.group(1).decode(), m.group(2).decode()))
            with socket.create_connection((m.group(1).decode(), int(m.group(2)))) as u:
                c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                try:
                    while True:
                        r, _, _ = select.select([c, u], [], [], 30)
                        if not r:
                            return
                        for a in r:
                            b = a.recv(65536)
                            if not b:
                                return
                            (u if a is c else c).sendall(b)
                except OSError:
                    return  # a side hung up: so ends the tunnel

    def close(self):
        self.sock.close()


def control(emu, body):
    """An emulator config request sent from SPARED (spared by TLS faults)."""
    st, _, text = fetch(emu.url + "/_emulator/config", "POST",
                        {"Content-Type": "application/json"}, json.dumps(body),
                        context=emu.ctx, source=SPARED)
    if st != 200:
        raise AssertionError("emulator config %s: %s" % (body, text))


class TestDoctor(StackChecks, unittest.TestCase):
    """One stack, healthy, then one fault at a time."""

    def setUp(self):
        self.s = Stack(config={"roles": [{"name": "prod", "arn": PROD_ARN}],
                               "adfs": {"timeout": "5s"}})
        self.addCleanup(self.s.close)
        self.base = self.read_config()
        for emu in (self.s.adfs, self.s.sts):
            emu.configure(tls_exempt=[SPARED])
        # doctor GETs the sign-on page in quick succession (MSIS7042).
        self.s.adfs.configure(loop_detection=False)
        self.lib = os.path.join(self.s.build, "tests", "libresolvfault.so")
        self.hosts = os.path.join(self.s.tmp, "hosts")
        with open(self.hosts, "w") as f:
            f.write("adfs.invalid -\n")

    # --- helpers ---------------------------------------------------------

    def read_config(self):
        with open(self.s.config_path) as f:
            return json.load(f)

    def put_config(self, conf):
        with open(self.s.config_path, "w") as f:
            if isinstance(conf, str):
                f.write(conf)
            else:
                json.dump(conf, f, indent=2)

    def doctor(self, env=None):
        """Runs doctor --json and doctor (text); returns (exit status,
        {step: (result, detail, hint)}, text)."""
        e = clean_sdk_env(env)
        e.pop("NO_PROXY", None)
        out = {}
        for args in (["--json"], []):
            p = subprocess.run([self.s.ctl_bin, "-c", self.s.config_path, "doctor", *args],
                               capture_output=True, text=True, timeout=90, env=e)
            out[bool(args)] = p
        pj, pt = out[True], out[False]
        self.assertEqual(pj.returncode, pt.returncode, pj.stdout + pt.stdout)
        doc = json.loads(pj.stdout)
        self.assertEqual([s["name"] for s in doc["steps"]], STEPS)
        steps = {s["name"]: (s["result"], s.get("detail") or "", s.get("hint") or "")
                 for s in doc["steps"]}
        for name, (result, detail, _) in steps.items():
            # The text form has the same verdicts, one line per step.
            # (up to its first digit: a second run may see another
            # second on the clock)
            self.assertRegex(pt.stdout, r"(?m)^%s +%s +%s" % (
                result.upper(), re.escape(name), re.escape(re.split(r"\d", detail)[0][:40])))
        return pj.returncode, steps, pt.stdout + pt.stderr

    def assert_healthy(self, steps, rc, text, allow_warn=("systemd", "tls")):
        """exit 0; systemd (no user manager in CI) and tls (the test
        certificates last two days: within 14 days) may warn."""
        self.assertEqual(rc, 0, text)
        for name, (result, detail, _) in steps.items():
            self.assertIn(result, ("ok", "warn") if name in allow_warn else ("ok",),
                          "%s: %s\n%s" % (name, detail, text))

    def make_cert(self, name, start, end):
        out = os.path.join(self.s.tmp, "cert-%s-%s.pem" % (name, end))
        subprocess.run([PYTHON, "-c", MAKE_CERT, self.s.ca,
                        os.path.join(self.s.certs, "ca.key"), out, name, str(start), str(end)],
                       check=True)
        return out

    # --- the faults: (name, inject, undo, step, key phrase, hint phrase) --

    def faults(self):
        s = self.s
        closed = free_port()

        def conf_with(**sections):
            def inject():
                c = json.loads(json.dumps(self.base))
                for sec, kv in sections.items():
                    for k, v in kv.items():
                        if v is None:
                            c[sec].pop(k, None)
                        else:
                            c[sec][k] = v
                self.put_config(c)
            return inject

        def knob(emu, **k):
            return lambda: control(emu, k)

        restore = lambda: self.put_config(self.base)  # noqa: E731
        resolv = {"LD_PRELOAD": preload(s.ctl_bin, self.lib), "RESOLVFAULT_HOSTS": self.hosts}
        mismatch = self.make_cert("wrong.test", -1, 30)
        expired = self.make_cert("localhost", -30, -1)
        squatter = []

        def squat():
            s.stop_daemon()
            p = subprocess.Popen([RUNUSER, "-u", "nobody", "--", PYTHON, "-c", TCP_SQUATTER,
                                  str(s.ecs_port)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
            squatter.append(p)
            self.assertEqual(p.stdout.readline().strip(), "ready")

        def unsquat():
            p = squatter.pop()
            p.communicate(timeout=30)

        return [
            ("bad config", lambda: self.put_config("adfs:\n  url: http://adfs.example\n"
                                                   "  colour: blue\n"),
             restore, None, "config", r"unknown key 'adfs\.colour'", r"--check-config"),
            ("DNS failure", conf_with(adfs={"url": "https://adfs.invalid:%d" % s.adfs.port}),
             restore, resolv, "dns", r"adfs\.url: adfs\.invalid does not resolve",
             r"host name in adfs\.url"),
            ("TCP refused", conf_with(aws={"sts_endpoint": "https://127.0.0.1:%d" % closed}),
             restore, None, "tcp",
             r"aws\.sts_endpoint: 127\.0\.0\.1:%d refused the connection \(connection refused"
             % closed, r"port in aws\.sts_endpoint"),
            ("proxy refused", lambda: None, lambda: None,
             {"https_proxy": "http://doctor:%s@127.0.0.1:%d" % (PROXY_SECRET, closed)}, "tcp",
             r"adfs\.url: the proxy 127\.0\.0\.1:%d refused the connection" % closed,
             r"https_proxy"),
            ("TLS untrusted CA", conf_with(adfs={"ca_file": None}), restore, None, "tls",
             r"adfs\.url: certificate is not trusted", r"set adfs\.ca_file to the CA"),
            ("TLS host name mismatch", knob(s.adfs, tls_cert=mismatch),
             knob(s.adfs, tls_cert=None), None, "tls",
             r"adfs\.url: host name mismatch: the certificate is for wrong\.test, not "
             r"127\.0\.0\.1", r"host name"),
            ("TLS expired certificate", knob(s.sts, tls_cert=expired),
             knob(s.sts, tls_cert=None), None, "tls",
             r"aws\.sts_endpoint: the certificate expired on %s"
             % (datetime.datetime.utcnow() - datetime.timedelta(days=1)).strftime("%Y-%m-%d"),
             r"renewed"),
            ("MSIS7012", knob(s.adfs, idp_initiated_signon=False),
             knob(s.adfs, idp_initiated_signon=None), None, "signin-page",
             r"IdP-initiated sign-on is disabled.*MSIS7012",
             r"Set-AdfsProperties -EnableIdpInitiatedSignonPage \$true"),
            ("ADFS hangs (bounded by adfs.timeout)",
             knob(s.adfs, hang_count=-1, hang_seconds=30), knob(s.adfs, hang_count=0), None,
             "signin-page", r"GET https://127\.0\.0\.1:\d+/adfs/ls/IdpInitiatedSignOn\.aspx\S*: "
             r"Operation timed out after 5\d\d\d milliseconds",
             r"ADFS took the connection but did not answer within 5s"),
            ("unknown relying party (MSIS7007)",
             conf_with(adfs={"relying_party": "urn:example:nobody"}), restore, None,
             "relying-party",
             r"does not know the relying party 'urn:example:nobody' \(adfs\.relying_party\)"
             r".*MSIS7007", r"set adfs\.relying_party"),
            ("STS down", knob(s.sts, fail_status=503, fail_count=-1),
             knob(s.sts, fail_count=0), None, "sts", r"is failing: HTTP 503 ServiceUnavailable",
             r"retry later"),
            ("clock skew 10 min", knob(s.sts, time_offset=600), knob(s.sts, time_offset=0),
             None, "clock", r"this clock is 10m behind STS's .*clock skew",
             r"fix the clock \(timedatectl"),
            ("daemon stuck (SIGSTOP)", lambda: s.daemon.send_signal(signal.SIGSTOP),
             lambda: s.daemon.send_signal(signal.SIGCONT), None, "daemon",
             r"adfs-credd did not answer within 5s: it is stuck", r"restart adfs-credd"),
            ("daemon not running", s.stop_daemon, lambda: None, None, "daemon",
             r"adfs-credd is not running \(no control socket at ", r"systemctl --user start"),
        ] + ([] if os.geteuid() != 0 else [
            # Binding as another uid needs root (CI runs as root); without
            # it "daemon not running" above still covers a port nobody holds.
            ("port squatted by another uid", squat, unsquat, None, "ports",
             r"serve\.ecs \(127\.0\.0\.1:%d\) is held by uid %d \(nobody\), not by you: a "
             r"squatter" % (s.ecs_port, NOBODY), r"stop that program"),
        ])

    def test_doctor_names_every_injected_fault(self):
        self.assertTrue(os.path.exists(self.lib), self.lib + " is not built")
        self.s.start_daemon()
        p = self.s.login()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        rc, steps, text = self.doctor()
        self.assert_healthy(steps, rc, text)
        self.assertRegex(steps["daemon"][1], r"signed in as EXAMPLE\\alice; renewable until .*; "
                         r"role prod valid, expires 20.*, served until 20")
        if os.environ.get("DOCTOR_VERBOSE"):
            print("\n" + text)
        self.assertRegex(steps["tls"][1], r"adfs\.url: certificate for .*expires 20")
        self.assertRegex(steps["tcp"][1], r"direct, no proxy")
        self.assertRegex(steps["ports"][1], r"serve\.ecs \(127\.0\.0\.1:\d+\) is yours")
        self.assertRegex(steps["clock"][1], r"within \d+s of STS's")

        for name, inject, undo, env, step, phrase, hint in self.faults():
            with self.subTest(name):
                inject()
                try:
                    rc, steps, text = self.doctor(env)
                finally:
                    undo()
                self.assertEqual(rc, 1, "%s: doctor did not fail:\n%s" % (name, text))
                result, detail, h = steps[step]
                if os.environ.get("DOCTOR_VERBOSE"):
                    print("\n  %s: %s %s: %s => %s" % (name, result, step, detail, h))
                self.assertEqual(result, "fail", "%s: step %s is %s: %s\n%s"
                                 % (name, step, result, detail, text))
                self.assertRegex(detail, phrase, text)
                self.assertRegex(h, hint, text)
                self.assertNotIn(PROXY_SECRET, text)
                # The steps before it still pass: the fault is named
                # where it is, not earlier.
                for other in STEPS[:STEPS.index(step)]:
                    self.assertNotEqual(steps[other][0], "fail", "%s: %s failed too: %s"
                                        % (name, other, steps[other][1]))

    def test_through_a_proxy(self):
        """https_proxy set: DNS and TCP check the proxy, TLS and the GETs
        go through it (CONNECT), as the daemon's libcurl would; no_proxy
        exempts a host, the way libcurl reads it."""
        proxy = ConnectProxy()
        self.addCleanup(proxy.close)
        url = "http://doctor:%s@127.0.0.1:%d" % (PROXY_SECRET, proxy.port)
        rc, steps, text = self.doctor({"https_proxy": url})
        self.assertNotIn(PROXY_SECRET, text)
        for step in ("config", "dns", "tcp", "signin-page", "relying-party", "sts", "clock"):
            self.assertEqual(steps[step][0], "ok", "%s: %s\n%s" % (step, steps[step][1], text))
        self.assertIn(steps["tls"][0], ("ok", "warn"), text)
        self.assertRegex(steps["dns"][1], r"adfs\.url: via proxy http://127\.0\.0\.1:%d "
                         % proxy.port)
        self.assertRegex(steps["tcp"][1], r"adfs\.url: connected to the proxy "
                         r"http://127\.0\.0\.1:%d" % proxy.port)
        for emu in (self.s.adfs, self.s.sts):
            self.assertIn("127.0.0.1:%d" % emu.port, proxy.targets)

        # no_proxy covers the emulators: straight there, the proxy unused.
        proxy.targets.clear()
        rc, steps, text = self.doctor({"https_proxy": url, "no_proxy": "localhost, 127.0.0.0/8"})
        self.assertRegex(steps["tcp"][1], r"adfs\.url: connected to 127\.0\.0\.1:%d \(direct"
                         % self.s.adfs.port)
        self.assertEqual(steps["signin-page"][0], "ok", text)
        self.assertEqual(proxy.targets, [])

    def test_certificate_expiry_warns_within_14_days(self):
        """Certificates from the stack's CA for 30 and 10 more days: OK,
        then WARN with the date and a hint (the mkcerts.sh ones last 2
        days, always a warning)."""
        month = self.make_cert("localhost", -1, 30)
        ten = self.make_cert("localhost", -1, 10)
        control(self.s.sts, {"tls_cert": month})
        control(self.s.adfs, {"tls_cert": month})
        rc, steps, text = self.doctor()
        self.assertEqual(steps["tls"][0], "ok", text)
        self.assertRegex(steps["tls"][1], r"adfs\.url: certificate for /CN=localhost verifies .*"
                         r"it expires 20\S+ \(in 29 days\)")
        control(self.s.adfs, {"tls_cert": ten})
        rc, steps, text = self.doctor()
        self.assertEqual(steps["tls"][0], "warn", text)
        self.assertRegex(steps["tls"][1], r"adfs\.url: .*\(in 9 days\); aws\.sts_endpoint: .*"
                         r"\(in 29 days\)")
        self.assertRegex(steps["tls"][2], r"the certificate of 127\.0\.0\.1 ends soon")

    def test_clock_skew_warns_between_one_and_five_minutes(self):
        for offset, result in ((-90, "warn"), (40, "ok"), (-400, "fail")):
            with self.subTest(offset=offset):
                control(self.s.sts, {"time_offset": offset})
                rc, steps, text = self.doctor()
                self.assertEqual(steps["clock"][0], result, text)
                if result != "ok":
                    self.assertRegex(steps["clock"][1], r"1m30s ahead of|6m40s ahead of")


if __name__ == "__main__":
    unittest.main()
