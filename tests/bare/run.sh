#!/usr/bin/env bash
# The README's two commands on a bare machine: a freshly debootstrapped
# Debian 12 minbase root (no make, no compiler, no file(1), no sudo), in a
# chroot, with nothing typed before them but the clone.
#
#   tests/bare/run.sh [demo|check|all]
#
#   demo   a fresh root with a normal user who has sudo: `./run demo` as
#          that user; then checks that the demo installed only what it uses
#          (none of the test toolchain)
#   check  another fresh root: `./run check` as root, the whole suite (this
#          is CI's plain test pass); $ADFS_CREDD_BARE_CHECK_ARGS is added
#          to that command line as it is (e.g. "CTEST_ARGS='-L unit'")
#   all    both, side by side (the default)
#   check-user  `./run check` as the user with sudo (not in CI: the
#          root-only tests skip there)
#
# The clone is of HEAD of the repository this script is in: commit first.
# Roots live under $ADFS_CREDD_BARE_DIR (default /var/tmp) and are removed
# afterwards (ADFS_CREDD_BARE_KEEP=1 keeps them). Needs root, and
# debootstrap (installed when missing). Each step prints its time.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
what=${1:-all}
cache=${ADFS_CREDD_CACHE:-/var/cache/adfs-credd}

[ "$(id -u)" -eq 0 ] || { echo "tests/bare/run.sh: needs root (debootstrap, chroot)" >&2; exit 1; }

t0=$SECONDS
say() { printf '[bare %3ds] %s\n' $((SECONDS - t0)) "$*"; }

roots=()
mounted=()
cleanup() {
	local r m ns p
	for r in "${roots[@]}"; do
		# Whatever a test left running inside the root: every process
		# in the root's mount namespace (inroot).
		[ -s "$r.mntns" ] || continue
		ns=$(cat "$r.mntns")
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ] && kill -KILL "${p#/proc/}" 2>/dev/null
		done
	done
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		m=${mounted[i]}
		umount -R "$m" 2>/dev/null || umount -R -l "$m" 2>/dev/null || true
	done
	if [ "${ADFS_CREDD_BARE_KEEP:-0}" != 1 ]; then
		for r in "${roots[@]}"; do
			if findmnt -R "$r" >/dev/null 2>&1 && [ -n "$(findmnt -rn -o TARGET -R "$r" | grep -v "^$r\$")" ]; then
				echo "tests/bare/run.sh: $r still has mounts; not removing it" >&2
			else
				rm -rf "$r" "$(dirname "$r")"
			fi
		done
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# newroot: a fresh root with its mounts, in $r (not a subshell: cleanup
# needs roots and mounted).
newroot() {
	local dir
	dir=$(mktemp -d "${ADFS_CREDD_BARE_DIR:-/var/tmp}/adfs-credd-bare.XXXXXX")
	r=$dir/root
	roots+=("$r")
	"$here/mkroot.sh" "$r" >&2
	# The root is a mount point of its own, as / is on a machine (and as
	# pivot_root in inroot needs).
	mount --bind "$r" "$r" && mounted+=("$r")
	mount -t proc proc "$r/proc" && mounted+=("$r/proc")
	mount --rbind /sys "$r/sys" && mount --make-rslave "$r/sys" && mounted+=("$r/sys")
	mount --rbind /dev "$r/dev" && mount --make-rslave "$r/dev" && mounted+=("$r/dev")
	mount -t tmpfs -o mode=755 tmpfs "$r/run" && mounted+=("$r/run")
	# The booted-systemd test inside makes a root of its own: it may use
	# this machine's cache of .debs and prepared roots (it works without).
	if [ -d "$cache" ]; then
		mkdir -p "$r/var/cache/adfs-credd"
		mount --bind "$cache" "$r/var/cache/adfs-credd" && mounted+=("$r/var/cache/adfs-credd")
	fi
}

# inroot ROOT USER CMD: CMD as USER in ROOT through a login shell's plain
# environment (what a new terminal has), in the user's clone. Like chroot,
# but the root is made the root of a mount namespace of its own (pivot_root):
# in a plain chroot the kernel refuses to create user namespaces (EPERM,
# "the caller is in a chroot environment"), and the booted test's
# PrivateUsers= service then fails with 217/USER. The namespace's id is kept
# in ROOT.mntns, for cleanup.
inroot() {
	local r=$1 user=$2 cmd=$3 home
	home=$( [ "$user" = root ] && echo /root || echo "/home/$user")
	mkdir -p "$r/.oldroot"
	unshare --mount --propagation private -- /bin/sh -ec '
		r=$1
		shift
		readlink /proc/self/ns/mnt >"$r.mntns"
		cd "$r"
		pivot_root . .oldroot
		umount -l /.oldroot
		rmdir /.oldroot
		exec "$@"' sh "$r" \
		/usr/bin/env -i HOME="$home" USER="$user" LOGNAME="$user" \
		SHELL=/bin/bash TERM=dumb CI="${CI:-}" \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/usr/sbin/runuser -u "$user" -- /bin/sh -c "cd ~/adfs-credd && $cmd"
}

