"""`make demo`: the story users come for, end to end, on this machine.

Starts the bundled ADFS and STS/IAM emulators (HTTPS, with a CA made for
the run) and adfs-credd, signs in once with `adfs-credctl login
--password-stdin`, and lets Debian's boto3 find the credentials by itself
(ECS endpoint + token, as `adfs-credctl env` prints). Two roles, both
allowing 1 h sessions:
  A. ADFS-Dev:  its sessions may call iam:GetRole (max_source get_role);
  B. ADFS-Prod: GetRole is denied, the daemon probes STS (max_source probe).
For each, the administrator raises MaxSessionDuration to 12 h with the
real AWS CLI (`aws iam update-role`), the user runs `adfs-credctl refresh
ROLE`, and the session, `status` and boto3's expiry move to 12 h.
Any step that does not happen ends the demo with a non-zero status.

Needs only the build, python3 + python3-boto3, awscli, openssl and
ca-certificates (Debian packages)."""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEV_ARN, PASSWORD, PROD_ARN, USER, Stack, clean_sdk_env, fetch  # noqa: E402

AWS_CLI = "/usr/bin/aws"  # Debian's awscli, not one earlier on PATH
HOUR = 3600
DEV_IDP = "arn:aws:iam::111122223333:saml-provider/ADFS"
PROD_IDP = "arn:aws:iam::444455556666:saml-provider/ADFS"

# Both roles start at 1 h; alice's assertion carries no SessionDuration, so
# nothing but the role's maximum limits her sessions.
WORLD = {
    "roles": {
        DEV_ARN: {"max_session_duration": HOUR, "get_role": True, "provider": DEV_IDP},
        PROD_ARN: {"max_session_duration": HOUR, "get_role": False, "provider": PROD_IDP},
    },
    "users": [{
        "username": USER, "upn": "alice@example.com", "password": PASSWORD,
        "name_id": USER, "role_session_name": "alice@example.com",
        "roles": [DEV_ARN + "," + DEV_IDP, PROD_IDP + "," + PROD_ARN],
        "session_duration": None, "mfa": None,
    }],
}


class DemoFailed(Exception):
    pass


def step(msg):
    print(f"\n==> {msg}", flush=True)


def check(cond, msg):
    """msg says what must hold, with what was seen in parentheses."""
    if not cond:
        raise DemoFailed("expected " + msg)
    print(f"  ok: {msg}", flush=True)


def show(cmd, p):
    print(f"$ {cmd}")
    out = (p.stdout + p.stderr).rstrip()
    if out:
        print("  " + out.replace("\n", "\n  "), flush=True)
    if p.returncode != 0:
        raise DemoFailed(f"'{cmd}' exited {p.returncode}")


