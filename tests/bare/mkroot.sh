#!/bin/sh
# mkroot.sh ROOT: a fresh Debian 12 (bookworm) minbase root at ROOT, as a new
# machine has it: no make, no compiler, no sudo, no file(1). Used by the
# bare-machine CI stage (tests/bare/run.sh) and the booted-systemd test
# (tests/integration/test_boot.py).
#
# debootstrap keeps the .debs it fetched in $ADFS_CREDD_DEB_CACHE (default
# /var/cache/adfs-credd/debootstrap), so a second root is quick; without that
# cache it fetches everything (about a minute). The host's extra CA
# certificates (/usr/local/share/ca-certificates: this workplace's egress
# CA) are copied in; the ca-certificates package, once the root installs it,
# adds them to the root's trust store (npm's registry is https).
set -eu

root=${1:?usage: mkroot.sh ROOT}
suite=bookworm
mirror=${ADFS_CREDD_MIRROR:-http://deb.debian.org/debian}
cache=${ADFS_CREDD_DEB_CACHE:-/var/cache/adfs-credd/debootstrap}

command -v debootstrap >/dev/null 2>&1 || {
	echo "mkroot.sh: installing debootstrap" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
if [ -e "$root" ] && [ -n "$(ls -A "$root" 2>/dev/null)" ]; then
	echo "mkroot.sh: $root exists and is not empty" >&2
	exit 1
fi
mkdir -p "$root" "$cache"
debootstrap --variant=minbase --cache-dir="$cache" "$suite" "$root" "$mirror" \
	>"$root.debootstrap.log" 2>&1 || {
	tail -20 "$root.debootstrap.log" >&2
	exit 1
}
rm -f "$root.debootstrap.log"

# The sources a Debian 12 install has: main, updates and security.
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${ADFS_CREDD_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $suite-security main
SOURCES
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# As Debian's container images are set up: dpkg does not fsync every file,
# and man-db does not rebuild its index after each install (the packages are
# the same; a root is thrown away after its test).
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/unsafe-io"
echo 'man-db man-db/auto-update boolean false' | chroot "$root" debconf-set-selections
# A name of its own in /etc/hosts, as the installer writes it (sudo looks
# its host name up).
hostname >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
	"$(hostname)" >"$root/etc/hosts"
if [ -d /usr/local/share/ca-certificates ]; then
	mkdir -p "$root/usr/local/share/ca-certificates"
	cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
echo "mkroot.sh: Debian $suite minbase at $root"
