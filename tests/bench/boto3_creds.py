"""One SDK process start as a batch job's step would do it: import boto3,
resolve credentials through botocore's default chain (environment
variables, or the ECS container provider pointed at adfs-credd), freeze
them. Prints the provider botocore used and the time the resolution took
(after the imports); exits 1 when none was found."""

import sys
import time

import boto3


def main():
    t0 = time.perf_counter()
    creds = boto3.session.Session(region_name="us-east-1").get_credentials()
    if creds is None:
        print("boto3 found no credentials", file=sys.stderr)
        return 1
    frozen = creds.get_frozen_credentials()
    if not (frozen.access_key and frozen.secret_key):
        print("boto3 got empty credentials", file=sys.stderr)
        return 1
    # The provider, and how long the session took to resolve and freeze
    # the credentials (ms), after the imports.
    print(creds.method, f"{(time.perf_counter() - t0) * 1000:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