def hm(seconds):
    h, m = divmod(int(round(seconds)) // 60, 60)
    return f"{h}h{m:02d}m"


class Demo:
    def __init__(self, s, t0):
        self.s, self.t0 = s, t0
        with open(s.world) as f:
            self.admins = {u["arn"].split(":")[4]: u for u in
                           ({"arn": a, **v} for a, v in json.load(f)["iam_users"].items())
                           if u.get("admin")}

    def status(self):
        p = self.s.ctl("status", "--json")
        if p.returncode not in (0, 5):  # 5: a role not valid (yet)
            raise DemoFailed(f"adfs-credctl status --json exited {p.returncode}: {p.stderr}")
        return {r["name"]: r for r in json.loads(p.stdout)["roles"]}

    def env(self, role):
        p = self.s.ctl("env", role)
        if p.returncode != 0:
            raise DemoFailed(f"adfs-credctl env {role} exited {p.returncode}: {p.stderr}")
        env = {}
        for line in p.stdout.splitlines():
            k, v = line.removeprefix("export ").split("=", 1)
            env[k] = v
        return env

    def ecs_fetch(self, env):
        """What an SDK does: GET the full URI with the token."""
        url = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        st, _, body = fetch(url, headers={"Authorization":
                                          env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
        if st != 200:
            raise DemoFailed(f"GET {url}: {st} {body}")
        return json.loads(body)

    def boto3_expiry(self, role):
        """Debian's boto3 finds the role's credentials (ECS endpoint) and
        calls sts.get_caller_identity(); returns seconds until they expire."""
        out = self.s.boto3(self.env(role))
        exp = datetime.fromisoformat(out["Expiration"])
        left = (exp - datetime.now(timezone.utc)).total_seconds()
        print(f"  boto3 {out['botocore']} ({out['method']}): "
              f"sts.get_caller_identity() -> {out['Arn']}")
        print(f"  credentials expire at {exp.isoformat()} (in {hm(left)})", flush=True)
        return left

    def expect_role(self, role, duration, source):
        show("adfs-credctl status", self.s.ctl("status"))
        r = self.status()[role]
        check(r["state"] == "valid" and r["duration"] == duration
              and r["max_source"] == source,
              f"{role}: a {hm(duration)} session, max_source {source} "
              f"(status: {r['state']}, {r['duration']} s, {r['max_source']})")

    def update_role(self, role_arn, seconds):
        account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[1]
        admin = self.admins.get(account)
        if admin is None:
            raise DemoFailed(f"the emulator's world has no administrator in {account}")
        env = clean_sdk_env({"AWS_ACCESS_KEY_ID": admin["access_key_id"],
                             "AWS_SECRET_ACCESS_KEY": admin["secret_access_key"],
                             "AWS_CA_BUNDLE": self.s.ca, "AWS_PAGER": ""})
        print(f"  (the administrator's keys: {admin['arn']}, "
              f"{admin['access_key_id']}; CA bundle: the run's test CA)")
        cmd = [AWS_CLI, "iam", "update-role", "--role-name", name,
               "--max-session-duration", str(seconds), "--endpoint-url", self.s.sts.url]
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise DemoFailed(f"{AWS_CLI} not found: install Debian's awscli") from None
        show("aws " + " ".join(cmd[1:]), p)
        p = subprocess.run([AWS_CLI, "iam", "get-role", "--role-name", name, "--query",
                            "Role.MaxSessionDuration", "--output", "text",
                            "--endpoint-url", self.s.sts.url],
                           env=env, capture_output=True, text=True, timeout=120)
        show(f"aws iam get-role --role-name {name} --query Role.MaxSessionDuration "
             f"--output text --endpoint-url {self.s.sts.url}", p)
        check(p.stdout.strip() == str(seconds), f"IAM now says {name} allows {hm(seconds)}")

    def path(self, letter, role_arn, source, how):
        name = role_arn.rsplit("/", 1)[1]
        step(f"Path {letter}: {name}, {how}; MaxSessionDuration 1 h")
        self.expect_role(name, HOUR, source)
        before = self.boto3_expiry(name)
        check(50 * 60 <= before <= HOUR, f"boto3: {name} expires in about 1 h ({hm(before)})")

        step(f"Path {letter}: the administrator raises {name} to 12 h (the real AWS CLI)")
        self.update_role(role_arn, 12 * HOUR)

        step(f"Path {letter}: the user asks for the new maximum now")
        show(f"adfs-credctl refresh {name}", self.s.ctl("refresh", name))
        self.expect_role(name, 12 * HOUR, source)
        after = self.boto3_expiry(name)
        check(12 * HOUR - 10 * 60 <= after <= 12 * HOUR,
              f"boto3: {name} expiry moved from {hm(before)} to {hm(after)} out")


def main():
    t0 = time.monotonic()
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    os.environ["ADFS_CREDD_BUILD"] = os.path.abspath(args.build)

    step("Starting the ADFS and STS/IAM emulators (HTTPS on 127.0.0.1)")
    s = Stack(world=WORLD, keep=args.keep)
    try:
        d = Demo(s, t0)
        print(f"  ADFS emulator:    {s.adfs.url}  (user {USER})")
        print(f"  STS/IAM emulator: {s.sts.url}")
        print(f"  config:           {s.config_path}")
        with open(s.config_path) as f:
            print("  " + f.read().replace("\n", "\n  "))
        print("  roles: every role ADFS offers, each at the longest it allows "
              "(duration: max, the default)")

        step("Starting adfs-credd")
        s.start_daemon()
        print(f"  serving the ECS credentials endpoint on {s.ecs_url}/")

        step("Signing in once (the password goes over the 0600 control socket)")
        show("echo '********' | adfs-credctl login --password-stdin", s.login(PASSWORD))
        env = d.env("ADFS-Dev")
        creds = d.ecs_fetch(env)
        first = time.monotonic() - t0
        check(creds.get("AccessKeyId", "").startswith("ASIA"), "the ECS endpoint serves credentials")
        print(f"  first credentials served {first:.1f} s after start", flush=True)

        step("The environment an SDK needs")
        print("$ eval \"$(adfs-credctl env ADFS-Dev)\"")
        print(f"  AWS_CONTAINER_CREDENTIALS_FULL_URI={env['AWS_CONTAINER_CREDENTIALS_FULL_URI']}")
        print("  AWS_CONTAINER_AUTHORIZATION_TOKEN=(43 characters, hidden)")

        d.path("A", DEV_ARN, "get_role", "GetRole allowed")
        d.path("B", PROD_ARN, "probe", "GetRole denied (the daemon probes STS)")

        step("Done: stopping the daemon and emulators")
        rc = s.stop_daemon()
        if rc != 0:
            raise DemoFailed(f"adfs-credd exited {rc}:\n{s.log_text()}")
        print(f"  OK: first credentials {first:.1f} s after start; both paths went "
              f"from 1 h to 12 h on 'adfs-credctl refresh' ({time.monotonic() - t0:.1f} s in all)")
    except (DemoFailed, RuntimeError, AssertionError) as e:
        print(f"\ndemo FAILED: {e}", file=sys.stderr)
        if s.daemon is not None:
            print("--- daemon log (tail) ---\n" + s.log_text()[-4000:], file=sys.stderr)
        return 1
    finally:
        s.close()
        if args.keep:
            print(f"  files kept in {s.tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
