# Convenience wrapper around CMake (the real build). `make demo` shows the
# daemon serving real SDKs; `make check` runs every test. Both install
# missing Debian packages first: the demo only what it uses
# (scripts/install-deps.sh --demo), check the whole test toolchain. On a
# machine without make, `./run demo` and `./run check` install it first.
# ASAN=1 builds with ASan+UBSan.

ASAN ?= 0
BUILD_TYPE ?= RelWithDebInfo
ifeq ($(ASAN),1)
BUILD ?= build-asan
CMAKE_EXTRA := -DWITH_ASAN=ON
else
BUILD ?= build
CMAKE_EXTRA :=
endif
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PYTHON := /usr/bin/python3

# Targets run in the order given (deps before the configure): CMake runs
# the build itself in parallel.
.NOTPARALLEL:

.PHONY: all deps deps-demo build check check-valgrind demo clean

all: build

deps:
	@scripts/install-deps.sh

deps-demo:
	@scripts/install-deps.sh --demo

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DWERROR=ON $(CMAKE_EXTRA)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The tests run as root: some start clients as another user, run the
# daemon as nobody and read its memory, install the .deb or boot a
# container. Not root: through sudo when there is one (else the root-only
# tests fail and say so).
AS_ROOT := $(shell [ "$$(id -u)" -eq 0 ] || ! command -v sudo >/dev/null 2>&1 || echo sudo)

check: build
	$(AS_ROOT) ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# Every integration test with each daemon under valgrind memcheck
# (tests/integration/harness.py), but for two kinds that run plain and
# under ASan only: the time-warp tests, whose fast clock turns valgrind's
# slowdown into hours of simulated latency, and TestCoreDump, which reads
# the daemon's whole memory: under valgrind that memory is laid out by
# valgrind (its allocator, stacks and code cache), not the process the test
# vouches for, and it finds the replaced session tokens in it. Also left
# out: test_completion and test_aws_config, which test the client and the
# shells (their daemons only answer status and credential requests, as in
# every other test here).
VALGRIND_EXCLUDE := test_completion|test_aws_config|test_long_job|test_refresh_timing|TestStsThrottledOnTimer|TestFaultsNearRefresh|scenarios\.Test(LongStsOutage|SuspendResume|MfaPushTimeout)|TestCoreDump|emulators-selftest|kmsi\.|mfa_renewal\.|horizon\.Test(Sso|Kmsi|Password|WsTrust|NotifyBefore|Kerberos)
check-valgrind: build
	$(AS_ROOT) env ADFS_CREDD_VALGRIND=1 ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) \
		-L integration -E '$(VALGRIND_EXCLUDE)' $(CTEST_ARGS)

# The demo builds the daemon and the CLI only, not the tests.
demo: deps-demo $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target adfs-credd adfs-credctl
	$(PYTHON) tests/integration/demo.py --build $(BUILD)

clean:
	rm -rf build build-asan
