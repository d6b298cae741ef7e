#!/bin/sh
# Builds the Go SDK client offline, in GOPATH mode, against Debian's
# golang-github-aws-aws-sdk-go-v2-dev (/usr/share/gocode).
# Usage: build.sh OUTPUT_BINARY
set -eu
out=${1:?usage: build.sh OUTPUT_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
# No module mode, no proxy, no network: only what Debian installed.
env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$cache" \
	GOPROXY=off GOFLAGS= CGO_ENABLED=0 \
	/usr/bin/go build -o "$out" "$here/main.go"
