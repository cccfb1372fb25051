# The two commands of the README: `make run` and `make test`.
BUILD_DIR ?= build
DATA_DIR ?= data
LISTEN ?= 127.0.0.1:8080
CTEST_PARALLEL ?= 2

.PHONY: run test build bootstrap clean format

run: build
	mkdir -p $(DATA_DIR)
	$(BUILD_DIR)/webhookd serve --listen $(LISTEN) --db sqlite:$(DATA_DIR)/webhookd.db

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(CTEST_PARALLEL)

build: bootstrap
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR)

bootstrap:
	scripts/bootstrap

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
