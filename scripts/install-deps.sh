#!/usr/bin/env bash
# Installs the Debian packages adfs-credd needs to build and test, only
# those that are missing. Used by `make demo`, `make check` and .ci/run.
set -euo pipefail

pkgs=(
	build-essential cmake pkg-config
	libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libyaml-dev
	libsystemd-dev libxml2-dev libjansson-dev libcmocka-dev
	python3 python3-boto3 openssl ca-certificates
	krb5-kdc krb5-admin-server krb5-user python3-gssapi libfaketime
)

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
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
