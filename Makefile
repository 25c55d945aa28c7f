# A thin front for the two commands a new user needs; CMake does the work.
#   make demo    install what is missing, build, run the demo
#   make check   install what is missing, build, run every test; then the
#                same tests on an ASan+UBSan build (build-asan/)
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build demo check check-asan clean

all: build

deps:
	./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./scripts/demo.sh $(BUILD)

check: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) check-asan

# The same tests on a build with AddressSanitizer and UBSan, all compiled by
# clang-19 so that libptm and the programs ptmcc links share one runtime.
check-asan: deps
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DPTM_SANITIZE=ON \
	    -DCMAKE_C_COMPILER=clang-19
	cmake --build $(BUILD)-asan -j $(JOBS)
	ctest --test-dir $(BUILD)-asan --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) $(BUILD)-asan
