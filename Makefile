# sundew: the two commands are `make run` and `make test`.
# Meson and Ninja do the building; this file installs what is missing and
# runs the right build directory for each goal.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CONFIG     ?= sundew.yaml
FUZZ_SECONDS ?= 10
PYTHON     ?= /usr/bin/python3
# Arguments for pytest: `make integration PYTEST_ARGS=tests/integration/test_cli.py`
PYTEST_ARGS ?= tests/integration
SKIPS      = sh scripts/corpus-skips.sh

.PHONY: all deps build run test unit asan fuzz integration bench soak clean

all: build

deps:
	@sh scripts/setup.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: deps build
	./$(BUILD)/sundew run -f -c $(CONFIG)

# Without ../shared/corpora the corpus tests are skipped, and counted.
unit: build
	meson test -C $(BUILD) --print-errorlogs --suite unit
	@$(SKIPS) count unit $(BUILD)/meson-logs/testlog.txt $(BUILD)/corpus-skips.unit

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	    meson test -C $(ASAN_BUILD) --print-errorlogs --suite unit
	@$(SKIPS) count asan $(ASAN_BUILD)/meson-logs/testlog.txt $(ASAN_BUILD)/corpus-skips.asan

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debug -Dfuzz=true -Db_lundef=false

fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# In a network namespace of its own, with only loopback: a sundew already
# running on the machine (on the same ports) does not disturb the tests,
# and no test reaches beyond the namespace.  Creating it takes root, as
# the daemon tests do.
integration: build
	@[ "$$(id -u)" -eq 0 ] || { echo "make integration: run as root (the tests bind ports below 1024 in a network namespace of their own)" >&2; exit 1; }
	unshare --net sh -c 'ip link set lo up && exec env SUNDEW_CORPUS_SKIPS=$(BUILD)/corpus-skips.integration $(PYTHON) -m pytest -q $(PYTEST_ARGS)'

test: deps
	@rm -f $(BUILD)/corpus-skips.* $(ASAN_BUILD)/corpus-skips.*
	$(MAKE) unit
	$(MAKE) asan
	$(MAKE) fuzz
	$(MAKE) integration
	@$(SKIPS) total $(BUILD)/corpus-skips.unit $(ASAN_BUILD)/corpus-skips.asan $(BUILD)/corpus-skips.integration

bench: deps build
	$(PYTHON) bench/bench.py --sundew ./$(BUILD)/sundew --build $(BUILD)

# Not part of `make test`: a million connections take minutes.
SOAK_CONNECTIONS ?= 1000000
soak: deps build
	$(PYTHON) bench/soak.py --sundew ./$(BUILD)/sundew --build $(BUILD) \
	    --connections $(SOAK_CONNECTIONS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
