#!/usr/bin/env bash
# Static analysis: clang-tidy (.clang-tidy) and cppcheck
# (scripts/cppcheck/adfs-credd.cfg, .cppcheck-suppressions) over daemon/,
# tests/unit/ and tests/fuzz/, from a CMake compile database.
#
#   scripts/lint.sh [BUILD_DIR]     default build-lint; JOBS=2 by default
#
# Configures BUILD_DIR for its compile_commands.json (no build is needed).
# Prints a summary; exits 1 on any finding, 2 when a tool is
# missing. See docs/internals/static-analysis.md.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build-lint}
jobs=${JOBS:-2}
out=$build/lint
tidy=${CLANG_TIDY:-clang-tidy}
run_tidy=${RUN_CLANG_TIDY:-run-clang-tidy}

for t in "$tidy" "$run_tidy" cppcheck jq cmake; do
	command -v "$t" >/dev/null ||
		{ echo "lint: $t not found (scripts/install-deps.sh)" >&2; exit 2; }
done

# (Re)configure every time: a few seconds, and the globs then see every
# source file added since (nothing is built).
if [ -f "$build/CMakeCache.txt" ]; then
	cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
else
	cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
		-DCMAKE_BUILD_TYPE=Debug -DWERROR=ON >/dev/null
fi

# Only our sources: not the test-only LD_PRELOAD shim (tests/timewarp),
# not anything CMake generates.
rm -rf "$out"
mkdir -p "$out/cppcheck-cache"
jq --arg root "$root" '[.[] | select(.file | startswith($root + "/daemon/")
	or startswith($root + "/tests/unit/")
	or startswith($root + "/tests/fuzz/"))]' \
	"$build/compile_commands.json" >"$out/compile_commands.json"
nfiles=$(jq length "$out/compile_commands.json")
echo "lint: $nfiles files, $jobs jobs ($("$tidy" --version | grep -o 'version [0-9.]*' | head -1), $(cppcheck --version))"

# clang-tidy: one process per file (the clang 14 analyzer keeps state
# between files of one process: false va_list reports).
tidy_rc=0
"$run_tidy" -clang-tidy-binary "$(command -v "$tidy")" -p "$out" \
	-j "$jobs" -quiet >"$out/clang-tidy.log" 2>&1 || tidy_rc=$?
sed -i 's/\x1b\[[0-9;]*m//g' "$out/clang-tidy.log" # run-clang-tidy colours
grep -E '^/.*:[0-9]+:[0-9]+: (warning|error):' "$out/clang-tidy.log" |
	sed "s|^$root/||" | sort -u >"$out/clang-tidy.findings" || true

# cppcheck: the project's cfg tells it about the _cleanup_ macros.
cpp_rc=0
cppcheck --project="$out/compile_commands.json" \
	--cppcheck-build-dir="$out/cppcheck-cache" -j "$jobs" --quiet \
	--enable=warning,performance,portability --inconclusive \
	--library=posix --library=gnu --library=libcurl --library=openssl \
	--library=scripts/cppcheck/adfs-credd.cfg \
	--inline-suppr --suppressions-list=.cppcheck-suppressions \
	--error-exitcode=1 \
	--template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
	>"$out/cppcheck.log" 2>&1 || cpp_rc=$?
grep -E '^[^ :]+:[0-9]+:[0-9]+: ' "$out/cppcheck.log" |
	sed "s|^$root/||" | sort -u >"$out/cppcheck.findings" || true

n_tidy=$(wc -l <"$out/clang-tidy.findings")
n_cpp=$(wc -l <"$out/cppcheck.findings")
echo
echo "== clang-tidy: $n_tidy finding(s) (exit $tidy_rc)"
if [ "$n_tidy" -gt 0 ]; then
	cat "$out/clang-tidy.findings"
	echo "-- by check:"
	grep -oE '\[[^]]+\]$' "$out/clang-tidy.findings" |
		sed 's/,-warnings-as-errors//' | sort | uniq -c | sort -rn
elif [ "$tidy_rc" -ne 0 ]; then
	tail -n 30 "$out/clang-tidy.log"
fi
echo "== cppcheck: $n_cpp finding(s) (exit $cpp_rc)"
if [ "$n_cpp" -gt 0 ]; then
	cat "$out/cppcheck.findings"
elif [ "$cpp_rc" -ne 0 ]; then
	tail -n 30 "$out/cppcheck.log"
fi
echo "== logs: $out/clang-tidy.log $out/cppcheck.log"

if [ "$tidy_rc" -ne 0 ] || [ "$cpp_rc" -ne 0 ] ||
	[ "$n_tidy" -gt 0 ] || [ "$n_cpp" -gt 0 ]; then
	echo "lint: FAILED"
	exit 1
fi
echo "lint: OK (clang-tidy and cppcheck clean)"
