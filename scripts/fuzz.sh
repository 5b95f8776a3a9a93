#!/bin/sh
# Runs every fuzz target briefly: SECONDS each, seeded from fuzz/corpus/NAME
# (and from ../shared/corpora: the pcaps for the capture parser, the
# shellcode for the analyser).
# A crash, a leak or a time-out fails `make test`.
set -eu
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
if [ ! -d "$root/../shared/corpora" ]; then
	echo "fuzz: $root/../shared/corpora not found: seeds from fuzz/corpus only"
fi
trap 'rm -rf "$work"' EXIT
for bin in "$build"/fuzz/fuzz_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=$(basename "$bin" | sed 's/^fuzz_//')
	mkdir -p "$work/$name"
	seeds="$root/fuzz/corpus/$name"
	set -- "$work/$name"
	[ -d "$seeds" ] && set -- "$@" "$seeds"
	if [ "$name" = pcap ] && [ -d "$root/../shared/corpora/pcaps" ]; then
		set -- "$@" "$root/../shared/corpora/pcaps/protocol" \
		    "$root/../shared/corpora/pcaps/attack"
	fi
	if [ "$name" = sc ] && [ -d "$root/../shared/corpora/shellcode" ]; then
		set -- "$@" "$root/../shared/corpora/shellcode" \
		    "$root/../shared/corpora/shellcode/robustness"
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
	grep -E 'stat::number_of_executed_units' "$work/$name.log" || true
done
