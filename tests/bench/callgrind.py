#!/usr/bin/python3
"""Instruction counts of the request path under callgrind: repeatable even
on a busy machine, unlike wall-clock figures. Starts the emulators and the
daemon (under valgrind --tool=callgrind) through the harness, signs in,
zeroes the counters, sends N requests, dumps, and prints instructions per
request and the top functions (inclusive), for two request shapes:

  keepalive   N GET /role/r00 on one keep-alive connection (SDK refreshes,
              wrk)
  connect     N connections with one GET each (short processes: every SDK
              start opens a new connection; includes accept and the
              NETLINK_SOCK_DIAG peer lookup)

Usage: callgrind.py [N] (default 2000). Environment: ADFS_CREDD_BUILD
(default build-bench), CALLGRIND_KEEP=DIR keeps the callgrind.out files."""

import http.client
import glob
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (sets ADFS_CREDD_BUILD before the harness)


def ctl(*args):
    subprocess.run(["callgrind_control", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


def keepalive(port, token, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(n):
        c.request("GET", "/role/r00", headers={"Authorization": token})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"status {r.status}")
    c.close()


def connect(port, token, n):
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/role/r00", headers={"Authorization": token})
        r = c.getresponse()
        r.read()
        c.close()
        if r.status != 200:
            raise RuntimeError(f"status {r.status}")


def annotate(path, n, top):
    p = subprocess.run(["callgrind_annotate", "--inclusive=yes", path],
                       capture_output=True, text=True, check=True)
    total = None
    m = re.search(r"^([0-9,]+) \(100\.0%\)\s+PROGRAM TOTALS", p.stdout, re.M)
    if m:
        total = int(m.group(1).replace(",", ""))
    rows = []
    for line in p.stdout.splitlines():
        m = re.match(r"^\s*([0-9,]+) \(\s*([0-9.]+)%\)\s+(\S.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")), float(m.group(2)), m.group(3)))
    return total, rows[:top]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: run tests/bench/install-deps.sh")
    world, roles = bench.world_for(1)
    s = bench.Stack(config={"roles": roles, "log_level": "info"}, world=world)
    out = os.path.join(s.tmp, "callgrind.out")
    wrapper = os.path.join(s.tmp, "adfs-credd-callgrind")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file={out} "
                f"--dump-instr=no --separate-threads=no {s.daemon_bin} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    real_bin = s.daemon_bin
    s.daemon_bin = wrapper
    results = {}
    try:
        s.start_daemon()
        if s.login().returncode != 0:
            raise RuntimeError("login failed:\n" + s.log_text())
        token = s.token().strip()
        keepalive(s.ecs_port, token, 50)  # warm: first-touch costs out of the way
        connect(s.ecs_port, token, 20)
        for shape, fn in (("keepalive", keepalive), ("connect", connect)):
            ctl("-z", str(s.daemon.pid))
            fn(s.ecs_port, token, n)
            time.sleep(0.5)
            ctl("-d", shape, str(s.daemon.pid))
            dumps = sorted(glob.glob(out + ".*"), key=os.path.getmtime)
            total, rows = annotate(dumps[-1], n, 25)
            results[shape] = (total, rows, dumps[-1])
        keep = os.environ.get("CALLGRIND_KEEP")
        if keep:
            os.makedirs(keep, exist_ok=True)
            for shape, (_, _, path) in results.items():
                shutil.copy(path, os.path.join(keep, f"callgrind.{shape}.out"))
    finally:
        s.daemon_bin = real_bin
        s.close()
    for shape, (total, rows, _) in results.items():
        print(f"\n== {shape}: {n} requests, {total:,} instructions, "
              f"{total / n:,.0f} per request ==")
        print("  Ir/request  incl%  function")
        for ir, pct, fn in rows:
            if pct >= 99.95:
                continue  # main, the loop: everything is below them
            print(f"  {ir / n:>10,.0f}  {pct:>5.1f}  {fn[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
