# The two set-up commands (README): `make run` and `make test`. Both install
# what is missing with apt-get (as root, on Debian 12), then build.
#
#   make run         build; run the examples gallery and the headline benchmark
#                    against Python asyncio, measured side by side
#   make test        build; run the whole test-suite through ctest
#   make test-asan   the test-suite under AddressSanitizer + UBSan (+ LSan)
#   make test-tsan   the test-suite under ThreadSanitizer
#   make fuzz        the libFuzzer targets (clang): the stream reader FUZZ_TIME
#                    seconds, the codec FUZZ_CODEC_TIME
#   make bench       every workload beside the peers; W=W1,W3 picks a subset
#                    (the native peers need SHARED, below)
#   make install     cmake --install (PREFIX=/usr/local)

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_CXX   ?= clang++-14
FUZZ_TIME  ?= 60
FUZZ_CODEC_TIME ?= 20
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc)
CTEST_JOBS ?= $(JOBS)
W          ?=
# Optional: a checkout of the peers' implementations (Go, Tokio, Asio, libuv,
# the Python scripts of the workloads bench/python does not cover, and the
# network peers with their load generator), kept beside the repository. Only
# `make bench` uses it; without it, corio runs alone except for CPython
# asyncio and uvloop on W1, W2a and W3 (bench/python).
SHARED     ?= $(abspath ../shared)

# Debian packages each goal needs.
PKGS_BUILD = g++ cmake ninja-build pkg-config libgtest-dev libgmock-dev liburing-dev libssl-dev python3 \
             libhiredis-dev redis-server python3-redis python3-msgpack
PKGS_RUN   = util-linux
PKGS_FUZZ  = clang-14 libclang-rt-14-dev

.PHONY: all deps deps-run deps-fuzz build build-asan build-tsan build-fuzz run test test-asan test-tsan fuzz bench install clean

all: build

# msgpack-cxx comes through its own script (its Debian package may conflict
# with the Boost the benchmark peers install; see tools/msgpack-cxx.sh).
deps:
	@./tools/apt-install.sh $(PKGS_BUILD)
	@./tools/msgpack-cxx.sh

deps-run:
	@./tools/apt-install.sh $(PKGS_BUILD) $(PKGS_RUN)
	@./tools/msgpack-cxx.sh

deps-fuzz:
	@./tools/apt-install.sh $(PKGS_BUILD) $(PKGS_FUZZ)
	@./tools/msgpack-cxx.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: deps-run $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target corio_examples corio_benchmarks
	./tools/run-main.sh $(BUILD)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(CTEST_JOBS)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DCORIO_SANITIZE=address,undefined -DCORIO_BUILD_BENCH=OFF

build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(CTEST_JOBS)

# -O1 -g1 (line tables): what TSan recommends, and half the compile time of
# -O2 -g, which matters for CI's time limit.
$(TSAN_BUILD)/build.ninja:
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCORIO_SANITIZE=thread -DCORIO_BUILD_BENCH=OFF

build-tsan: deps $(TSAN_BUILD)/build.ninja
	cmake --build $(TSAN_BUILD) -j $(JOBS)

# The I/O tests run on epoll only here: what their threads touch (the
# resolver's executor, signal senders, the wake-up eventfd) is the same code
# on both backends, and the rest of the suite runs on the io_uring backend.
test-tsan: build-tsan
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tools/tsan.supp \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure -j $(CTEST_JOBS) -E '^io_uring\.'

# libFuzzer with ASan + UBSan; the library is instrumented for coverage too.
# Each run starts from a few seeds written here (the corpus is not kept).
$(FUZZ_BUILD)/build.ninja:
	CXX=$(FUZZ_CXX) cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCORIO_SANITIZE=address,undefined -DCORIO_BUILD_FUZZ=ON -DCORIO_BUILD_BENCH=OFF -DCORIO_BUILD_EXAMPLES=OFF

build-fuzz: deps-fuzz $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_stream_reader fuzz_codec

fuzz: build-fuzz
	rm -rf $(FUZZ_BUILD)/corpus/stream_reader && mkdir -p $(FUZZ_BUILD)/corpus/stream_reader
	printf '\205\000\020abcd\004\002\000\003\001\010\003\003' > $(FUZZ_BUILD)/corpus/stream_reader/lines
	printf '\003\004\003\001\002\000\012\003\002\001\377\377\377\006\007\000' > $(FUZZ_BUILD)/corpus/stream_reader/until
	printf '\230\004\004\040\000\047\050\001\005\005\020\003\007\002\000\010\007\001' > $(FUZZ_BUILD)/corpus/stream_reader/exactly
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(FUZZ_BUILD)/tests/fuzz/fuzz_stream_reader -max_total_time=$(FUZZ_TIME) -max_len=4096 \
	  -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus/stream_reader
	rm -rf $(FUZZ_BUILD)/corpus/codec && mkdir -p $(FUZZ_BUILD)/corpus/codec
	printf '\012\225\001\313\100\000\000\000\000\000\000\000\241a\222\001\002\000' > $(FUZZ_BUILD)/corpus/codec/struct
	printf '\012\225\001\317\377\377\377\377\377\377\377\377\046\241\003\222\001\002\100' > $(FUZZ_BUILD)/corpus/codec/whole_double
	printf '\017\204\244type\251ValueError\247message\241m\251traceback\240\245errno\300' > $(FUZZ_BUILD)/corpus/codec/exception
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(FUZZ_BUILD)/tests/fuzz/fuzz_codec -max_total_time=$(FUZZ_CODEC_TIME) -max_len=4096 \
	  -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus/codec

# W5 and W6 (network, bench/net.py) and the rest (bench/compare.py) have
# their own runners; W picks from both.
comma  := ,
space  := $(subst ,, )
W_LIST  = $(subst $(comma),$(space),$(W))
W_NET   = $(filter W5 W6 w5 w6,$(W_LIST))
W_REST  = $(filter-out W5 W6 w5 w6,$(W_LIST))

bench: deps-run $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target corio_benchmarks corio_examples
	$(if $(W),$(if $(W_REST),python3 bench/compare.py --build $(BUILD) --shared $(SHARED) --workloads $(subst $(space),$(comma),$(strip $(W_REST)))),python3 bench/compare.py --build $(BUILD) --shared $(SHARED))
	$(if $(W),$(if $(W_NET),python3 bench/net.py --build $(BUILD) --shared $(SHARED) --workloads $(subst $(space),$(comma),$(strip $(W_NET)))),python3 bench/net.py --build $(BUILD) --shared $(SHARED))

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
