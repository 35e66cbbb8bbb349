#!/usr/bin/env bash
# bench/sick.sh: proof 1 of issue 11 (reported, not asserted): 1,000
# webhooks, one per app, of which 100 are sick; what the 900 healthy ones
# see of it. Each event goes to one app's webhook (bench-produce --apps),
# so 10% of the deliveries go to the sick ones. The asserted version (a
# baseline in the same run, 503 and refused connections for 3 minutes,
# then recovery, nothing lost): tests/integration/test_sick.c.
#
#   bench/sick.sh [--rate R] [--seconds S] [--faults "healthy 500 hang"]
#                 [--concurrency C] [--max-in-flight M] [--keep]
#
# For each fault (default: healthy, 500, hang) one run: R events/s
# (default 1000) for S seconds (default 60) after a 10 s warm-up, with the
# retry tiers on (the default schedule, 5s, 5m, ...: within a run the sick
# deliveries wait in the first tiers). The 900 healthy webhooks post to
# bench-latency-sink (produce-to-arrival latency from webhook-id), the 100
# sick ones to hb-receiver, answering 200 (healthy: the baseline), 500, or
# holding each request ("hang": until hookbridge's 10 s time-out). Prints
# one row per run: healthy deliveries, their p50/p99/p99.9 latency, the
# peak source lag (seconds, from /metrics), peak RSS (VmHWM), the requests
# the sick ones got, and the records waiting in the tiers at the end; the
# rows also go to bench/results/sick-latest.json. --concurrency:
# delivery.concurrency (default 64); --max-in-flight: every webhook's
# max_in_flight (default: unset, half of the concurrency).
#
# Uses a running broker: $HB_BENCH_BROKERS (default the tests' broker,
# 127.0.0.1:19092; topics and groups are unique per run). hookbridge is
# $HB_BENCH_HOOKBRIDGE when set (e.g. build/hookbridge), else a Release
# build in build-bench/; the helpers are built in build-bench/bench-tools.
set -euo pipefail

me=bench/sick.sh
# root bench build tools hb pids ok keep; say die usage bad_arg free_port
# cleanup bench_traps build_all
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rate=1000
seconds=60
warmup=10
faults="healthy 500 hang"
keep=0
concurrency=64
mif=
hooks=1000
sick=100
while [ $# -gt 0 ]; do
        case $1 in
        --rate)
                rate=${2:?--rate R}
                shift
                ;;
        --seconds)
                seconds=${2:?--seconds S}
                shift
                ;;
        --faults)
                faults=${2:?--faults LIST}
                shift
                ;;
        --concurrency)
                concurrency=${2:?--concurrency C}
                shift
                ;;
        --max-in-flight)
                mif=${2:?--max-in-flight M}
                shift
                ;;
        --keep) keep=1 ;;
        -h | --help) usage ;;
        *) bad_arg "$1" ;;
        esac
        shift
done

brokers=${HB_BENCH_BROKERS:-127.0.0.1:19092}
work=$(mktemp -d /tmp/hb-sick.XXXXXX)
bench_traps

if [ -n "${HB_BENCH_HOOKBRIDGE:-}" ]; then
        hb=$HB_BENCH_HOOKBRIDGE
        say "building the bench tools in $tools"
        { cmake -S "$bench" -B "$tools" -DCMAKE_BUILD_TYPE=Release &&
                cmake --build "$tools" -j2; } >"$work/build.log" 2>&1 ||
                { tail -n 30 "$work/build.log" >&2; die "build failed"; }
else
        build_all "$work/build.log"
fi
receiver=$(dirname "$hb")/hb-receiver
[ -x "$receiver" ] || {
        say "building hb-receiver next to $hb"
        cmake --build "$(dirname "$hb")" -j2 --target hb-receiver \
                >>"$work/build.log" 2>&1 || die "hb-receiver: build failed"
}

