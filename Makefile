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

.PHONY: run test build bootstrap clean format interop-deps demo

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

# The interop tests' npm packages, exactly as pinned in tests/interop/package-lock.json.
interop-deps: bootstrap
	cd tests/interop && npm ci --no-audit --no-fund

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
