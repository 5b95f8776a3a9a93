#!/bin/sh
# How many tests were skipped because ../shared/corpora is not there (a
# clone of its own): `make test` passes without it, and says what it left
# out.  The unit tests print one line per skip (tests/unit/corpus.h),
# the integration tests write their count (tests/integration/conftest.py).
#
#   corpus-skips.sh count SUITE TESTLOG OUT
#	counts the skip lines in meson's TESTLOG, writes the count and the
#	directory to OUT, and prints "SUITE: corpus tests skipped: N (DIR
#	not found)" when N > 0
#   corpus-skips.sh total OUT...
#	sums the counts of the suites that ran, one line, even when 0
set -eu
mark="corpus test skipped"

case "${1:-}" in
count)
	[ $# -eq 4 ] || { echo "usage: $0 count SUITE TESTLOG OUT" >&2; exit 2; }
	suite=$2 log=$3 out=$4
	n=0
	dir=
	if [ -f "$log" ]; then
		n=$(grep -c "^$mark: " "$log" || true)
		dir=$(grep -m1 "^$mark: " "$log" | sed "s/^$mark: //; s/ not found\$//" || true)
	fi
	printf '%s %s\n' "$n" "$dir" >"$out"
	if [ "$n" -gt 0 ]; then
		echo "$suite: corpus tests skipped: $n ($dir not found)"
	fi
	;;
total)
	shift
	total=0
	parts=
	dir=
	for f in "$@"; do
		[ -f "$f" ] || continue
		read -r n d <"$f" || continue
		suite=$(basename "$f" | sed 's/^corpus-skips\.//')
		total=$((total + n))
		parts="$parts${parts:+, }$suite $n"
		[ -n "$d" ] && dir=$d
	done
	if [ "$total" -gt 0 ]; then
		echo "corpus tests skipped: $total ($parts; ${dir:-../shared/corpora} not found)"
	else
		echo "corpus tests skipped: 0"
	fi
	;;
*)
	echo "usage: $0 count SUITE TESTLOG OUT | total OUT..." >&2
	exit 2
	;;
esac
