"""A long job under accelerated time (issue 4): 26 simulated hours in about
four real minutes, with the real adfs-credd binary, the real ADFS and STS
emulators and a real botocore client, every one of them running under
tests/timewarp (an LD_PRELOAD shim; libfaketime cannot drive sd-event's
CLOCK_BOOTTIME timers, see docs/internals/daemon.md "Refresh cycles").
They share one wall clock; the daemon's CLOCK_MONOTONIC runs slower, as on
a machine that naps, so its network timeouts keep a real-time margin.

Scenario, in simulated time:
  0h    login (password round 1); dev = ADFS-Dev (GetRole allowed, max
        4 h), prod = ADFS-Prod (GetRole denied, max 1 h: probed)
  5h    an administrator raises dev to 12 h; the next refresh uses it
  16h   the ADFS SSO ends (sso_lifetime 16 h): the remembered password
        signs in again silently (password round 2, the only other one)
  ~21h  a 20-minute STS outage (AssumeRoleWithSAML and GetRole answer
        503), placed so that prod's planned refresh falls 15 minutes into
        it: the old credentials are served, the refresh backs off and
        succeeds after the outage
  26h   done: the daemon stops on SIGTERM with status 0
Throughout, the client fetches both roles every 5 simulated minutes with a
fresh credential provider; every fetch must succeed, leave >= 20 minutes,
and pass the STS emulator's GetCallerIdentity. A long-lived botocore
session per role (made once) calls GetCallerIdentity as often: its
credentials expire and are refreshed by botocore many times, every call
must succeed, and it must see at least one new key per session lifetime.

What the job may cost is bounded from above, not only below: ADFS rounds
and STS calls are at most what the refreshes (counted from the keys the
client saw, and bounded a priori by the refresh plan's shortest interval),
the sizing probes and the outage's retries need, plus a small margin. The
recovery after the outage is asserted: a new prod key, issued after it.

Why the outage is placed: prod sessions last 1 h and are refreshed with
30-35 min left (lead = min(30 min, duration / 2)). An outage covering more
than ~10 minutes after that point leaves less than 20 minutes on what is
served, whatever the daemon does; so the test lets the refresh fail for the
outage's last 5 minutes, and checks backoff and recovery there.

Environment: LONG_JOB_FACTOR (default 400), LONG_JOB_HOURS (default 26),
LONG_JOB_KEEP=1 keeps the logs (daemon.log, adfs.log, sts.log, client.out)
in the /tmp/adfs-credd-it-* directory it prints."""

import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

from harness import (status_exit, DEV_ARN, PROD_ARN, PYTHON, HERE, Stack, build_dir, clean_sdk_env, preload,
                     stop_process, wait_until)

FACTOR = float(os.environ.get("LONG_JOB_FACTOR", "400"))
# The daemon's CLOCK_MONOTONIC runs 10 times slower than its wall clock and
# CLOCK_BOOTTIME: a machine that naps (see tests/timewarp/timewarp.c). Its
# network timeouts (libcurl, in awake time) so keep a real-time margin of
# 30 s / 40 = 0.75 s instead of 75 ms, while refreshes, planned on the wall
# clock and CLOCK_BOOTTIME, run at FACTOR.
DAEMON_MONO_FACTOR = FACTOR / 10
HOURS = float(os.environ.get("LONG_JOB_HOURS", "26"))
PERIOD = 300           # the client fetches every 5 simulated minutes
MIN_LEFT = 20 * 60     # PROTOCOLS.md A6: what every fetch must have left
H, M = 3600, 60
RAISE_AT = 5 * H
SSO_LIFETIME = 16 * H
OUTAGE_AFTER = 20 * H  # look for prod's next refresh from here on
OUTAGE = 20 * M
OUTAGE_LEAD = 15 * M   # prod's planned refresh falls this far into it

