"""Who may connect (issue 15, items 1 and 2), with a second local uid
(nobody, through setpriv) and a remote host, all in a network namespace
this module creates (setUpModule): the host's network is never touched.

In it: lo (up) also carries 192.0.2.2, an address outside 127/8 that a
local user can bind, and a veth pair leads to a second namespace (the
"remote" host, 10.77.0.2) whose sockets the daemon's kernel lookup cannot
see. The module's process itself moves into the namespace (the emulators,
the daemon and every client start from it), so run it alone, as ctest
does."""

import ctypes
import json
import os
import re
import socket
import subprocess
import time
import unittest

from harness import DEV_ARN, Stack, free_port

CLONE_NEWNET = 0x40000000
LOCAL_ADDR = "192.0.2.2"     # on lo, outside 127/8
HOST_ADDR = "10.77.0.1"      # ours, on the veth
REMOTE_ADDR = "10.77.0.2"    # the remote host's, in the other namespace
NOBODY = 65534
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
TTL = "X-aws-ec2-metadata-token-ttl-seconds"
CREDS = "/latest/meta-data/iam/security-credentials"

REMOTE = None  # the process holding the remote namespace


def sh(*args):
    subprocess.run(args, check=True, capture_output=True, text=True)


def setUpModule():
    global REMOTE
    if os.geteuid() != 0:
        raise RuntimeError("test_peers makes a network namespace and starts clients "
                           "as another user: it must run as root (CI does)")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "addr", "add", LOCAL_ADDR + "/32", "dev", "lo")
    own = os.readlink("/proc/self/ns/net")
    REMOTE = subprocess.Popen(["unshare", "-n", "sleep", "3600"])
    for _ in range(100):
        try:
            if os.readlink(f"/proc/{REMOTE.pid}/ns/net") != own:
                break
        except OSError:
            pass
        time.sleep(0.02)
    sh("ip", "link", "add", "vhost", "type", "veth", "peer", "name", "vremote")
    sh("ip", "link", "set", "vremote", "netns", str(REMOTE.pid))
    sh("ip", "addr", "add", HOST_ADDR + "/24", "dev", "vhost")
    sh("ip", "link", "set", "vhost", "up")
    ns = ["nsenter", "-t", str(REMOTE.pid), "-n"]
    sh(*ns, "ip", "link", "set", "lo", "up")
    sh(*ns, "ip", "addr", "add", REMOTE_ADDR + "/24", "dev", "vremote")
    sh(*ns, "ip", "link", "set", "vremote", "up")


def tearDownModule():
    if REMOTE is not None:
        REMOTE.kill()
        REMOTE.wait()


# One request from a client process: prints "STATUS BODY" (STATUS 0 when
# the daemon closed the connection without an answer).
CLIENT = r"""
import http.client, json, sys
url_host, port, method, path, headers, source = sys.argv[1:7]
c = http.client.HTTPConnection(url_host, int(port), timeout=10,
                               source_address=(source, 0) if source else None)
try:
    c.request(method, path, b"" if method == "PUT" else None, json.loads(headers))
    r = c.getresponse()
    print(r.status, r.read().decode())
except (ConnectionError, http.client.RemoteDisconnected) as e:
    print(0, type(e).__name__)
"""


