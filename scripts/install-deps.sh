#!/usr/bin/env bash
# Installs the Debian packages adfs-credd needs, only those that are missing.
#
#   scripts/install-deps.sh --demo     what `./run demo` uses: the C build,
#                                      python3-boto3, the AWS CLI, openssl
#   scripts/install-deps.sh [PKG...]   everything `./run check` and .ci/run
#                                      use, plus PKG... (tests/bench passes
#                                      the benchmarks' extra packages)
#
# Package scripts may not start services (nginx would take port 80,
# krb5-kdc a system KDC): the tests run their own instances.
set -euo pipefail

# The daemon, the CLI and the unit tests' cmocka (CMake configures them).
build=(
	gcc libc6-dev make cmake pkg-config
	libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libyaml-dev
	libsystemd-dev libxml2-dev libjansson-dev libcmocka-dev libkrb5-dev
)
# tests/integration/demo.py: the emulators and boto3 (Debian's python3),
# the real AWS CLI for the administrator's `aws iam update-role`, openssl
# for the emulators' test certificates.
demo=(python3 python3-boto3 awscli openssl ca-certificates)
# Everything else the suite, CI and the lint use.
check=(
	build-essential
	krb5-kdc krb5-admin-server krb5-user python3-gssapi libfaketime
	systemd man-db mandoc dpkg-dev
	# packaging/deb: CPack's DEB generator runs file(1) on what it packs.
	file
	# tests/integration/test_hygiene.py: strace (paths the daemon writes),
	# gdb's gcore (a core of the running daemon), setpriv (util-linux).
	strace gdb util-linux
	# tests/integration/test_peers.py: ip(8) for its network namespaces.
	iproute2
	# tests/integration/test_alerts.py (sessionbus.py): a private session
	# bus and dbusmock's notification server on it (python3-dbus with it).
	dbus-daemon python3-dbusmock
	# tests/integration/test_cli.py: `env --format fish` read by fish;
	# tests/integration/test_completion.py: the shells the completions in
	# completions/ are for, and bash's completion machinery.
	fish zsh bash-completion
	# `make check-valgrind` (every daemon under memcheck).
	valgrind
	# scripts/lint.sh (static analysis).
	clang-tidy cppcheck jq
	# tests/fuzz/run.sh (libFuzzer and the sanitizer runtimes).
	clang libclang-rt-14-dev
	# The SDK matrix (tests/integration/test_sdk_matrix.py): the AWS SDK
	# for Go v2, built offline in GOPATH mode.
	golang-go golang-github-aws-aws-sdk-go-v2-dev
	# The booted-systemd test (a Debian 12 root, booted in a container) and
	# the bare-machine CI stage (tests/bare/run.sh).
	debootstrap systemd-container
)

pkgs=("${build[@]}" "${demo[@]}")
if [ "${1:-}" = --demo ]; then
	shift
else
	pkgs+=("${check[@]}")
	# ...and the AWS SDK for JavaScript v3 from npm (tests/sdk/js). A node
	# or npm that is already there (e.g. from nodesource, whose nodejs
	# carries its own npm) is used as it is: Debian's npm would conflict.
	command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
	command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi
pkgs+=("$@")

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing ${#missing[@]} missing Debian packages: ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
		exit 1
	}
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
t0=$SECONDS
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "Installed in $((SECONDS - t0)) s."
