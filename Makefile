# The two commands of the README: `make run` and `make test`.
BUILD_DIR ?= build
DATA_DIR ?= data
CTEST_PARALLEL ?= 2
# `make run` passes --listen and --db only when asked to (make run LISTEN=... DB=...), so that
# WEBHOOKD_LISTEN, WEBHOOKD_DB and every other WEBHOOKD_* variable work as with the binary.
# Without DB or WEBHOOKD_DB the database is $(DATA_DIR)/webhookd.db.
LISTEN ?=
DB ?=
RUN_FLAGS = $(if $(LISTEN),--listen $(LISTEN)) \
            $(if $(DB),--db $(DB),$(if $(WEBHOOKD_DB),,--db sqlite:$(DATA_DIR)/webhookd.db))

.PHONY: run test build bootstrap clean format interop-deps demo sanitize asan asan-build asan-suite \
        tsan fuzz fuzz-run

run: build
	mkdir -p $(DATA_DIR)
	$(BUILD_DIR)/webhookd serve $(strip $(RUN_FLAGS))

test: build interop-deps
	# The PostgreSQL tests need a server: scripts/with-postgres runs ctest beside a throwaway one.
	scripts/with-postgres ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(CTEST_PARALLEL)

# The whole system in under a minute: server, receivers, the 12 sample events, retries.
demo: build
	$(BUILD_DIR)/webhookd demo

build: bootstrap
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR)

bootstrap:
	scripts/bootstrap

# The suite under sanitizers (docs/testing.md). One clang build serves ASan + UBSan and the
# fuzzers: every library is instrumented for both, and the fuzz targets link libFuzzer.
# install_example is left out: it builds another project against the installed library, which
# would carry the instrumentation without the sanitizer's runtime.
# -O1 and line tables only (clang's -gline-tables-only, GCC's -g1): symbolized stacks at a
# fraction of RelWithDebInfo's compile time.
SANITIZED_BUILD = -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEBHOOKD_BENCH=OFF
# The instrumented binaries run several times slower: the integration harness waits longer.
SANITIZED_CTEST = WEBHOOKD_TEST_TIMEOUT_SCALE=3 \
                  scripts/with-postgres ctest --output-on-failure -j $(CTEST_PARALLEL) \
                  -E '^install_example$$'
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
SANITIZE_CXX ?= clang++-14
FUZZ_SECONDS ?= 60

# `make sanitize` is CI's second step: the suite under ASan + UBSan, then every fuzz target for
# FUZZ_SECONDS on its corpus, from one build.
sanitize: asan-build interop-deps
	$(MAKE) --no-print-directory asan-suite fuzz-run

asan: asan-build interop-deps
	$(MAKE) --no-print-directory asan-suite

# Every libFuzzer target (fuzz/) for FUZZ_SECONDS each; crashes are kept in
# $(ASAN_DIR)/crashes/<target>/ with the command that reproduces them.
fuzz: bootstrap
	$(ASAN_CONFIGURE)
	cmake --build $(ASAN_DIR) --target fuzz_targets
	$(MAKE) --no-print-directory fuzz-run

ASAN_CONFIGURE = cmake -S . -B $(ASAN_DIR) $(SANITIZED_BUILD) \
                 -DCMAKE_CXX_FLAGS_RELWITHDEBINFO='-O1 -gline-tables-only -DNDEBUG' \
                 -DCMAKE_CXX_COMPILER=$(SANITIZE_CXX) -DWEBHOOKD_SANITIZE=address,undefined \
                 -DWEBHOOKD_FUZZ=ON

asan-build: bootstrap
	$(ASAN_CONFIGURE)
	cmake --build $(ASAN_DIR)

# Any report stops the process with its stack, symbolized by Debian's llvm-14 (bootstrap).
SYMBOLIZER = external_symbolizer_path=/usr/lib/llvm-14/bin/llvm-symbolizer
ASAN_ENV = ASAN_OPTIONS=detect_stack_use_after_return=1:$(SYMBOLIZER) \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:$(SYMBOLIZER)

asan-suite:
	$(ASAN_ENV) $(SANITIZED_CTEST) --test-dir $(ASAN_DIR)

fuzz-run:
	$(ASAN_ENV) scripts/run-fuzzers $(ASAN_DIR) $(FUZZ_SECONDS)

# TSan stays on GCC, the compiler of `make build`; it cannot be combined with ASan.
tsan: bootstrap interop-deps
	cmake -S . -B $(TSAN_DIR) $(SANITIZED_BUILD) -DCMAKE_CXX_FLAGS_RELWITHDEBINFO='-O1 -g1 -DNDEBUG' \
	  -DWEBHOOKD_SANITIZE=thread
	cmake --build $(TSAN_DIR)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp \
	  $(SANITIZED_CTEST) --test-dir $(TSAN_DIR)

# The interop tests' npm packages, exactly as pinned in tests/interop/package-lock.json.
interop-deps: bootstrap
	cd tests/interop && npm ci --no-audit --no-fund

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