clone() { # ROOT HOME: the committed HEAD, as `git clone` gives it
	git clone -q --no-hardlinks "$src" "$1$2/adfs-credd"
}

# with_sudo_user ROOT: the user dev, who has sudo, with a clone of their own.
with_sudo_user() {
	chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	chroot "$1" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends sudo >/dev/null
	chroot "$1" useradd -m -s /bin/bash dev
	echo 'dev ALL=(ALL) NOPASSWD: ALL' >"$1/etc/sudoers.d/dev"
	clone "$1" /home/dev
	chroot "$1" chown -R dev: /home/dev/adfs-credd
}

run_check_user() {
	local r
	say "check-user: debootstrap a fresh Debian 12 minbase root"
	newroot
	with_sudo_user "$r"
	say "check-user: ./run check, as a normal user with sudo"
	inroot "$r" dev "./run check ${ADFS_CREDD_BARE_CHECK_ARGS:-}"
	say "check-user: passed"
}

# demo_root: a fresh root for the demo, in $r, checked to be bare.
demo_root() {
	say "demo: debootstrap a fresh Debian 12 minbase root"
	newroot
	for tool in make cc gcc file sudo python3; do
		if chroot "$r" sh -c "command -v $tool" >/dev/null; then
			echo "tests/bare/run.sh: the fresh root already has $tool" >&2
			exit 1
		fi
	done
}

# demo_in ROOT: `./run demo` as the user with sudo, then the check that
# it installed only what it uses.
demo_in() {
	local r=$1
	# The user who has sudo: sudo is theirs, installed before our commands.
	with_sudo_user "$r"
	say "demo: ./run demo, as a normal user with sudo"
	inroot "$r" dev "./run demo"
	# Lean: none of the test toolchain came with the demo.
	local extra=()
	for p in valgrind clang gdb golang-go nodejs npm krb5-kdc cppcheck \
		clang-tidy strace build-essential systemd-container debootstrap; do
		if chroot "$r" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
			extra+=("$p")
		fi
	done
	if [ ${#extra[@]} -gt 0 ]; then
		echo "tests/bare/run.sh: the demo installed test-only packages: ${extra[*]}" >&2
		exit 1
	fi
	say "demo: passed ($(chroot "$r" dpkg-query -W -f='${Status}\n' | grep -c 'ok installed') packages installed in all)"
}

run_demo() {
	local r
	demo_root
	demo_in "$r"
}

run_check() {
	local r
	say "check: debootstrap a fresh Debian 12 minbase root"
	newroot
	clone "$r" /root
	say "check: ./run check, as root"
	inroot "$r" root "./run check ${ADFS_CREDD_BARE_CHECK_ARGS:-}"
	say "check: passed"
}

# all: the demo beside the check, at the same time. Its root is made
# first (two debootstraps would share the package cache at once); then
# `./run demo` runs in the background while the check root is made, its
# packages installed and the suite built, which is most of the demo's few
# minutes (and no time-warp test runs yet). The demo's output is kept and
# shown when it ends, so the two do not mix. Its root stays in roots[], so
# cleanup() unmounts and removes it whatever happens.
run_all() {
	local r demo_root_dir log demo_pid rc=0
	demo_root
	demo_root_dir=$r
	log=$(mktemp /tmp/adfs-credd-bare-demo.XXXXXX)
	(demo_in "$demo_root_dir") >"$log" 2>&1 &
	demo_pid=$!
	# A failed check ends the run: the demo is stopped first, and
	# everything it left running in its root is killed by cleanup().
	trap 'kill "$demo_pid" 2>/dev/null; wait "$demo_pid" 2>/dev/null; cleanup' EXIT
	say "demo: runs beside the check; its output follows when both end"
	run_check
	wait "$demo_pid" || rc=$?
	trap cleanup EXIT
	sed 's/^/[demo] /' "$log"
	rm -f "$log"
	if [ "$rc" != 0 ]; then
		say "demo: FAILED (exit $rc)"
		return "$rc"
	fi
}

case $what in
demo) run_demo ;;
check) run_check ;;
check-user) run_check_user ;;
all) run_all ;;
*) echo "usage: tests/bare/run.sh [demo|check|all|check-user]" >&2; exit 2 ;;
esac
say "done"
