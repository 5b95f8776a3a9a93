#!/bin/sh
# Runs every fuzz target briefly: SECONDS each, seeded from fuzz/corpus/NAME
# (our own seeds: written by hand or built with values of our own, recorded
# from real clients talking to sundew, or kept from earlier fuzzer runs)
# and, when ../shared/corpora is there, from the third-party material in it,
# which is used from there and never copied into the repository: the pcaps
# for the capture parser, the shellcode for the analyser and, for the
# protocol targets, what scripts/carve-seeds.py carves out of the pcaps into
# the temporary folder.  libFuzzer writes what it finds into that temporary
# folder too, never into fuzz/corpus.
# A crash, a leak or a time-out fails `make test`.
set -eu
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
corpora=$root/../shared/corpora
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -d "$corpora" ]; then
	"${PYTHON:-/usr/bin/python3}" "$root/scripts/carve-seeds.py" \
	    -c "$corpora" "$work/carved"
else
	echo "fuzz: $corpora not found: seeds from fuzz/corpus only"
fi
for bin in "$build"/fuzz/fuzz_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=$(basename "$bin" | sed 's/^fuzz_//')
	mkdir -p "$work/$name"
	seeds="$root/fuzz/corpus/$name"
	set -- "$work/$name"
	[ -d "$seeds" ] && set -- "$@" "$seeds"
	[ -d "$work/carved/$name" ] && set -- "$@" "$work/carved/$name"
	if [ "$name" = pcap ] && [ -d "$corpora/pcaps" ]; then
		set -- "$@" "$corpora/pcaps/protocol" "$corpora/pcaps/attack"
	fi
	if [ "$name" = sc ] && [ -d "$corpora/shellcode" ]; then
		set -- "$@" "$corpora/shellcode" "$corpora/shellcode/robustness"
	fi
	echo "fuzz: $name for ${seconds}s"
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	LSAN_OPTIONS=suppressions="$root/fuzz/lsan.supp" \
	"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	    -max_len=65536 -print_final_stats=1 "$@" \
	    >"$work/$name.log" 2>&1 || {
		tail -n 60 "$work/$name.log"
		echo "fuzz: $name FAILED"
		exit 1
	}
	grep -E 'INFO: seed corpus|stat::number_of_executed_units' \
	    "$work/$name.log" || true
done
