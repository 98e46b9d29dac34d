# Thin wrapper over CMake so a newcomer needs two commands: make run, make test.
BUILD      ?= build
ASAN_BUILD ?= build-asan
DATA       ?= ./var
LISTEN     ?= 127.0.0.1:9470
JOBS       ?= $(shell nproc)
MAKEFLAGS  += --no-print-directory

.PHONY: all deps build run test test-asan bench clean format install

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

test-asan: deps
	@scripts/deps.sh test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVIGIL_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -j 2

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
	rm -rf $(BUILD) $(ASAN_BUILD)
