"""A boto3 client that finds its credentials the way any program would
(the environment given to this process: ECS FULL_URI + token, or IMDS),
then calls the STS emulator. Prints JSON: the call's result and what the
credentials look like. Usage: sdk_boto3.py STS_URL CA_FILE ACTION"""

import json
import sys

import boto3
import botocore


def main():
    sts_url, ca, action = sys.argv[1:4]
    session = boto3.session.Session(region_name="us-east-1")
    creds = session.get_credentials()
    if creds is None:
        print("boto3 found no credentials", file=sys.stderr)
        return 1
    client = session.client("sts", endpoint_url=sts_url, verify=ca)
    out = {"method": creds.method, "botocore": botocore.__version__}
    if action == "get_caller_identity":
        r = client.get_caller_identity()
        out.update(Arn=r["Arn"], Account=r["Account"], UserId=r["UserId"])
    frozen = creds.get_frozen_credentials()
    out["AccessKeyId"] = frozen.access_key
    expiry = getattr(creds, "_expiry_time", None)
    out["Expiration"] = expiry.isoformat() if expiry else None
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
