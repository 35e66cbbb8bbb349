#!/usr/bin/env bash
# bench/cpu_ab.sh: CPU seconds per 100k events of two hookbridge binaries,
# drained in alternation (one webhook).
#
#   bench/cpu_ab.sh A B [--events N] [--rounds R] [--alloc]
#
# One topic of N events (default 100,000, 6 partitions, the sample mix of
# bench-produce) is drained R times (default 3) by each binary in turn
# (A, B, A, B, ...), each run a fresh group, from process start until
# every offset is committed (bench/hookbridge.cfg.in, the nginx sink):
# the process's CPU seconds (utime + stime, all threads, start-up
# included) x 100,000 / N, its wall time and peak RSS, and the 1-minute
# load average at its start. Alternating is what makes two binaries
# comparable on a loaded machine. --alloc: also heap allocations per
# event of each (one more run each under libhb-alloc-count.so, start-up
# included; bench/per_delivery.sh gives the per-delivery difference).
# Uses the broker at HB_BENCH_BROKERS (default 127.0.0.1:19092).
set -euo pipefail

me=bench/cpu_ab.sh
# root bench build tools hb pids keep; say die usage cleanup bench_traps
# nginx_sink json_num build_all drain
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -ge 2 ] || usage 2
bin_a=$(realpath "$1")
bin_b=$(realpath "$2")
shift 2
events=100000
rounds=3
alloc=0
while [ $# -gt 0 ]; do
        case $1 in
        --events) events=${2:?--events N}; shift ;;
        --rounds) rounds=${2:?--rounds R}; shift ;;
        --alloc) alloc=1 ;;
        *) die "unknown argument '$1'" ;;
        esac
        shift
done
[ -x "$bin_a" ] && [ -x "$bin_b" ] || die "A and B must be executables"

brokers=${HB_BENCH_BROKERS:-127.0.0.1:19092}
runid=$(date -u +%Y%m%dT%H%M%SZ)-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-cpuab.XXXXXX")
topic=cpuab-$runid
keep=1 # the logs stay, as the run's record
bench_traps

build_all "$work/build.log"

nginx_sink "$work/nginx"

say "producing $events events"
"$tools/bench-produce" --brokers "$brokers" --topic "$topic" --partitions 6 \
        --count "$events" >"$work/produce.json" || die "producing failed"

echo "| run | binary | CPU-s per 100k | seconds | peak RSS MiB | load |"
echo "| --- | --- | --- | --- | --- | --- |"
for r in $(seq 1 "$rounds"); do
        for ab in A B; do
                bin=$bin_a
                [ "$ab" = B ] && bin=$bin_b
                load=$(cut -d' ' -f1 /proc/loadavg)
                drain "$ab$r" "$bin" "$topic" "$events"
                cpu=$(json_num cpu_s "$work/$ab$r.committed.json")
                secs=$(json_num seconds "$work/$ab$r.committed.json")
                hwm=$(json_num vmhwm_kb "$work/$ab$r.committed.json")
                awk -v r="$r" -v ab="$ab" -v c="$cpu" -v n="$events" -v s="$secs" \
                        -v h="$hwm" -v l="$load" 'BEGIN {
                        printf "| %d | %s | %.2f | %.1f | %.1f | %s |\n",
                                r, ab, c * 100000 / n, s, h / 1024, l }'
        done
done
if [ "$alloc" = 1 ]; then
        for ab in A B; do
                bin=$bin_a
                [ "$ab" = B ] && bin=$bin_b
                drain "alloc$ab" "$bin" "$topic" "$events" \
                        env HB_ALLOC_COUNT_OUT="$work/alloc$ab.out" \
                        LD_PRELOAD="$tools/libhb-alloc-count.so"
                a=$(json_num allocs "$work/alloc$ab.out")
                awk -v ab="$ab" -v a="$a" -v n="$events" 'BEGIN {
                        printf "allocations per event, %s (start-up included): %.1f\n", ab, a / n }'
        done
fi
