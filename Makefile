# Thin wrapper over CMake so a newcomer needs two commands: make run, make test.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# Seconds per fuzz target: `make fuzz` (make test runs each for FUZZ_TEST_SECONDS).
FUZZ_SECONDS ?= 600
FUZZ_TEST_SECONDS ?= 30
DATA       ?= ./var
LISTEN     ?= 127.0.0.1:9470
JOBS       ?= $(shell nproc)
MAKEFLAGS  += --no-print-directory

.PHONY: all deps build run test test-asan test-long test-valgrind soak fuzz bench clean format install

all: build

deps:
	@scripts/deps.sh build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@mkdir -p $(DATA)
	@echo "vigild: starting on http://$(LISTEN)/ with SQLite in $(DATA) (Ctrl-C stops it)"
	@exec $(BUILD)/vigild --listen $(LISTEN) --data $(DATA) --print-token

test: build
	@scripts/deps.sh test
	@cd $(BUILD) && ctest --output-on-failure -j 2
	@FUZZ_BUILD=$(abspath $(FUZZ_BUILD)) scripts/fuzz.sh $(FUZZ_TEST_SECONDS)

# libFuzzer + ASan + UBSan on every parser (tests/fuzz), in $(FUZZ_BUILD).
fuzz: deps
	@scripts/deps.sh test
	@FUZZ_BUILD=$(abspath $(FUZZ_BUILD)) scripts/fuzz.sh $(FUZZ_SECONDS)

test-asan: deps
	@scripts/deps.sh test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVIGIL_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -j 2

# The long parts of hardening, one command each (not in `make test`: minutes each).
LONG_ENV = VIGILD=$(CURDIR)/$(BUILD)/vigild VIGIL_CLI=$(CURDIR)/$(BUILD)/vigil \
	PYTHONPATH=$(CURDIR)/tests/integration
test-long: build
	@scripts/deps.sh test
	$(LONG_ENV) VIGIL_CRASH_CYCLES=100 python3 tests/integration/test_crash.py
	$(LONG_ENV) VIGIL_CRASH_PG_CYCLES=30 python3 tests/integration/test_crash_pg.py
	$(LONG_ENV) VIGIL_IO_FULL_S=120 python3 tests/integration/test_io_faults.py

# Every unit test binary under valgrind memcheck: 0 errors, nothing definitely lost.
test-valgrind: build
	@scripts/deps.sh test
	@scripts/valgrind.sh $(BUILD)

# bench/soak.sh: SOAK_MIN=30 by default; RSS growth after warm-up must stay in a margin.
soak: build
	@bench/soak.sh

bench: build
	@scripts/deps.sh bench
	@bench/compare.sh

# PREFIX=/usr/local DESTDIR= : vigild, vigil, libvigil (+ vigil.h, vigil.pc), the systemd
# unit, an example config and the man pages.
PREFIX ?= /usr/local
install: build
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target vigil_archive
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
