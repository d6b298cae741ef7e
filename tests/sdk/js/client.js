// AWS SDK for JavaScript v3 client for the adfs-credd SDK matrix
// (tests/integration/test_sdk_matrix.py).
//
// Finds credentials the way any Node program would: fromNodeProviderChain
// reads only this process's environment (ECS FULL_URI + token or token
// file, or IMDS at AWS_EC2_METADATA_SERVICE_ENDPOINT). Then it calls
// GetCallerIdentity on the STS emulator, trusting the test CA for that call
// only, and prints one JSON line:
//   {"Arn", "Account", "AccessKeyId", "Expiration", "Sources", "Sdk", "Node"}
//
// Usage: node client.js STS_URL CA_FILE
"use strict";

const fs = require("fs");
const https = require("https");
const path = require("path");
const { fromNodeProviderChain } = require("@aws-sdk/credential-providers");
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");

function version(pkg) {
  const p = path.join(__dirname, "node_modules", pkg, "package.json");
  return JSON.parse(fs.readFileSync(p, "utf8")).version;
}

async function main() {
  const [stsUrl, caFile] = process.argv.slice(2);
  if (!stsUrl || !caFile) {
    throw new Error("usage: node client.js STS_URL CA_FILE");
  }
  // The default Node chain, memoized: the STS client below uses the same
  // credentials that we inspect here.
  const credentials = fromNodeProviderChain();
  const creds = await credentials();

  // The test CA is trusted for the STS call only: the chain's own
  // requests (plain http on loopback) use the SDK's defaults.
  const sts = new STSClient({
    region: "us-east-1",
    endpoint: stsUrl,
    credentials,
    requestHandler: {
      httpsAgent: new https.Agent({ ca: fs.readFileSync(caFile) }),
      connectionTimeout: 5000,
      requestTimeout: 10000,
    },
  });
  const id = await sts.send(new GetCallerIdentityCommand({}));
  process.stdout.write(JSON.stringify({
    Arn: id.Arn,
    Account: id.Account,
    AccessKeyId: creds.accessKeyId,
    Expiration: creds.expiration ? creds.expiration.toISOString() : null,
    // Which providers produced them (CREDENTIALS_HTTP, ...), as the SDK
    // records it for its user agent.
    Sources: creds.$source ? Object.keys(creds.$source) : [],
    Sdk: {
      "@aws-sdk/credential-providers": version("@aws-sdk/credential-providers"),
      "@aws-sdk/client-sts": version("@aws-sdk/client-sts"),
    },
    Node: process.version,
  }) + "\n");
}

main().catch((err) => {
  process.stderr.write(`js client failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
