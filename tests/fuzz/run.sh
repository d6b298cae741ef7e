#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (WITH_FUZZERS=ON) into
# build-fuzz/ and runs each for a bounded time on a scratch copy of its
# seed corpus, with its dictionary, a memory limit and a per-input timeout.
# Prints one summary line per fuzzer and exits non-zero if any of them
# found a crash, a leak, a sanitizer report, a timeout or an out-of-memory.
#
#   tests/fuzz/run.sh [SECONDS] [--merge] [FUZZER...]
#
# SECONDS: per fuzzer (default 60). FUZZER: saml sts-xml adfs-page wstrust
# conf http http-mhd aws-config (default: all; http-mhd is http end to end through
# libmicrohttpd, on the same corpus and dictionary). The seeds are
# tests/fuzz/corpus/<name>/ and
# the unit-test fixtures unit-seeds.txt names for <name> (tests/unit/data).
# --merge: afterwards, add the inputs that found new coverage to
# tests/fuzz/corpus/<name>/ (libFuzzer -merge=1; never a copy of a unit
# seed); off by default so that the committed corpus only grows when
# someone means it.
# Reproducers are kept in build-fuzz/fuzz-out/<name>/artifacts/; copy one
# into tests/fuzz/corpus/<name>/ once fixed so ctest replays it forever.
# Environment: BUILD (default build-fuzz), RSS_LIMIT_MB (2048),
# TIMEOUT (per input, s; 10), JOBS (2).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build-fuzz}
rss=${RSS_LIMIT_MB:-2048}
timeout=${TIMEOUT:-10}
jobs=${JOBS:-2}
seconds=60
merge=0
all=(saml sts-xml adfs-page wstrust conf http http-mhd aws-config)
sel=()

for a in "$@"; do
	case $a in
	--merge) merge=1 ;;
	''|*[!0-9]*) sel+=("$a") ;;
	*) seconds=$a ;;
	esac
done
[ ${#sel[@]} -eq 0 ] && sel=("${all[@]}")
for n in "${sel[@]}"; do
	[ -d "$here/corpus/$n" ] || { echo "run.sh: no fuzzer named $n (${all[*]})" >&2; exit 2; }
done

command -v clang >/dev/null || { echo "run.sh: clang is missing (scripts/install-deps.sh)" >&2; exit 2; }
if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DWITH_FUZZERS=ON \
		-DBUILD_TESTING=OFF >/dev/null || exit 2
fi
targets=()
for n in "${sel[@]}"; do targets+=("fuzz-$n"); done
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$build/fuzz-build.log" 2>&1 ||
	{ tail -40 "$build/fuzz-build.log" >&2; echo "run.sh: build failed" >&2; exit 2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The unit-test fixtures that seed fuzzer $1, as paths.
unit_seeds() {
	sed -n "s|^$1  *\([^ ]*\)\$|$root/tests/unit/data/\1|p" "$here/unit-seeds.txt"
}

# fuzz_one NAME: one fuzzer for $seconds; its result line goes to
# $out/result, its exit status to $out/rc.
fuzz_one() {
	local n=$1 out=$build/fuzz-out/$1 rc execs rate crashes result
	local max_len=()
	rm -rf "$out"
	mkdir -p "$out/corpus" "$out/artifacts"
	cp "$here/corpus/$n"/* "$out/corpus/"
	unit_seeds "$n" | xargs -r cp -t "$out/corpus/"
	[ "${n%-mhd}" = http ] && max_len=(-max_len=16384)
	"$build/tests/fuzz/fuzz-$n" "$out/corpus" \
		-dict="$here/$n.dict" -max_total_time="$seconds" \
		-rss_limit_mb="$rss" -malloc_limit_mb="$rss" -timeout="$timeout" \
		-artifact_prefix="$out/artifacts/" -print_final_stats=1 \
		"${max_len[@]}" >"$out/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log" | tail -1)
	crashes=$(find "$out/artifacts" -type f | wc -l)
	if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		result="FAILED (exit $rc; log $out/log)"
		[ "$rc" -ne 0 ] || rc=1
	else
		result=ok
	fi
	printf '%-10s %10s %8s %8s %s\n' "$n" "${execs:-?}" "${rate:-?}" "$crashes" "$result" >"$out/result"
	echo "$rc" >"$out/rc"
}

# $jobs fuzzers at a time (each is one process on one core, so each still
# gets its $seconds of a core); the results in the order of sel.
failed=0
printf '%-10s %10s %8s %8s %s\n' fuzzer execs exec/s crashes result
running=0
for n in "${sel[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	fuzz_one "$n" &
	running=$((running + 1))
done
wait
for n in "${sel[@]}"; do
	out=$build/fuzz-out/$n
	cat "$out/result"
	rc=$(cat "$out/rc")
	if [ "$rc" -ne 0 ]; then
		failed=1
		grep -m3 -E 'ERROR:|runtime error|invariant failed|did not settle' "$out/log" | sed 's/^/    /' >&2
	fi
	max_len=()
	[ "${n%-mhd}" = http ] && max_len=(-max_len=16384)
	if [ "$merge" = 1 ] && [ "$rc" -eq 0 ]; then
		# Merged into the seeds (corpus and unit seeds) in a scratch
		# directory: what it adds goes to the corpus.
		mkdir -p "$out/merged"
		cp "$here/corpus/$n"/* "$out/merged/"
		unit_seeds "$n" | xargs -r cp -t "$out/merged/"
		ls "$out/merged" >"$out/merged.before"
		if "$build/tests/fuzz/fuzz-$n" -merge=1 -rss_limit_mb="$rss" \
			-timeout="$timeout" "${max_len[@]}" \
			"$out/merged" "$out/corpus" >"$out/merge.log" 2>&1; then
			ls "$out/merged" | grep -vxF -f "$out/merged.before" |
				sed "s|^|$out/merged/|" | xargs -r cp -t "$here/corpus/$n/"
		else
			echo "run.sh: merge failed for $n (see $out/merge.log)" >&2
			failed=1
		fi
	fi
done
exit $failed
