#!/usr/bin/env bash
# Runs every benchmark of issue 8 and prints the figures, the ratios and
# which targets were met (docs/PERFORMANCE.md). Not part of `make check`:
# it measures, it does not pass or fail (exit status 0 unless a step broke).
#
#   tests/bench/run.sh                 everything, with the 10-minute soak
#   SOAK_SECONDS=60 tests/bench/run.sh a short soak
#   tests/bench/run.sh http boto3      some sections (http boto3 memory idle
#                                      audit soak callgrind slowloris)
#   tests/bench/run.sh slowloris       600 trickling connections of another
#                                      uid vs the owner's reads (root; not in
#                                      the default set)
#
# Builds build-bench (RelWithDebInfo, -DWERROR=ON) unless BUILD_DIR names
# another build. Knobs: BENCH_SECONDS (10), IDLE_SECONDS (60), BOTO3_RUNS
# (20), CALLGRIND_REQUESTS (2000), BENCH_JSON (write the figures as JSON).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build-bench}

bash "$here/install-deps.sh"
if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWERROR=ON \
		-DBUILD_TESTING=OFF >/dev/null
fi
cmake --build "$build" -j "${JOBS:-2}" --target adfs-credd adfs-credctl >/dev/null

export ADFS_CREDD_BUILD=$build
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(http boto3 memory idle audit soak callgrind)
py=()
cg=0
sl=0
for s in "${sections[@]}"; do
	if [ "$s" = callgrind ]; then cg=1
	elif [ "$s" = slowloris ]; then sl=1
	else py+=("$s"); fi
done
if [ ${#py[@]} -gt 0 ]; then
	/usr/bin/python3 "$here/bench.py" "${py[@]}"
fi
if [ "$cg" = 1 ]; then
	echo
	echo "== callgrind: instructions per request (repeatable on a busy machine) =="
	/usr/bin/python3 "$here/callgrind.py" "${CALLGRIND_REQUESTS:-2000}"
fi
if [ "$sl" = 1 ]; then
	echo
	/usr/bin/python3 "$here/slowloris.py"
fi
