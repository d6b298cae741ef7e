"""The long-job test's client: a botocore program that, every PERIOD
seconds of (accelerated) time, finds each role's credentials the way any
SDK does (AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN,
a new botocore session and so a new credential provider each time) and
calls sts:GetCallerIdentity on the STS emulator with them.

Besides, one long-lived botocore session per role, made once at start
(its credential provider reads the URI and token then), calls
GetCallerIdentity every PERIOD as well: its RefreshableCredentials expire
and are fetched again many times over the job, as in a long-running
program ("lived": true in its lines).

Runs under tests/timewarp like the daemon and the emulators, so its clock,
sleeps and timeouts are the accelerated ones. One JSON line per call on
stdout; the test judges them.

Usage: long_job_client.py CONFIG.json   (keys: roles {name: uri}, token,
sts_url, ca, period, count, min_left)"""

import datetime
import json
import os
import sys
import time

import botocore.session
import botocore.utils
from botocore.config import Config
from botocore.loaders import Loader

# Network latency is real; under a time factor F, each real millisecond is
# F simulated ones. botocore's 2 s container-credential timeout would be
# 5 ms of real time at F=400, so give it what 2 s are in real time (the
# daemon answers from memory; this only absorbs the machine's scheduling).
# One attempt: a retry would hide an error.
TIMEOUT = float(os.environ.get("LONG_JOB_SDK_TIMEOUT", "600"))
botocore.utils.ContainerMetadataFetcher.TIMEOUT_SECONDS = TIMEOUT
botocore.utils.ContainerMetadataFetcher.RETRY_ATTEMPTS = 1


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    loader = Loader()  # parsed service models are shared; providers are not
    client_cfg = Config(connect_timeout=TIMEOUT, read_timeout=TIMEOUT,
                        retries={"total_max_attempts": 1})
    os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = cfg["token"]

    def new_session(uri):
        os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = uri
        session = botocore.session.Session()
        session.register_component("data_loader", loader)
        return session, session.get_credentials()

    def sts_client(session):
        return session.create_client("sts", region_name="us-east-1",
                                     endpoint_url=cfg["sts_url"], verify=cfg["ca"],
                                     config=client_cfg)

    # The long-lived clients: one session, one credential object and one
    # STS client per role for the whole job.
    lived = {}
    for role, uri in sorted(cfg["roles"].items()):
        session, creds = new_session(uri)
        if creds is None:
            raise RuntimeError("botocore found no credentials for " + role)
        lived[role] = (creds, sts_client(session))

    def now_utc():
        return datetime.datetime.now(datetime.timezone.utc)

    start = time.time()
    print(json.dumps({"start": start}), flush=True)
    for i in range(cfg["count"]):
        due = start + i * cfg["period"]
        if due > time.time():
            time.sleep(due - time.time())
        for role, uri in sorted(cfg["roles"].items()):
            rec = {"i": i, "role": role}
            try:
                session, creds = new_session(uri)
                rec["t"] = time.time()
                if creds is None:
                    raise RuntimeError("botocore found no credentials")
                rec["method"] = creds.method
                expiry = creds._expiry_time  # botocore's parsed Expiration
                rec["expiration"] = expiry.isoformat()
                rec["left"] = (expiry - now_utc()).total_seconds()
                frozen = creds.get_frozen_credentials()
                rec["access_key"] = frozen.access_key
                rec["arn"] = sts_client(session).get_caller_identity()["Arn"]
            except Exception as e:  # every failure is reported, none retried
                rec["error"] = f"{type(e).__name__}: {e}"
            print(json.dumps(rec), flush=True)

            # The long-lived client: botocore refreshes its credentials
            # itself (15 min before they end; 10 min is mandatory).
            rec = {"i": i, "role": role, "lived": True}
            creds, sts = lived[role]
            try:
                rec["t"] = time.time()
                rec["arn"] = sts.get_caller_identity()["Arn"]
                # What it signed with (it refreshes before signing).
                frozen = creds.get_frozen_credentials()
                rec["access_key"] = frozen.access_key
                rec["expiration"] = creds._expiry_time.isoformat()
                rec["left"] = (creds._expiry_time - now_utc()).total_seconds()
            except Exception as e:
                rec["error"] = f"{type(e).__name__}: {e}"
            print(json.dumps(rec), flush=True)
    print(json.dumps({"done": time.time()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