def client(prefix, host, port, method, path, headers=None, source=""):
    p = subprocess.run(prefix + ["/usr/bin/python3", "-c", CLIENT, host, str(port), method,
                                 path, json.dumps(headers or {}), source],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    st, body = p.stdout.rstrip("\n").split(" ", 1)
    return int(st), body


def as_nobody(*a, **kw):
    return client(SETPRIV, *a, **kw)


def as_owner(*a, **kw):
    return client([], *a, **kw)


def from_remote(host, port, method, path, headers=None, source=""):
    # The guard wants a loopback Host (or none) from everyone: DNS
    # rebinding. A remote SDK is pointed at the daemon through a tunnel or
    # sends it; this one sends it.
    return client(["nsenter", "-t", str(REMOTE.pid), "-n"], host, port, method, path,
                  dict(headers or {}, Host="127.0.0.1"), source=source)


class PeersBase(unittest.TestCase):
    extra = {}

    @classmethod
    def setUpClass(cls):
        cls.imds_port = free_port()
        cls.s = Stack()
        cls.s.write_config({
            "roles": [{"name": "dev", "arn": DEV_ARN}],
            "serve": dict({"ecs": f"0.0.0.0:{cls.s.ecs_port}",
                           "imds": f"0.0.0.0:{cls.imds_port}",
                           "imds_role": "dev", "allow_non_loopback": True}, **cls.extra),
        })
        cls.s.start_daemon()
        assert cls.s.login().returncode == 0, cls.s.log_text()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def ecs(self, who, host, token=True, source=""):
        h = {"Authorization": self.s.token()} if token else {}
        return who(host, self.s.ecs_port, "GET", "/role/dev", h, source=source)

    def imds_token(self, who, host, source=""):
        return who(host, self.imds_port, "PUT", "/latest/api/token", {TTL: "60"},
                   source=source)

    def imds_creds(self, who, host, source=""):
        st, tok = self.imds_token(who, host, source)
        if st != 200:
            return st, tok
        return who(host, self.imds_port, "GET", CREDS + "/dev",
                   {"X-aws-ec2-metadata-token": tok}, source=source)


class TestNonLoopbackPeers(PeersBase):
    """Item 1: allow_non_loopback no longer skips the uid check; remote
    peers get ECS with the token, and IMDS not at all."""

    def test_local_user_from_a_non_loopback_address_is_checked(self):
        # bind 192.0.2.2 on lo, connect to 127.0.0.1: still a local user
        st, body = self.ecs(as_nobody, "127.0.0.1", source=LOCAL_ADDR)
        self.assertEqual(st, 403, body)
        self.assertNotIn("SecretAccessKey", body)
        self.assertIn("user 65534 may not read", json.loads(body)["Message"])
        st, body = self.imds_creds(as_nobody, "127.0.0.1", source=LOCAL_ADDR)
        self.assertEqual(st, 403, body)
        self.assertNotIn("SecretAccessKey", body)
        # and to the non-loopback addresses themselves
        for host in (LOCAL_ADDR, HOST_ADDR):
            st, body = self.imds_creds(as_nobody, host, source=LOCAL_ADDR)
            self.assertEqual(st, 403, (host, body))
            st, body = self.ecs(as_nobody, host)
            self.assertEqual(st, 403, (host, body))
        self.assertIn("peer_uid=65534 status=403", self.s.log_text())

    def test_owner_from_a_non_loopback_address_is_served(self):
        st, body = self.ecs(as_owner, "127.0.0.1", source=LOCAL_ADDR)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["RoleArn"], DEV_ARN)
        st, body = self.imds_creds(as_owner, "127.0.0.1", source=LOCAL_ADDR)
        self.assertEqual(st, 200, body)
        self.assertIn("SecretAccessKey", body)

    def test_remote_peer_gets_ecs_with_the_token_only(self):
        st, body = self.ecs(from_remote, HOST_ADDR)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["RoleArn"], DEV_ARN)
        st, body = self.ecs(from_remote, HOST_ADDR, token=False)
        self.assertEqual(st, 403, body)
        self.assertNotIn("SecretAccessKey", body)
        st, body = self.imds_token(from_remote, HOST_ADDR)
        self.assertEqual((st, body), (403, ""))
        st, body = self.imds_creds(from_remote, HOST_ADDR)
        self.assertEqual(st, 403, body)
        self.assertIn("IMDS is not served to other hosts (serve.imds_for_remote_peers)",
                      self.s.log_text())


