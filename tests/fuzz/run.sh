#!/usr/bin/env bash
# Fuzz hookbridge's input parsers with libFuzzer (ASan + UBSan):
#
#   tests/fuzz/run.sh [SECONDS] [HARNESS...]
#
# builds the harnesses (tests/fuzz/build.sh), runs every saved regression
# input (tests/fuzz/regressions/<harness>/) and seed (tests/fuzz/corpus/
# <harness>/) through its harness once, then fuzzes each harness for
# SECONDS (default 10; 0 skips fuzzing) and prints how many inputs each
# one executed. New inputs go to build-fuzz/corpus/<harness>/ (the seeds
# in the tree are not touched), crashes to build-fuzz/artifacts/<harness>/.
# Exit status 1 when any input crashes. $HB_FUZZ_BUILD: the build
# directory (default build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
secs=${1:-10}
shift || true
out=${HB_FUZZ_BUILD:-$root/build-fuzz}
all=(fuzz_transform fuzz_url fuzz_retry_after fuzz_sign fuzz_config fuzz_hook)
if [ $# -gt 0 ]; then
        harnesses=("$@")
else
        harnesses=("${all[@]}")
fi
case "$secs" in
'' | *[!0-9]*)
        echo "usage: tests/fuzz/run.sh [SECONDS] [HARNESS...]" >&2
        exit 64
        ;;
esac

tests/fuzz/build.sh "$out"

# fuzz_config works in a directory of its own (secret_file targets)
export HB_FUZZ_WORKDIR="$out/work-config"
# and the plugin its inputs may name (./canary.so there)
export HB_FUZZ_CANARY="$out/canary_plugin.so"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# leaks of the libraries, not of hookbridge (see the file)
export LSAN_OPTIONS=suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0
common=(-timeout=10 -rss_limit_mb=2048 -max_len=16384)
failed=0

# 1. Every regression input and seed, once.
for h in "${harnesses[@]}"; do
        dirs=()
        for d in "$root/tests/fuzz/regressions/$h" "$root/tests/fuzz/corpus/$h"; do
                [ -d "$d" ] && [ -n "$(ls -A "$d")" ] && dirs+=("$d")
        done
        [ ${#dirs[@]} -gt 0 ] || continue
        log="$out/$h.replay.log"
        if "$out/$h" "${common[@]}" -runs=0 "${dirs[@]}" </dev/null \
                >"$log" 2>&1; then
                n=$(grep -c . <(find "${dirs[@]}" -type f))
                printf 'fuzz: %-18s %5d saved inputs ok\n' "$h" "$n"
        else
                echo "fuzz: $h FAILS on a saved input:" >&2
                grep -E 'invariant|ERROR|runtime error|SUMMARY|Running' \
                        "$log" | tail -n 20 >&2
                failed=1
        fi
done

# 2. Fuzz each harness for SECONDS.
if [ "$secs" -gt 0 ]; then
        printf '\n%-18s %12s %10s %s\n' harness executions exec/s result
fi
for h in "${harnesses[@]}"; do
        [ "$secs" -gt 0 ] || break
        work="$out/corpus/$h"
        art="$out/artifacts/$h"
        log="$out/$h.fuzz.log"
        mkdir -p "$work" "$art"
        dict=()
        [ -f "$root/tests/fuzz/dict/$h.dict" ] &&
                dict=(-dict="$root/tests/fuzz/dict/$h.dict")
        # libconfig leaks on many syntax errors (tests/fuzz/lsan.supp), and
        # every input that leaks makes libFuzzer scan the whole heap: fuzz
        # fuzz_config without leak checks (5x faster), then replay what it
        # found with them.
        leaks=()
        [ "$h" = fuzz_config ] && leaks=(-detect_leaks=0)
        rc=0
        "$out/$h" "${common[@]}" "${leaks[@]}" "${dict[@]}" \
                -max_total_time="$secs" \
                -print_final_stats=1 -artifact_prefix="$art/" \
                "$work" "$root/tests/fuzz/corpus/$h" </dev/null \
                >"$log" 2>&1 || rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
                tail -n 1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" |
                tail -n 1)
        if [ "$rc" -eq 0 ] && [ ${#leaks[@]} -gt 0 ] &&
                ! "$out/$h" "${common[@]}" -runs=0 "$work" </dev/null \
                        >"$log.leaks" 2>&1; then
                rc=1
                log="$log.leaks"
        fi
        if [ "$rc" -eq 0 ]; then
                result=ok
        else
                result="CRASH (exit $rc), see $log"
                failed=1
        fi
        printf '%-18s %12s %10s %s\n' "$h" "${execs:-?}" "${rate:-?}" \
                "$result"
        if [ "$rc" -ne 0 ]; then
                grep -E 'invariant|ERROR|runtime error|SUMMARY|artifact' \
                        "$log" | head -n 20 >&2
        fi
done
exit "$failed"
