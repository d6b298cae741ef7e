#!/usr/bin/python3
"""Slowloris from another local user (issue 15, item 2): a benchmark, not a
timed test. Prints figures; says whether the target was met.

Another uid (nobody, through setpriv; needs root) keeps SLOWLORIS_CONNS
(600) connections to the ECS endpoint, each sending the start of a request
and then a header byte every second, and opens a new one whenever the
daemon closes one. Meanwhile the owner reads its credentials over and over
(a new connection per read, as an SDK process does) for SLOWLORIS_SECONDS
(20). Reported: the owner's reads, p50/p99/max latency, reads that failed
or took longer than 5 s, and how many foreign connections the daemon
closed. Target: the owner's p99 stays under 50 ms.

Everything stays on 127.0.0.1 (the daemon and the emulators of
tests/integration/harness.py). ADFS_CREDD_BUILD names the build (the
figure before the fix came from a build of the commit before it)."""

import http.client
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("ADFS_CREDD_BUILD", os.path.join(ROOT, "build-bench"))

from harness import DEV_ARN, Stack  # noqa: E402

CONNS = int(os.environ.get("SLOWLORIS_CONNS", "600"))
SECONDS = float(os.environ.get("SLOWLORIS_SECONDS", "20"))
NOBODY = 65534
TARGET_P99_MS = 50.0
READ_TIMEOUT = 5.0

# The attacker: keeps n trickling connections open for secs, reopening the
# ones the daemon closes; prints "OPEN" when the first n are open, then
# "CLOSED k" (closings it saw) at the end.
ATTACKER = r"""
import socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def new():
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        s.send(b"GET /role/dev HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    except OSError:
        pass
    s.setblocking(False)
    return s
socks = [new() for _ in range(n)]
print("OPEN", flush=True)
closed, t0 = 0, time.monotonic()
while time.monotonic() - t0 < secs:
    for i, s in enumerate(socks):
        dead = False
        try:
            dead = s.recv(4096) == b""
        except BlockingIOError:
            try:
                s.send(b"X")
            except BlockingIOError:
                pass
            except OSError:
                dead = True
        except OSError:
            dead = True
        if dead:
            closed += 1
            s.close()
            socks[i] = new()
    time.sleep(1)
print("CLOSED", closed, flush=True)
"""


def owner_reads(port, token, seconds):
    lat, failed = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=READ_TIMEOUT)
            c.request("GET", "/role/dev", headers={"Authorization": token})
            r = c.getresponse()
            body = r.read()
            c.close()
            ok = r.status == 200 and b"SecretAccessKey" in body
        except OSError:
            ok = False
        ms = (time.monotonic() - t) * 1000
        if ok:
            lat.append(ms)
        else:
            failed += 1
            lat.append(max(ms, READ_TIMEOUT * 1000))  # a failure counts as the timeout
        time.sleep(0.01)
    return lat, failed


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main():
    if os.geteuid() != 0:
        sys.exit("slowloris.py starts the attacker as another uid: run it as root")
    s = Stack(config={"roles": [{"name": "dev", "arn": DEV_ARN}], "log_level": "info"})
    try:
        s.start_daemon()
        assert s.login().returncode == 0, s.log_text()
        token = s.token()
        base, _ = owner_reads(s.ecs_port, token, 3)
        att = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                                "--clear-groups", "/usr/bin/python3", "-c", ATTACKER,
                                str(s.ecs_port), str(CONNS), str(SECONDS + 1)],
                               stdout=subprocess.PIPE, text=True)
        try:
            assert att.stdout.readline().strip() == "OPEN"
            lat, failed = owner_reads(s.ecs_port, token, SECONDS)
            out, _ = att.communicate(timeout=60)  # it stops after SECONDS + 1
        finally:
            att.kill()
        log = s.log_text()
        closed_lines = sum(1 for l in log.splitlines() if "closed a connection" in l
                           or "more connections of" in l)
        fig = {
            "build": os.environ["ADFS_CREDD_BUILD"],
            "foreign_connections": CONNS,
            "baseline_reads": len(base),
            "baseline_p99_ms": round(pct(base, 99), 2),
            "reads": len(lat),
            "failed_or_timed_out": failed,
            "p50_ms": round(statistics.median(lat), 2),
            "p99_ms": round(pct(lat, 99), 2),
            "max_ms": round(max(lat), 2),
            "attacker_saw_closed": out.split()[-1] if "CLOSED" in out else "?",
            "daemon_log_lines_on_closing": closed_lines,
        }
    finally:
        s.close()
    print("== slowloris: owner reads while another uid trickles "
          f"{CONNS} connections for {SECONDS:.0f} s ==")
    print(f"build            {fig['build']}")
    print(f"without attack   {fig['baseline_reads']} reads, p99 {fig['baseline_p99_ms']} ms")
    print(f"under attack     {fig['reads']} reads, {fig['failed_or_timed_out']} failed or "
          f"timed out ({READ_TIMEOUT:.0f} s)")
    print(f"latency          p50 {fig['p50_ms']} ms, p99 {fig['p99_ms']} ms, "
          f"max {fig['max_ms']} ms")
    print(f"foreign conns closed by the daemon (attacker's count): "
          f"{fig['attacker_saw_closed']}; daemon log lines about it: "
          f"{fig['daemon_log_lines_on_closing']}")
    met = fig["p99_ms"] < TARGET_P99_MS and fig["failed_or_timed_out"] == 0
    print(f"target p99 < {TARGET_P99_MS:.0f} ms: {'met' if met else 'MISSED'}")
    if os.environ.get("BENCH_JSON"):
        with open(os.environ["BENCH_JSON"], "w") as f:
            json.dump(fig, f, indent=2)


if __name__ == "__main__":
    main()
