# sundew: the two commands are `make run` and `make test`.
# Meson and Ninja do the building; this file installs what is missing and
# runs the right build directory for each goal.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CONFIG     ?= sundew.yaml
FUZZ_SECONDS ?= 20
PYTHON     ?= /usr/bin/python3

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

unit: build
	meson test -C $(BUILD) --print-errorlogs --suite unit

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	    meson test -C $(ASAN_BUILD) --print-errorlogs --suite unit

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debug -Dfuzz=true -Db_lundef=false

fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

integration: build
	$(PYTHON) -m pytest -q tests/integration

test: deps
	$(MAKE) unit
	$(MAKE) asan
	$(MAKE) fuzz
	$(MAKE) integration

bench: deps build
	$(PYTHON) bench/bench.py --sundew ./$(BUILD)/sundew --build $(BUILD)

# Not part of `make test`: a million connections take minutes.
SOAK_CONNECTIONS ?= 1000000
soak: deps build
	$(PYTHON) bench/soak.py --sundew ./$(BUILD)/sundew --build $(BUILD) \
	    --connections $(SOAK_CONNECTIONS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
