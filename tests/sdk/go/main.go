// AWS SDK for Go v2 client for the adfs-credd SDK matrix
// (tests/integration/test_sdk_matrix.py). Built in GOPATH mode, offline,
// against Debian's golang-github-aws-aws-sdk-go-v2-dev (see build.sh).
//
// config.LoadDefaultConfig resolves credentials through the SDK's default
// chain from this process's environment only (ECS FULL_URI + token, or IMDS
// at AWS_EC2_METADATA_SERVICE_ENDPOINT). Then GetCallerIdentity is called on
// the STS emulator with an http.Client that trusts the test CA; the chain's
// own requests keep the SDK's default client. Prints one JSON line:
//
//	{"Arn", "Account", "AccessKeyId", "Expiration", "Source", "Sdk", "Go"}
//
// Expiration is what the SDK's credentials cache holds: for the container
// provider the SDK takes 5 minutes off the served value (ExpiryWindow); for
// IMDS it caps the served value at one hour from the fetch.
//
// Usage: sdk-go-client STS_URL CA_FILE
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func run() error {
	if len(os.Args) != 3 {
		return fmt.Errorf("usage: %s STS_URL CA_FILE", os.Args[0])
	}
	stsURL, caFile := os.Args[1], os.Args[2]

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("LoadDefaultConfig: %w", err)
	}
	if cfg.Credentials == nil {
		return fmt.Errorf("the default chain found no credential provider")
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieving credentials: %w", err)
	}

	pem, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("no certificate in %s", caFile)
	}
	httpClient := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:           nil, // loopback only, never a proxy
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		},
	}
	// SDK 1.17 (Debian 12) predates Options.BaseEndpoint: the endpoint is
	// overridden with an EndpointResolver.
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.EndpointResolver = sts.EndpointResolverFromURL(stsURL)
		o.HTTPClient = httpClient
	})
	id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("GetCallerIdentity: %w", err)
	}

	out := map[string]interface{}{
		"Arn":         aws.ToString(id.Arn),
		"Account":     aws.ToString(id.Account),
		"AccessKeyId": creds.AccessKeyID,
		"Expiration":  nil,
		"Source":      creds.Source,
		"Sdk":         aws.SDKVersion,
		"Go":          runtime.Version(),
	}
	if creds.CanExpire {
		out["Expiration"] = creds.Expires.UTC().Format(time.RFC3339Nano)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go client failed:", err)
		os.Exit(1)
	}
}
