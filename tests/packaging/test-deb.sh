#!/usr/bin/env bash
# Builds the Debian package in a temporary build directory, installs it,
# checks what it installed (binaries, man pages, example config, units,
# shell completions) and runs the installed daemon once, then removes the
# package again.
#
#   tests/packaging/test-deb.sh [SOURCE_DIR]
#
# The machine's own packages are never touched: the script runs in a mount
# namespace of its own (unshare --mount) in which /usr, /etc and /var are
# overlays whose changes go to the temporary directory and vanish with it.
# dpkg installs into what looks like the real system (its database, its
# maintainer scripts, man-db's trigger); an adfs-credd already installed on
# the machine is purged inside the namespace first, so the test installs on
# a system without it, as a user's first install does.
# Needs root (dpkg -i, mounts); exits 77 (skipped) without it or without
# the tools. Nothing is written into the source tree. Prints "N passed, M
# failed" and exits non-zero when a check failed.
set -uo pipefail

SKIP=77
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "${1:-$here/../..}" && pwd)
pkg=adfs-credd
passed=0
failed=0
daemon_pid=

log() { printf '%s\n' "$*"; }
pass() { passed=$((passed + 1)); log "PASS: $1"; }
fail() { failed=$((failed + 1)); log "FAIL: $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/    /'; }
# check NAME CMD...: passes when CMD exits 0
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
}

if [ "$(id -u)" -ne 0 ]; then
	log "SKIP: dpkg -i needs root"
	exit $SKIP
fi
for tool in cmake cpack dpkg dpkg-deb dpkg-shlibdeps unshare; do
	if ! command -v "$tool" >/dev/null; then
		log "SKIP: $tool is not installed"
		exit $SKIP
	fi
done

# The rest runs in a private mount namespace (see the top).
# (unshare execs in place: the same pid, which tells the copy inside.)
if [ "${ADFS_CREDD_DEB_NS:-}" != "$$" ]; then
	exec unshare --mount --propagation private \
		env ADFS_CREDD_DEB_NS=$$ "$BASH" "${BASH_SOURCE[0]}" "$src"
fi

