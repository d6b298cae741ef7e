#!/usr/bin/env bash
# Installs the Debian packages adfs-credd needs to build and test, only
# those that are missing. Used by `make demo`, `make check` and .ci/run;
# tests/bench/install-deps.sh passes the benchmarks' extra packages as
# arguments. Package scripts may not start services (nginx would take port
# 80, krb5-kdc a system KDC): the tests run their own instances.
set -euo pipefail

pkgs=(
	build-essential cmake pkg-config
	libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libyaml-dev
	libsystemd-dev libxml2-dev libjansson-dev libcmocka-dev
	python3 python3-boto3 openssl ca-certificates
	krb5-kdc krb5-admin-server krb5-user python3-gssapi libfaketime
	systemd man-db mandoc dpkg-dev
	# tests/integration/test_hygiene.py: strace (paths the daemon writes),
	# gdb's gcore (a core of the running daemon), setpriv (util-linux).
	strace gdb util-linux
	# `make check-valgrind` (every daemon under memcheck).
	valgrind
	# scripts/lint.sh (static analysis).
	clang-tidy cppcheck jq
	# tests/fuzz/run.sh (libFuzzer and the sanitizer runtimes).
	clang libclang-rt-14-dev
	# The SDK matrix (tests/integration/test_sdk_matrix.py): AWS CLI v2 and
	# the AWS SDK for Go v2, built offline in GOPATH mode.
	awscli golang-go golang-github-aws-aws-sdk-go-v2-dev
)
# ...and the AWS SDK for JavaScript v3 from npm (tests/sdk/js). A node or
# npm that is already there (e.g. from nodesource, whose nodejs carries its
# own npm) is used as it is: Debian's npm would conflict with it.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
pkgs+=("$@")

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing missing packages: ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod 755 "$policy"
	made_policy=1
fi
cleanup() { [ "$made_policy" = 1 ] && "${sudo[@]}" rm -f "$policy"; true; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