DEV_PROVIDER = "arn:aws:iam::111122223333:saml-provider/ADFS"
PROD_PROVIDER = "arn:aws:iam::444455556666:saml-provider/ADFS"
WORLD = {
    "roles": {
        DEV_ARN: {"max_session_duration": 14400, "get_role": True,
                  "provider": DEV_PROVIDER},
        PROD_ARN: {"max_session_duration": 3600, "get_role": False,
                   "provider": PROD_PROVIDER},
    },
    "users": [{
        "username": "EXAMPLE\\alice", "upn": "alice@example.com",
        "password": "Correct-Horse-1", "name_id": "EXAMPLE\\alice",
        "role_session_name": "alice@example.com",
        "roles": [DEV_ARN + "," + DEV_PROVIDER, PROD_PROVIDER + "," + PROD_ARN],
        "session_duration": None, "mfa": None,
    }],
}
# Upper bounds (see the docstring). A 1 h prod session is planned 25-30
# min after issue (lead 30 min, jitter up to 5), a 4 h dev session at
# 3h25m-3h30m, a 12 h one at 11h25m-11h30m; a cycle also takes a role
# planned within its next 5 minutes, so a session is served >= 20 min
# (prod) or >= 3h20m (dev) before it is replaced.
PROD_MIN_LIFE = 20 * M
DEV_MIN_LIFE = 200 * M
LOGIN_CALLS = 5        # STS calls per role at the first sizing, at most
PROBE_CALLS = 4        # refused calls of one upward probe of prod (12, 8, 4, 2 h)
PROBE_EVERY = 6 * H    # a probed role looks upward every 6 h
OUTAGE_TRIES = 6       # failed tries in the outage's last 5 min, with backoff
MARGIN = 3

# The errors the daemon may log: the outage's, nothing else.
OUTAGE_ERROR = re.compile(r"Service is unable to handle request|ServiceUnavailable|HTTP 503")


class Warp:
    """The accelerated clock every process of the test shares: one anchor
    (real CLOCK_MONOTONIC and CLOCK_REALTIME now) and a factor, handed to
    tests/timewarp in the environment. This process stays in real time and
    computes the same fake time to schedule events."""

    def __init__(self, factor):
        self.factor = factor
        self.lib = os.path.join(build_dir(), "tests", "libtimewarp.so")
        if not os.path.exists(self.lib):
            raise RuntimeError(f"{self.lib} is not built")
        self.mono0 = time.monotonic_ns()
        self.real0 = time.time_ns()

    def env(self, binary=None, mono_factor=None):
        env = {"LD_PRELOAD": preload(binary, self.lib) if binary else self.lib,
               "TIMEWARP_FACTOR": repr(self.factor),
               "TIMEWARP_ANCHOR": f"{self.mono0} {self.real0}"}
        if mono_factor:
            env["TIMEWARP_MONOTONIC_FACTOR"] = repr(mono_factor)
        return env

    def now(self):
        return (self.real0 + (time.monotonic_ns() - self.mono0) * self.factor) / 1e9

    def sleep_until(self, t):
        d = (t - self.now()) / self.factor
        if d > 0:
            time.sleep(d)


