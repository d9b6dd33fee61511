# akvo: the two commands of the README, and their parts.
#   make run    install what is missing, build, run all-in-one with the demo exporter
#   make test   install what is missing (test peers too), build, run every test
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=
export CCACHE_DIR ?= $(HOME)/.cache/akvo/ccache
# Clones in other folders share the cache.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1

.PHONY: run test deps deps-test build build-debug web unit integration e2e bench clean

run: deps build
	mkdir -p akvo-data
	$(BUILD)/release/akvo all-in-one --demo -c config/akvo.yaml

# Unit tests under ASan/UBSan, then everything (store, integration) on the Release build,
# which is the one that can load chDB.
test: deps-test build build-debug
	ctest --test-dir $(BUILD)/debug --output-on-failure -j $(JOBS) --timeout 900
	ctest --test-dir $(BUILD)/release --output-on-failure -j $(JOBS) --timeout 900

deps:
	scripts/deps.sh

deps-test:
	scripts/deps.sh --test

# The web console (web/dist): npm ci only when the lockfile changed, vite only when a source did.
# npm's cache stays outside the repository (~/.npm).
NPM_STAMP := web/node_modules/.akvo-ci-stamp
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json $(wildcard docs/*.md)

web: web/dist/index.html

$(NPM_STAMP): web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web/dist/index.html: $(NPM_STAMP) $(WEB_SOURCES)
	cd web && npm run build --silent

build: web
	cmake -S . -B $(BUILD)/release -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)/release -j $(JOBS)

# The tests run on a Debug build with ASan and UBSan.
build-debug:
	cmake -S . -B $(BUILD)/debug -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAKVO_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)/debug -j $(JOBS)

unit: build-debug
	ctest --test-dir $(BUILD)/debug -L unit --output-on-failure -j $(JOBS)

integration: build
	ctest --test-dir $(BUILD)/release -L integration --output-on-failure

e2e: build
	ctest --test-dir $(BUILD)/release -L e2e --output-on-failure

bench: build
	$(BUILD)/release/akvo_bench

clean:
	rm -rf $(BUILD)
