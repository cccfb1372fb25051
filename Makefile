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

.PHONY: run test build bootstrap clean format interop-deps demo asan tsan fuzz

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

# The suite under sanitizers (docs/testing.md). GCC, the compiler of `make build`, instruments it.
# install_example is left out: it builds another project against the installed library, which
# would carry the instrumentation without the sanitizer's runtime.
SANITIZED_BUILD = -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEBHOOKD_BENCH=OFF
# The instrumented binaries run several times slower: the integration harness waits longer.
SANITIZED_CTEST = WEBHOOKD_TEST_TIMEOUT_SCALE=3 \
                  scripts/with-postgres ctest --output-on-failure -j $(CTEST_PARALLEL) \
                  -E '^install_example$$'
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan

asan: bootstrap interop-deps
	cmake -S . -B $(ASAN_DIR) $(SANITIZED_BUILD) -DWEBHOOKD_SANITIZE=address,undefined
	cmake --build $(ASAN_DIR)
	ASAN_OPTIONS=detect_stack_use_after_return=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(SANITIZED_CTEST) --test-dir $(ASAN_DIR)

tsan: bootstrap interop-deps
	cmake -S . -B $(TSAN_DIR) $(SANITIZED_BUILD) -DWEBHOOKD_SANITIZE=thread
	cmake --build $(TSAN_DIR)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(SANITIZED_CTEST) --test-dir $(TSAN_DIR)

# Every libFuzzer target (fuzz/) for FUZZ_SECONDS each, under ASan and UBSan; crashes are kept
# in build-fuzz/crashes/<target>/ with the command that reproduces them.
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CXX ?= clang++-14

fuzz: bootstrap
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) \
	  -DWEBHOOKD_FUZZ=ON -DWEBHOOKD_SANITIZE=address,undefined -DWEBHOOKD_TESTS=OFF \
	  -DWEBHOOKD_BENCH=OFF
	cmake --build $(FUZZ_DIR) --target fuzz_targets
	scripts/run-fuzzers $(FUZZ_DIR) $(FUZZ_SECONDS)

# The interop tests' npm packages, exactly as pinned in tests/interop/package-lock.json.
interop-deps: bootstrap
	cd tests/interop && npm ci --no-audit --no-fund

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
