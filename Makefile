# r1.cpp top-level entry points. Each target installs missing system packages, configures, builds, runs.
#   make demo    the demo on its embedded default (see README)
#   make demo-r1 the DeepSeek-R1 recipe demo (`r1 demo --recipe r1`, see README)
#   make test    `make check`, then every CI test (CTest labels `slow` and `gpu` are skipped, and the skip is reported)
#   make check   the shape: every source as .clang-format says, every #include as scripts/include-rules.txt allows
#   make build   configure + build only (Release)
#   make test-all  also the `slow` tests;  make test-gpu  only the `gpu` tests (needs a CUDA LibTorch)
#   make bench   the benchmarks that compare r1 with its peers (see bench/README.md)
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")

.PHONY: all deps configure build check test test-assets test-all test-gpu demo demo-r1 bench clean
all: build

deps:
	@scripts/install-deps.sh --check 2>/dev/null || scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test-assets:
	@scripts/fetch-test-assets.sh $(BUILD)/test-assets

check: deps
	@scripts/check-format.sh
	@scripts/check-includes.py

test: check build test-assets
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE 'slow|gpu'
	@cd $(BUILD) && n=$$(ctest -N -L 'slow|gpu' | sed -n 's/^Total Tests: //p'); \
	  [ "$${n:-0}" = 0 ] || echo "note: $$n test(s) labelled slow/gpu were not run (make test-all / make test-gpu)"

test-all: build test-assets
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE gpu

test-gpu: build
	cd $(BUILD) && ctest --output-on-failure -L gpu

demo: build
	$(BUILD)/r1 demo --out runs/demo

demo-r1: build
	$(BUILD)/r1 demo --recipe r1 --out runs/demo-r1

bench: build
	cmake --build $(BUILD) --target bench-train-step
	bench/train-throughput.sh

clean:
	rm -rf $(BUILD)