def epoch(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class TestLongJob(unittest.TestCase):
    def log(self, msg):
        print(f"[{(self.warp.now() - self.t0) / H:6.2f} h] {msg}", file=sys.stderr, flush=True)

    def status(self):
        p = self.s.ctl("status", "--json")
        self.assertEqual(p.returncode, status_exit(json.loads(p.stdout)), p.stderr)
        return {r["name"]: r for r in json.loads(p.stdout)["roles"]}

    def role_env(self, role):
        p = self.s.ctl("env", role)
        self.assertEqual(p.returncode, 0, p.stderr)
        env = {}
        for line in p.stdout.splitlines():
            k, v = line.removeprefix("export ").split("=", 1)
            env[k] = v.strip("'\"")
        return env

    def served(self, role):
        """What the ECS endpoint serves for role now."""
        code, _, body = self.s.get("/role/" + role, token=self.s.token())
        self.assertEqual(code, 200, body)
        return json.loads(body)

    def client_stderr(self):
        with open(self.client_err) as f:
            return f.read()

    def client_alive(self):
        if self.client.poll() is not None:
            self.fail("the client exited early:\n" + self.client_stderr())

    def test_26_simulated_hours(self):
        real_start = time.monotonic()
        self.warp = Warp(FACTOR)
        self.s = s = Stack(
            config={"roles": [{"name": "dev", "arn": DEV_ARN},
                              {"name": "prod", "arn": PROD_ARN}],
                    "default_role": "dev",
                    "adfs": {"remember_password": True}},
            world=WORLD, emulator_env=self.warp.env(),
            keep=os.environ.get("LONG_JOB_KEEP") == "1")
        if s.keep:
            print(f"logs in {s.tmp}", file=sys.stderr)
        self.addCleanup(s.close)
        self.t0 = t0 = self.warp.now()
        s.adfs.configure(sso_lifetime=SSO_LIFETIME)
        s.start_daemon(env=self.warp.env(s.daemon_bin, DAEMON_MONO_FACTOR))

        p = s.login()
        self.assertEqual(p.returncode, 0, p.stderr + s.log_text())
        self.log("signed in")
        st = self.status()
        self.assertEqual((st["dev"]["duration"], st["dev"]["max_source"]), (14400, "get_role"))
        self.assertEqual((st["prod"]["duration"], st["prod"]["max_source"]), (3600, "probe"))

        # The client: every role through the SDK's own discovery.
        envs = {r: self.role_env(r) for r in ("dev", "prod")}
        count = int(HOURS * H / PERIOD) + 1
        cfg = {"roles": {r: e["AWS_CONTAINER_CREDENTIALS_FULL_URI"] for r, e in envs.items()},
               "token": envs["dev"]["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
               "sts_url": s.sts.url, "ca": s.ca, "period": PERIOD, "count": count}
        cfg_path = os.path.join(s.tmp, "client.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        out_path = os.path.join(s.tmp, "client.out")
        self.client_err = os.path.join(s.tmp, "client.err")
        with open(out_path, "w") as out, open(self.client_err, "w") as err:
            self.client = subprocess.Popen(
                [PYTHON, os.path.join(HERE, "long_job_client.py"), cfg_path],
                stdout=out, stderr=err, env=clean_sdk_env(self.warp.env()))
        self.addCleanup(stop_process, self.client, sig=signal.SIGKILL)

        # 5 h: an administrator raises dev's maximum to 12 h.
        self.warp.sleep_until(t0 + RAISE_AT)
        self.client_alive()
        s.sts.configure(role_overrides={DEV_ARN: {"max_session_duration": 43200}})
        self.log("dev raised to 12 h")

        # ~21 h: the outage, around prod's next planned refresh.
        self.warp.sleep_until(t0 + OUTAGE_AFTER)
        self.client_alive()
        while True:
            roles = self.status()
            planned = epoch(roles["prod"]["next_refresh"])
            if planned - self.warp.now() >= OUTAGE_LEAD + M:
                break
            self.warp.sleep_until(planned + 2 * M)  # take the next one
        start = planned - OUTAGE_LEAD
        dev_next = epoch(roles["dev"]["next_refresh"])
        self.assertFalse(start - 5 * M <= dev_next <= start + OUTAGE + 5 * M,
                         "dev's refresh would fall in the outage too")
        self.warp.sleep_until(start)
        s.sts.configure(fail_status=503, fail_count=-1,
                        fault_ops=["AssumeRoleWithSAML", "GetRole"])
        outage = (self.warp.now(), None)
        self.log(f"STS outage starts; prod's refresh planned {OUTAGE_LEAD // M} min in")
        key_before = self.served("prod")
        self.warp.sleep_until(start + OUTAGE)
        # At its end: prod's refresh failed, the old key is still served.
        in_the_outage = self.status()
        self.assertEqual(in_the_outage["prod"]["state"], "valid")
        self.assertRegex(in_the_outage["prod"]["last_error"] or "", OUTAGE_ERROR,
                         "the outage did not fail prod's refresh")
        self.assertEqual(self.served("prod")["AccessKeyId"], key_before["AccessKeyId"],
                         "a key was issued during the outage")
        s.sts.configure(fail_status=0, fail_count=0, fault_ops=[])
        outage = (outage[0], self.warp.now())
        self.log("STS outage ends")
        faults = s.sts.stats().get("faults_injected", {})

        # Recovery: the retry after the outage (backoff at most a quarter
        # of the ~15 min prod has left) gets a new key, issued after it.
        def recovered():
            r = self.status()["prod"]
            return r if r["last_error"] is None and r["expires"] != key_before["Expiration"] \
                else None

        prod = wait_until(recovered, 10 * M / FACTOR + 30)
        self.assertIsNotNone(prod, "prod did not recover after the outage:\n"
                             + s.log_text()[-3000:])
        key_after = self.served("prod")
        self.assertNotEqual(key_after["AccessKeyId"], key_before["AccessKeyId"])
        self.assertEqual(key_after["Expiration"], prod["expires"])
        issued = epoch(key_after["Expiration"]) - prod["duration"]
        self.assertGreaterEqual(issued, outage[1] - 1, "the new key predates the outage's end")
        self.assertLessEqual(issued, outage[1] + 10 * M, "recovered late")
        self.log(f"prod recovered {(issued - outage[1]) / M:.1f} min after the outage")

        # 26 h: the client is done.
        self.client.wait(timeout=(t0 + HOURS * H - self.warp.now()) / FACTOR + 120)
        self.assertEqual(self.client.returncode, 0, self.client_stderr())
        self.log("client done")
        roles = self.status()
        adfs, sts = s.adfs.stats(), s.sts.stats()
        rc = s.stop_daemon()
        log = s.log_text()

        with open(out_path) as f:
            recs = [json.loads(line) for line in f]
        fetches = [r for r in recs if "role" in r and not r.get("lived")]
        lived = [r for r in recs if r.get("lived")]
        lived_errors = [r for r in lived if "error" in r]
        lived_keys = {role: {r["access_key"] for r in lived
                             if r["role"] == role and "access_key" in r}
                      for role in ("dev", "prod")}
        role_keys = {role: {r["access_key"] for r in fetches
                            if r["role"] == role and "access_key" in r}
                     for role in ("dev", "prod")}
        errors = [r for r in fetches if "error" in r]
        short = [r for r in fetches if "left" in r and r["left"] < MIN_LEFT]
        lefts = [r["left"] for r in fetches if "left" in r]
        keys = {r["access_key"] for r in fetches if "access_key" in r}
        in_outage = [r for r in fetches if outage[0] <= r.get("t", 0) <= outage[1]]
        err_lines = [l for l in log.splitlines() if ": error: " in l]
        unexpected = [l for l in err_lines if not OUTAGE_ERROR.search(l)]

        counts = {
            "real seconds": round(time.monotonic() - real_start, 1),
            "simulated hours": round((self.warp.now() - t0) / H, 2),
            "time factor": FACTOR,
            "client fetches": len(fetches),
            "client errors": len(errors),
            "distinct credentials": len(keys),
            "distinct credentials per role": {r: len(k) for r, k in role_keys.items()},
            "long-lived client calls": len(lived),
            "long-lived client errors": len(lived_errors),
            "long-lived client keys per role": {r: len(k) for r, k in lived_keys.items()},
            "long-lived min left (min)": round(min(r["left"] for r in lived if "left" in r) / M, 1)
            if lived else None,
            "min left (min)": round(min(lefts) / M, 1) if lefts else None,
            "max left (min)": round(max(lefts) / M, 1) if lefts else None,
            "fetches during the outage": len(in_outage),
            "sts AssumeRoleWithSAML": sts.get("assume_calls"),
            "sts AssumeRoleWithSAML ok": sts.get("assume_ok"),
            "sts AssumeRoleWithSAML errors": sts.get("assume_errors"),
            "sts GetRole": sts.get("get_role"),
            "sts GetCallerIdentity": sts.get("get_caller_identity"),
            "sts faults injected (outage)": faults,
            "adfs assertions issued": adfs.get("assertions_issued"),
            "adfs password rounds": adfs.get("password_posts"),
            "adfs cookie rounds": adfs.get("cookie_rounds"),
            "adfs sso expired": adfs.get("sso_expired"),
            "daemon error lines (outage)": len(err_lines),
            "dev": [roles["dev"][k] for k in ("duration", "max_source")],
            "prod": [roles["prod"][k] for k in ("duration", "max_source")],
        }
        print("\nlong job:", json.dumps(counts, indent=1), file=sys.stderr, flush=True)

        self.assertEqual(errors, [], "client errors")
        self.assertEqual(short, [], "credentials served with < 20 min left")
        self.assertEqual(len(fetches), 2 * count)
        self.assertEqual(sts.get("get_caller_identity"), len(fetches) + len(lived))
        for r in fetches:
            self.assertIn("assumed-role/ADFS-" + r["role"].capitalize() + "/", r["arn"])

        # The long-lived client: every call signed with valid credentials
        # (botocore refreshes 15 min before the end, must at 10 min), and
        # it saw new keys as sessions ended: at least one per session
        # length (1 h prod; dev 12 h at most).
        self.assertEqual(lived_errors, [], "long-lived client errors")
        self.assertEqual(len(lived), 2 * count)
        for r in lived:
            self.assertIn("assumed-role/ADFS-" + r["role"].capitalize() + "/", r["arn"])
            self.assertGreater(r["left"], 10 * M, r)
        self.assertGreaterEqual(len(lived_keys["prod"]), int(HOURS), "prod, long-lived")
        self.assertGreaterEqual(len(lived_keys["dev"]), int(HOURS / 12) + 1, "dev, long-lived")
        self.assertLessEqual(lived_keys["prod"] | lived_keys["dev"], keys,
                             "the long-lived client used a key never served to a fresh one")

        # Upper bounds. A priori, from the plan's shortest lifetimes:
        prod_max = int(HOURS * H / PROD_MIN_LIFE) + 1
        dev_max = int(HOURS * H / DEV_MIN_LIFE) + 1
        self.assertLessEqual(len(role_keys["prod"]), prod_max, "prod refreshed too often")
        self.assertLessEqual(len(role_keys["dev"]), dev_max, "dev refreshed too often")
        # ... and from the refreshes seen (each served key is one
        # refresh): one ADFS round per cycle (a cycle may serve both
        # roles), plus the outage's failed tries; a password round replaces
        # a cookie round.
        refreshes = len(role_keys["prod"]) + len(role_keys["dev"])
        tries = sum(faults.values())
        self.assertLessEqual(tries, OUTAGE_TRIES, "the outage's retries did not back off")
        self.assertLessEqual(adfs.get("assertions_issued"), refreshes + tries + MARGIN,
                             "more ADFS rounds than refreshes need")
        # STS: at the first sizing at most LOGIN_CALLS per role; then one
        # call per refresh, a second for dev's raise, PROBE_CALLS for each
        # upward probe of prod (every 6 h), one per failed try.
        probes = int(HOURS * H / PROBE_EVERY) + 1
        assume_max = (2 * LOGIN_CALLS + refreshes + 1 + probes * PROBE_CALLS + tries + MARGIN)
        self.assertLessEqual(sts.get("assume_calls"), assume_max,
                             "more AssumeRoleWithSAML calls than refreshes need")
        # Successful calls: one per served key, plus the sizing's
        # superseded sessions (dev at 1 h at login, dev at 4 h at the raise).
        self.assertLessEqual(sts.get("assume_ok"), refreshes + 2 + MARGIN,
                             "sessions issued that were never served")
        # GetRole: dev's, once per refresh of dev and at login; prod's,
        # denied, at login.
        self.assertLessEqual(sts.get("get_role"), len(role_keys["dev"]) + 1 + MARGIN,
                             "more GetRole calls than dev's refreshes need")
        # Login + one silent re-login when the 16 h SSO ended.
        self.assertEqual(adfs.get("password_posts"), 2)
        self.assertEqual(adfs.get("sso_expired"), 1)
        self.assertGreater(adfs.get("cookie_rounds"), 40)
        # The raise was used; prod was probed.
        self.assertEqual((roles["dev"]["duration"], roles["dev"]["max_source"]), (43200, "get_role"))
        self.assertEqual((roles["prod"]["duration"], roles["prod"]["max_source"]), (3600, "probe"))
        # The outage hit a refresh, which kept the old credentials and
        # recovered after it.
        self.assertGreater(sum(faults.values()), 0, "the outage hit no refresh")
        self.assertGreater(len(in_outage), 0)
        self.assertEqual(unexpected, [], "daemon errors outside the outage")
        self.assertGreater(len(err_lines), 0)
        self.assertEqual(rc, 0, "adfs-credd did not exit cleanly on SIGTERM:\n" + log[-3000:])


if __name__ == "__main__":
    unittest.main()