tmp=$(mktemp -d /tmp/adfs-credd-deb.XXXXXX)
overlays=()
cleanup() {
	local i
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill -TERM "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	# No dpkg -r needed: the overlays go, and with them the install.
	for ((i = ${#overlays[@]} - 1; i >= 0; i--)); do
		umount -l "${overlays[i]}" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
	log ""
	log "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

# ---- build the package ----
build=$tmp/build
log "Building $pkg from $src in $build"
if ! cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
	-DBUILD_TESTING=OFF >"$tmp/cmake.log" 2>&1 ||
	! cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
		>>"$tmp/cmake.log" 2>&1; then
	fail "cmake configure and build" "$(tail -n 30 "$tmp/cmake.log")"
	finish
fi
pass "cmake configure and build (Release, BUILD_TESTING=OFF)"

if ! (cd "$build" && cpack -G DEB) >"$tmp/cpack.log" 2>&1; then
	fail "cpack -G DEB" "$(tail -n 30 "$tmp/cpack.log")"
	finish
fi
shopt -s nullglob
debs=("$build"/${pkg}_*.deb)
shopt -u nullglob
if [ ${#debs[@]} -ne 1 ]; then
	fail "cpack -G DEB made one ${pkg}_*.deb" "$(ls -l "$build")"
	finish
fi
deb=${debs[0]}
pass "cpack -G DEB made $(basename "$deb")"

version=$(dpkg-deb -f "$deb" Version)
depends=$(dpkg-deb -f "$deb" Depends)
log "    Depends: $depends"
check "package name, section and version" \
	test "$(dpkg-deb -f "$deb" Package)/$(dpkg-deb -f "$deb" Section)" = "$pkg/admin" -a -n "$version"
# dpkg-shlibdeps ran: the libraries the binaries link are there.
check "Depends computed by dpkg-shlibdeps" \
	bash -c '[[ $1 == *libc6* && $1 == *libmicrohttpd* && $1 == *libcurl* && $1 == *libyaml* ]]' _ "$depends"
if [ -n "$(git -C "$src" status --porcelain --ignored=no -- . 2>/dev/null |
	grep -E '(^|/)(_CPack_Packages|CMakeCache\.txt|[^/]*\.deb)$')" ]; then
	fail "no build output in the source tree"
else
	pass "no build output in the source tree"
fi

# ---- a private /usr, /etc and /var ----
for d in usr etc var; do
	mkdir -p "$tmp/overlay/$d.upper" "$tmp/overlay/$d.work"
	if ! out=$(mount -t overlay "adfs-credd-deb-$d" \
		-o "lowerdir=/$d,upperdir=$tmp/overlay/$d.upper,workdir=$tmp/overlay/$d.work" \
		"/$d" 2>&1); then
		fail "an overlay on /$d in the test's mount namespace" "$out"
		finish
	fi
	overlays+=("/$d")
done
pass "dpkg works on overlays of /usr, /etc and /var (this machine's packages stay as they are)"
if dpkg-query -W "$pkg" >/dev/null 2>&1; then
	log "    $pkg is installed on this machine: purged inside the overlays first"
	check "dpkg --purge $pkg (the machine's, inside the overlays)" dpkg --purge "$pkg"
	check "$pkg is not installed in the overlays" \
		bash -c '! dpkg-query -W -f="\${Status}" "$1" 2>/dev/null | grep -q "ok installed"' _ "$pkg"
fi

# ---- install ----
if ! dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1; then
	log "    dpkg -i left dependencies missing; apt-get install -f"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -f -y \
		>>"$tmp/dpkg.log" 2>&1; then
		fail "dpkg -i $(basename "$deb")" "$(tail -n 30 "$tmp/dpkg.log")"
		finish
	fi
fi
check "dpkg -i $(basename "$deb")" \
	bash -c "dpkg-query -W -f='\${Status}' $pkg | grep -q 'ok installed'"

bin=/usr/bin/adfs-credd
ctl=/usr/bin/adfs-credctl
check "binaries in /usr/bin" test -x "$bin" -a -x "$ctl"
out=$("$bin" --version 2>&1)
check "adfs-credd --version says $version" test "$out" = "adfs-credd $version"
out=$("$ctl" --version 2>&1)
check "adfs-credctl --version says $version" test "$out" = "adfs-credctl $version"

for page in 1:adfs-credctl 5:adfs-credd.yaml 8:adfs-credd; do
	sec=${page%%:*} name=${page#*:}
	file=/usr/share/man/man$sec/$name.$sec
	check "man page $file installed" test -f "$file"
	if command -v man >/dev/null; then
		out=$(man -w "$sec" "$name" 2>&1)
		check "man -w $sec $name finds it" test "$out" = "$file"
	fi
	if command -v mandoc >/dev/null; then
		check "mandoc -Tlint -W warning $name.$sec is clean" \
			bash -c 'out=$(mandoc -Tlint -W warning "$1" 2>&1); [ -z "$out" ] || { echo "$out"; exit 1; }' _ "$file"
	fi
done
example=/usr/share/doc/$pkg/adfs-credd.yaml.example
check "example config in /usr/share/doc/$pkg" test -f "$example"
for unit in adfs-credd.service adfs-credd@.service adfs-credd.socket \
	adfs-credd-control.socket adfs-credd-diag.socket adfs-credd-diag@.socket \
	adfs-credd-imds.socket; do
	check "user unit /usr/lib/systemd/user/$unit installed" \
		test -f "/usr/lib/systemd/user/$unit"
done
# Shell completions, each where its shell looks by itself.
bash_compl=/usr/share/bash-completion/completions/adfs-credctl
zsh_compl=/usr/share/zsh/vendor-completions/_adfs-credctl
fish_compl=/usr/share/fish/vendor_completions.d/adfs-credctl.fish
for f in "$bash_compl" "$zsh_compl" "$fish_compl"; do
	check "completion $f installed" test -f "$f"
done
if [ -f /usr/share/bash-completion/bash_completion ]; then
	# As an interactive bash: the machinery finds it on first use (with
	# no user completion dir in the way).
	check "bash-completion loads adfs-credctl's completion from $bash_compl" \
		env -u BASH_COMPLETION_USER_DIR XDG_DATA_HOME="$tmp/nothing" \
		bash --norc --noprofile -c 'source /usr/share/bash-completion/bash_completion &&
			__load_completion adfs-credctl &&
			[ "$(complete -p adfs-credctl)" = "complete -F _adfs_credctl adfs-credctl" ] &&
			shopt -s extdebug && [ "$(declare -F _adfs_credctl | cut -d" " -f3-)" = "$1" ]' _ "$bash_compl"
fi
command -v zsh >/dev/null && check "zsh -n $zsh_compl" zsh -n "$zsh_compl"
command -v fish >/dev/null && check "fish --no-execute $fish_compl" fish --no-execute "$fish_compl"
# The units name the binary where the .deb puts it (/usr/bin), not where a
# plain `cmake --install` of the same build would (/usr/local/bin): that
# was a 203/EXEC under a real systemd.
for unit in adfs-credd.service adfs-credd@.service; do
	check "$unit: ExecStart= and ExecStartPre= run $bin" \
		bash -c '[ "$(grep -c "^ExecStart\(Pre\)\?=$2\( \|$\)" "$1")" = 2 ] &&
			! grep -q /usr/local "$1" || { grep ^Exec "$1"; exit 1; }' \
		_ "/usr/lib/systemd/user/$unit" "$bin"
done
check "ExecReload= needs no procps (/bin/kill)" \
	bash -c '! grep -q "^ExecReload=/bin/kill" /usr/lib/systemd/user/adfs-credd.service'

# ---- configuration ----
cp "$example" "$tmp/example.yaml"
if ! "$bin" --check-config -c "$tmp/example.yaml" >/dev/null 2>&1; then
	# Fill in placeholders that validation may refuse.
	sed -i -e 's|^\(  url:\).*|\1 https://adfs.example.com|' \
		-e "s|^\\(  username:\\).*|\\1 'EXAMPLE\\\\alice'|" "$tmp/example.yaml"
fi
out=$("$bin" --check-config -c "$tmp/example.yaml" 2>&1)
check "adfs-credd --check-config accepts the installed example" \
	test "$out" = "configuration OK"

printf 'adfs:\n  url: http://adfs.example.com\n' >"$tmp/bad.yaml"
out=$("$bin" --check-config -c "$tmp/bad.yaml" 2>&1)
rc=$?
check "adfs-credd --check-config rejects a bad config (exit 1, PATH:LINE:COL)" \
	bash -c '[ "$1" = 1 ] && grep -q "^$2:2:8: adfs.url must be an https:// URL" <<<"$3"' _ "$rc" "$tmp/bad.yaml" "$out"

# ---- run the installed daemon ----
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
	echo $((20000 + RANDOM % 20000)))
state=$tmp/state
conf=$tmp/config.yaml
cat >"$conf" <<EOF
adfs:
  url: https://adfs.example.com
  username: 'EXAMPLE\\alice'
roles:
  - name: prod
    arn: arn:aws:iam::123456789012:role/ADFS-Production
serve:
  ecs: 127.0.0.1:$port
state_dir: $state
EOF
"$bin" -c "$conf" >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
	[ -S "$state/control.sock" ] && break
	kill -0 "$daemon_pid" 2>/dev/null || break
	sleep 0.1
done
check "the daemon creates its control socket" test -S "$state/control.sock"
check "state_dir is 0700, token and control.sock 0600" \
	test "$(stat -c %a "$state" "$state/token" "$state/control.sock" 2>&1 | tr '\n' ' ')" = "700 600 600 "
check "the token is 43 characters of base64url" \
	bash -c '[[ $(cat "$1") =~ ^[A-Za-z0-9_-]{43}$ ]]' _ "$state/token"

out=$(timeout 20 "$ctl" -c "$conf" status 2>&1)
rc=$?
check "adfs-credctl -c CONFIG status answers (exit 4: not signed in)" \
	bash -c '[ "$1" = 4 ] && grep -q "^not signed in" <<<"$2"' _ "$rc" "$out"
[ "$rc" = 4 ] || log "$out"

if command -v curl >/dev/null; then
	out=$(curl -s -m 10 -w ' %{http_code}' \
		-H "Authorization: $(cat "$state/token")" \
		"http://127.0.0.1:$port/role/prod" 2>&1)
	check "ECS endpoint answers 503 NotSignedIn" \
		bash -c '[[ $1 == *\"NotSignedIn\"*" 503" ]]' _ "$out"
fi

kill -TERM "$daemon_pid"
rc=0
for _ in $(seq 100); do
	kill -0 "$daemon_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$daemon_pid" 2>/dev/null; then
	fail "SIGTERM stops the daemon within 10 s"
	kill -KILL "$daemon_pid" 2>/dev/null
	wait "$daemon_pid" 2>/dev/null
else
	wait "$daemon_pid"
	rc=$?
	check "SIGTERM stops the daemon with exit 0" test "$rc" = 0
fi
daemon_pid=
check "the control socket is removed at exit" test ! -e "$state/control.sock"
[ "$failed" -eq 0 ] || { log "daemon log:"; sed 's/^/    /' "$tmp/daemon.log"; }

# ---- remove ----
if dpkg -r "$pkg" >"$tmp/dpkg-r.log" 2>&1; then
	check "dpkg -r $pkg removes the files" \
		test ! -e "$bin" -a ! -e "$ctl" -a ! -e /usr/share/man/man8/adfs-credd.8 \
		-a ! -e "$bash_compl" -a ! -e "$zsh_compl" -a ! -e "$fish_compl"
else
	fail "dpkg -r $pkg" "$(cat "$tmp/dpkg-r.log")"
fi

finish
