# The two commands of the README: `make run` and `make test`.
BUILD_DIR ?= build
DATA_DIR ?= data
LISTEN ?= 127.0.0.1:8080
CTEST_PARALLEL ?= 2

.PHONY: run test build bootstrap clean format interop-deps demo

run: build
	mkdir -p $(DATA_DIR)
	$(BUILD_DIR)/webhookd serve --listen $(LISTEN) --db sqlite:$(DATA_DIR)/webhookd.db

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