class TestImdsForRemotePeers(PeersBase):
    """serve.imds_for_remote_peers: true serves IMDS to remote peers, and
    --check-config and the daemon warn about it."""
    extra = {"imds_for_remote_peers": True}

    def test_remote_imds_when_configured(self):
        st, body = self.imds_creds(from_remote, HOST_ADDR)
        self.assertEqual(st, 200, body)
        self.assertIn("SecretAccessKey", body)
        # a local user is still checked by uid
        st, body = self.imds_creds(as_nobody, HOST_ADDR, source=LOCAL_ADDR)
        self.assertEqual(st, 403, body)
        self.assertIn("warning: serve.imds_for_remote_peers is true", self.s.log_text())

    def test_check_config_warns(self):
        p = subprocess.run([self.s.daemon_bin, "--check-config", "-c", self.s.config_path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration OK", p.stdout)
        self.assertIn("warning: serve.imds_for_remote_peers is true", p.stderr)


# Opens N connections to 127.0.0.1:PORT, each sending the start of a
# request and then a header byte every half second (slowloris), for HOLD
# seconds; prints "OPEN" once all are open, then "CLOSED K" (how many the
# daemon closed) and "SECS T" (when the last of those closings was seen,
# from the start of the hold). A connection the daemon closes reads EOF
# (or a reset).
TRICKLE = r"""
import socket, sys, time, select
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for i in range(n):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        s.send(b"GET /role/dev HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    except OSError:
        pass
    s.setblocking(False)
    socks.append(s)
print("OPEN", flush=True)
closed, last, t0 = set(), 0.0, time.monotonic()
while time.monotonic() - t0 < hold:
    for i, s in enumerate(socks):
        if i in closed:
            continue
        try:
            if s.recv(4096) == b"":
                raise ConnectionResetError
        except BlockingIOError:
            try:
                s.send(b"X")
            except BlockingIOError:
                pass
            except OSError:
                closed.add(i); last = time.monotonic() - t0
        except OSError:
            closed.add(i); last = time.monotonic() - t0
    time.sleep(0.5)
print("CLOSED", len(closed), flush=True)
print("SECS", round(last, 1), flush=True)
"""


def trickle(prefix, port, n, hold):
    return subprocess.Popen(prefix + ["/usr/bin/python3", "-c", TRICKLE, str(port), str(n),
                                      str(hold)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(proc):
    out, err = proc.communicate(timeout=120)
    m = re.search(r"CLOSED (\d+)\nSECS ([\d.]+)", out)
    if not m:
        raise AssertionError(f"trickle client: {out!r} {err!r}")
    return int(m.group(1)), float(m.group(2))


class TestSlowloris(unittest.TestCase):
    """Item 2: trickling connections cannot take the owner's slots."""

    def start(self, serve=None):
        self.s = Stack(config={"roles": [{"name": "dev", "arn": DEV_ARN}],
                               "serve": serve or {}})
        self.addCleanup(self.s.close)
        self.s.start_daemon()
        self.assertEqual(self.s.login().returncode, 0)

    def test_foreign_uid_cannot_take_the_slots(self):
        """600 trickling connections of another uid (more than the 512
        slots): the owner is still answered, every foreign connection is
        closed by the daemon, and the log says so."""
        self.start()
        p = trickle(SETPRIV, self.s.ecs_port, 600, 4)
        self.addCleanup(p.kill)
        self.assertEqual(p.stdout.readline().strip(), "OPEN")
        st, _, body = self.s.get("/role/dev", token=self.s.token())
        self.assertEqual(st, 200, body)
        closed, _ = result(p)
        self.assertEqual(closed, 600, "foreign connections the daemon closed")
        self.assertIn("closed a connection of peer_uid=65534: user 65534 may not read",
                      self.s.log_text())

    def test_header_deadline(self):
        """A connection trickling its headers (which resets MHD's idle
        timeout) is closed once its headers are 10 s late, even the
        owner's."""
        self.start()
        p = trickle([], self.s.ecs_port, 3, 16)
        self.addCleanup(p.kill)
        closed, secs = result(p)
        self.assertEqual(closed, 3, "trickling connections the daemon closed within 16 s")
        self.assertLess(secs, 14)
        self.assertIn("no complete request headers within 10 s", self.s.log_text())

    def test_connections_per_uid_capped(self):
        """An allowed uid holds 32 connections at most; the owner is served."""
        self.start({"allowed_uids": [NOBODY]})
        p = trickle(SETPRIV, self.s.ecs_port, 40, 2)
        self.addCleanup(p.kill)
        self.assertEqual(p.stdout.readline().strip(), "OPEN")
        st, _, body = self.s.get("/role/dev", token=self.s.token())
        self.assertEqual(st, 200, body)
        closed, _ = result(p)
        self.assertEqual(closed, 8, "connections over the cap of 32")
        self.assertIn("too many open connections from this user", self.s.log_text())


if __name__ == "__main__":
    unittest.main()
