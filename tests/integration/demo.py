"""`make demo`: the whole path, end to end, on this machine. Starts the
bundled ADFS and STS emulators (HTTPS, with a CA made for the run), starts
adfs-credd with a config pointing at them, signs in once with
`adfs-credctl login --password-stdin`, then lets Debian's boto3 find the
credentials by itself (ECS endpoint + token, as `adfs-credctl env` prints)
and call STS GetCallerIdentity on the emulator."""

import argparse
import json
import os
import sys
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, USER, Stack  # noqa: E402


def step(msg):
    print(f"\n==> {msg}", flush=True)


def show(cmd, p):
    print(f"$ {cmd}")
    out = (p.stdout + p.stderr).rstrip()
    if out:
        print("  " + out.replace("\n", "\n  "))
    if p.returncode != 0:
        raise SystemExit(f"demo failed: '{cmd}' exited {p.returncode}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    os.environ["ADFS_CREDD_BUILD"] = os.path.abspath(args.build)

    step("Starting the ADFS and STS emulators (HTTPS on 127.0.0.1)")
    s = Stack(keep=args.keep)
    try:
        print(f"  ADFS emulator: {s.adfs.url}  (user {USER})")
        print(f"  STS emulator:  {s.sts.url}")
        print(f"  config:        {s.config_path}")
        with open(s.config_path) as f:
            print("  " + f.read().replace("\n", "\n  "))

        step("Starting adfs-credd")
        s.start_daemon()
        print(f"  serving the ECS credentials endpoint on {s.ecs_url}/")

        step("Signing in once (the password goes over the 0600 control socket)")
        show("echo '********' | adfs-credctl login --password-stdin", s.login(PASSWORD))

        step("What the daemon holds")
        show("adfs-credctl status", s.ctl("status"))

        step("The environment an SDK needs")
        p = s.ctl("env", "ADFS-Dev")
        env = {}
        for line in p.stdout.splitlines():
            k, v = line.removeprefix("export ").split("=", 1)
            env[k] = v
        print("$ eval \"$(adfs-credctl env ADFS-Dev)\"")
        print(f"  AWS_CONTAINER_CREDENTIALS_FULL_URI={env['AWS_CONTAINER_CREDENTIALS_FULL_URI']}")
        print("  AWS_CONTAINER_AUTHORIZATION_TOKEN=(43 characters, hidden)")

        step("A real SDK (Debian's boto3) finds the credentials by itself")
        out = s.boto3(env)
        exp = datetime.fromisoformat(out["Expiration"])
        left = exp - datetime.now(timezone.utc)
        h, m = divmod(int(left.total_seconds()) // 60, 60)
        print(f"  boto3 {out['botocore']} credential provider: {out['method']}")
        print(f"  sts.get_caller_identity() -> {out['Arn']}")
        print(f"  credentials expire at {exp.isoformat()} (in {h}h{m:02d}m); "
              f"adfs-credd refreshes them well before")

        step("Done: stopping the daemon and emulators")
        rc = s.stop_daemon()
        if rc != 0:
            raise SystemExit(f"adfs-credd exited {rc}:\n{s.log_text()}")
        print("  OK")
    finally:
        s.close()
        if args.keep:
            print(f"  files kept in {s.tmp}")


if __name__ == "__main__":
    main()
