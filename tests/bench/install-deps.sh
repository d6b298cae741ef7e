#!/usr/bin/env bash
# Installs what the benchmarks (tests/bench/run.sh) need: the main suite's
# packages plus wrk as the load generator, nginx as the static-file
# baseline, valgrind (callgrind) and strace. Only missing packages are
# installed, and nginx's system service is not started (the bench runs its
# own unprivileged instance on a free loopback port).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../../scripts/install-deps.sh" wrk nginx valgrind strace procps