# metric NAME FILE: the largest value of the series NAME{...} in FILE
metric_max() {
        awk -v n="$1" 'index($0, n "{") == 1 || $1 == n {
                v = $NF + 0; if (!seen || v > m) { m = v; seen = 1 } }
                END { print seen ? m : 0 }' "$2"
}
metric_sum() {
        awk -v n="$1" 'index($0, n "{") == 1 { s += $NF } END { print s + 0 }' "$2"
}

rows=()
run_case() {
        local fault=$1 tag topic group dlq sink_port rx_port admin_port cfg
        local script hbpid sinkpid rxpid lagmax=0 lag rss sinkout sick_req
        tag=$fault-$$-$RANDOM
        topic=hb-sick-$tag
        group=hb-sick-g-$tag
        dlq=hb-sick-dlq-$tag
        sink_port=$(free_port)
        rx_port=$(free_port)
        admin_port=$(free_port)
        cfg=$work/$fault.cfg
        case $fault in
        healthy) script=200 ;;
        500) script=500 ;;
        hang) script=delay=600000 ;;
        *) die "unknown fault '$fault' (healthy, 500, hang)" ;;
        esac
        "$tools/bench-produce" --brokers "$brokers" --topic "$topic" \
                --partitions 6 >/dev/null
        "$tools/bench-produce" --brokers "$brokers" --topic "$dlq" \
                --partitions 1 >/dev/null
        {
                printf 'kafka = { brokers = "%s"; group_id = "%s";\n' "$brokers" "$group"
                printf '  topics = ( "%s" ); commit_interval_ms = 200;\n' "$topic"
                printf '  auto_offset_reset = "earliest"; };\n'
                printf 'delivery = { concurrency = %d; timeout_ms = 10000;\n' "$concurrency"
                printf '  threads = 1; # one loop, as the README figures\n'
                printf '  connect_timeout_ms = 3000; max_in_flight = 10000;\n'
                printf '  dead_letter_topic = "%s";\n' "$dlq"
                printf '  retry = { initial_ms = 100; max_ms = 2000; max_attempts = 3;\n'
                printf '    tier_partitions = 6; };\n'
                printf '  allow_networks = [ "127.0.0.0/8" ]; shutdown_timeout_ms = 3000; };\n'
                printf 'webhooks = (\n'
                local i sep=,
                for ((i = 0; i < hooks; i++)); do
                        [ "$i" = $((hooks - 1)) ] && sep=
                        if [ "$i" -lt "$sick" ]; then
                                url=http://127.0.0.1:$rx_port/s$i
                        else
                                url=http://127.0.0.1:$sink_port/h$i
                        fi
                        printf '  { name = "w%04d"; app_token = "bench-app-%04d"; url = "%s"; events = [ "*" ];%s }%s\n' \
                                "$i" "$i" "$url" "${mif:+ max_in_flight = $mif;}" "$sep"
                done
                printf ');\nadmin = { listen = "127.0.0.1:%s"; };\n' "$admin_port"
                printf 'log = { level = "warn"; format = "logfmt"; };\n'
        } >"$cfg"
        "$hb" check-config -c "$cfg" >/dev/null || die "$cfg: invalid"

        "$tools/bench-latency-sink" --port "$sink_port" \
                --dump "$work/$fault-latency.txt" >"$work/$fault-sink.json" \
                2>"$work/$fault-sink.log" &
        sinkpid=$!
        pids+=("$sinkpid")
        "$receiver" --port "$rx_port" --quiet --script "*=$script" \
                >"$work/$fault-rx.log" 2>&1 &
        rxpid=$!
        pids+=("$rxpid")
        "$hb" run -c "$cfg" 2>"$work/$fault-hookbridge.log" &
        hbpid=$!
        pids+=("$hbpid")
        local t=0
        until curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1; do
                sleep 0.5
                t=$((t + 1))
                [ "$t" -lt 120 ] || die "$fault: not ready in 60 s ($work/$fault-hookbridge.log)"
        done
        say "$fault: producing $rate/s for ${warmup}s + ${seconds}s"
        "$tools/bench-produce" --brokers "$brokers" --topic "$topic" \
                --rate "$rate" --seconds "$seconds" --warmup "$warmup" \
                --apps "$hooks" >"$work/$fault-produce.json" &
        local prodpid=$!
        while kill -0 "$prodpid" 2>/dev/null; do
                curl -fs "http://127.0.0.1:$admin_port/metrics" >"$work/$fault-metrics.txt" 2>/dev/null || true
                lag=$(metric_max hookbridge_consumer_lag_seconds "$work/$fault-metrics.txt")
                lagmax=$(awk -v a="$lagmax" -v b="$lag" 'BEGIN { print (b > a) ? b : a }')
                sleep 2
        done
        wait "$prodpid" || die "$fault: bench-produce failed"
        sleep 5 # the last events' deliveries
        curl -fs "http://127.0.0.1:$admin_port/metrics" >"$work/$fault-metrics.txt" || true
        rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$hbpid/status")
        kill "$sinkpid"
        wait "$sinkpid" || true
        sinkout=$(cat "$work/$fault-sink.json")
        sick_req=$(curl -fs "http://127.0.0.1:$rx_port/_control/count" || echo "?")
        local tiers delivered ok_healthy
        tiers=$(metric_sum hookbridge_retry_tier_records "$work/$fault-metrics.txt")
        kill -TERM "$hbpid"
        wait "$hbpid" || true
        kill "$rxpid"
        wait "$rxpid" 2>/dev/null || true
        ok_healthy=$(sed -n 's/.*"samples":\([0-9]*\).*/\1/p' <<<"$sinkout")
        p50=$(sed -n 's/.*"p50_ms":\([0-9.]*\).*/\1/p' <<<"$sinkout")
        p99=$(sed -n 's/.*"p99_ms":\([0-9.]*\).*/\1/p' <<<"$sinkout")
        p999=$(sed -n 's/.*"p999_ms":\([0-9.]*\).*/\1/p' <<<"$sinkout")
        delivered=$(sed -n 's/.*"produced":\([0-9]*\).*/\1/p' "$work/$fault-produce.json")
        rows+=("$(printf '{"fault":"%s","rate":%s,"seconds":%s,"produced":%s,"healthy_samples":%s,"p50_ms":%s,"p99_ms":%s,"p999_ms":%s,"peak_lag_s":%s,"peak_rss_kib":%s,"sick_requests":"%s","tier_records_end":%s,"concurrency":%s,"max_in_flight":"%s","load_1m":"%s"}' \
                "$fault" "$rate" "$seconds" "${delivered:-0}" "${ok_healthy:-0}" \
                "${p50:-0}" "${p99:-0}" "${p999:-0}" "$lagmax" "${rss:-0}" \
                "$sick_req" "${tiers:-0}" "$concurrency" "${mif:-default}" \
                "$(cut -d' ' -f1 /proc/loadavg)")")
        printf '| %s | %s | %s | %s | %s | %s | %s | %s MiB | %s | %s |\n' \
                "$fault" "${delivered:-0}" "${ok_healthy:-0}" "${p50:-?}" \
                "${p99:-?}" "${p999:-?}" "$lagmax" "$(((${rss:-0} + 512) / 1024))" \
                "$sick_req" "${tiers:-0}"
}

printf '| sick answer | produced (measured) | healthy deliveries timed | p50 ms | p99 ms | p99.9 ms | peak lag s | peak RSS | sick requests | in tiers at end |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for f in $faults; do
        run_case "$f"
done
mkdir -p "$bench/results"
{
        printf '{"bench":"sick","hooks":%s,"sick":%s,"when":"%s","runs":[' \
                "$hooks" "$sick" "$(date -u +%FT%TZ)"
        (IFS=,; printf '%s' "${rows[*]}")
        printf ']}\n'
} >"$bench/results/sick-latest.json"
cp "$bench/results/sick-latest.json" "$bench/results/sick-$(date -u +%Y%m%dT%H%M%SZ).json"
say "written: bench/results/sick-latest.json (and a copy by date)"
ok=1
