#!/usr/bin/env bash
# Installs what the benchmarks (tests/bench/run.sh) need beyond the main
# suite's packages (scripts/install-deps.sh): wrk as the load generator,
# nginx as the static-file baseline, valgrind (callgrind) and strace. Only
# missing packages are installed. nginx's package would start a system
# service on port 80: a policy-rc.d that refuses service starts is put in
# place for the install when none exists (the bench runs its own
# unprivileged instance on a free loopback port).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../../scripts/install-deps.sh"

pkgs=(wrk nginx valgrind strace procps)
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
