#!/usr/bin/env bash
# bench/per_delivery.sh: load-independent cost of one delivery, one webhook.
#
#   bench/per_delivery.sh [--events N] [--base M] [--no-callgrind] [--keep]
#
# Two topics (N and M events, default 20,000 and 2,000, 6 partitions) are
# drained by hookbridge (Release, bench/hookbridge.cfg.in, the nginx
# sink), each run from process start until every offset is committed,
# then stopped:
#   - under LD_PRELOAD=libhb-alloc-count.so: heap allocations (malloc,
#     calloc, realloc, aligned) of the whole process, all threads
#   - under valgrind --tool=callgrind: instructions, all threads
# Per delivery = (figure of the N run - figure of the M run) / (N - M):
# start-up and shutdown cancel out, and neither figure depends on how
# loaded the machine is. Also prints callgrind's top functions by own
# instructions (N run). Uses the broker at HB_BENCH_BROKERS (default
# 127.0.0.1:19092, the tests' broker; topics and groups are unique).
set -euo pipefail

me=bench/per_delivery.sh
# root bench build tools hb pids ok keep; say die usage cleanup bench_traps
# nginx_sink json_num build_all drain
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

events=20000
base=2000
cg=1
keep=0
while [ $# -gt 0 ]; do
        case $1 in
        --events) events=${2:?--events N}; shift ;;
        --base) base=${2:?--base M}; shift ;;
        --no-callgrind) cg=0 ;;
        --keep) keep=1 ;;
        -h | --help) usage ;;
        *) die "unknown argument '$1' (see --help)" ;;
        esac
        shift
done
[ "$events" -gt "$base" ] || die "--events must be larger than --base"

brokers=${HB_BENCH_BROKERS:-127.0.0.1:19092}
runid=$(date -u +%Y%m%dT%H%M%SZ)-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-perdel.XXXXXX")
bench_traps

build_all "$work/build.log"
preload=$tools/libhb-alloc-count.so
[ -f "$preload" ] || die "$preload was not built"

# the nginx sink
nginx_sink "$work/nginx"

for n in "$base" "$events"; do
        say "producing $n events"
        "$tools/bench-produce" --brokers "$brokers" --topic "perdel-$runid-$n" \
                --partitions 6 --count "$n" >"$work/produce-$n.json" ||
                die "producing $n events failed"
done

per() { awk -v a="$1" -v b="$2" -v d=$((events - base)) 'BEGIN { printf "%.1f", (a - b) / d }'; }

for n in "$base" "$events"; do
        say "allocations: $n events"
        drain "alloc-$n" "$hb" "perdel-$runid-$n" "$n" \
                env HB_ALLOC_COUNT_OUT="$work/alloc-$n.json" LD_PRELOAD="$preload"
done
a_n=$(json_num allocs "$work/alloc-$events.json")
a_b=$(json_num allocs "$work/alloc-$base.json")
b_n=$(json_num bytes "$work/alloc-$events.json")
b_b=$(json_num bytes "$work/alloc-$base.json")
echo "allocations per delivery: $(per "$a_n" "$a_b") ($a_n for $events events, $a_b for $base)"
echo "bytes allocated per delivery: $(per "$b_n" "$b_b")"

if [ "$cg" = 1 ]; then
        for n in "$base" "$events"; do
                say "callgrind: $n events (slow)"
                drain "cg-$n" "$hb" "perdel-$runid-$n" "$n" \
                        valgrind --tool=callgrind --callgrind-out-file="$work/callgrind-$n.out"
                callgrind_annotate --inclusive=no --threshold=100 \
                        "$work/callgrind-$n.out" >"$work/callgrind-$n.txt" 2>&1 || true
        done
        total() { sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$1" | tr -d ,; }
        i_n=$(total "$work/callgrind-$events.txt")
        i_b=$(total "$work/callgrind-$base.txt")
        echo "instructions per delivery: $(per "$i_n" "$i_b") ($i_n Ir for $events events, $i_b for $base)"
        echo "top functions by own instructions, $events-event run:"
        grep -E '^ *[0-9,]+ +\([ 0-9.]+%\)' "$work/callgrind-$events.txt" | awk 'NR <= 25'
fi
ok=1
