# isapid: the two set-up commands are `make run` and `make test` (README.md).
# Everything builds with CMake into build/; the sanitizer builds go to build-asan/ and build-tsan/.

BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=
# Options for the server: make run ARGS="--listen 127.0.0.1:9090"
ARGS ?=

.PHONY: all deps build run test install clean asan tsan check-all fuzz bench

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	./$(BUILD)/isapid $(ARGS)

test: deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

install: build
	cmake --install $(BUILD)

asan: deps
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DISAPID_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug"

tsan: deps
	$(MAKE) test BUILD=build-tsan CMAKE_FLAGS="-DISAPID_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug"

check-all: test asan tsan

# libFuzzer harnesses (clang) into build-fuzz/, each run for FUZZ_SECONDS (default 60): fuzz/run.sh.
fuzz: deps
	@sh fuzz/run.sh

bench:
	bash bench/run.sh

clean:
	rm -rf build build-asan build-tsan build-release
