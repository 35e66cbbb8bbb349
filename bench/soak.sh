#!/usr/bin/env bash
# bench/soak.sh: hookbridge's memory over a long steady run, on loopback.
#
#   bench/soak.sh [--seconds S] [--rate R]
#
# Starts its own Kafka (tests/kafka/kafka.sh on 127.0.0.1:$HB_SOAK_KAFKA_PORT,
# default 39192, state /tmp/hb-soak-kafka; HB_BENCH_BROKERS=host:port uses a
# running broker instead) and an nginx sink (204), runs one worker with the
# benchmark's one-webhook configuration, produces R events/s (default 5,000)
# for S seconds (default 600), and samples the worker's RSS every 10 s.
# Prints the series and the first-minute / last-minute RSS, and writes them
# to bench/results/soak-latest.json. It reports; it does not assert.
set -euo pipefail

me=bench/soak.sh
# root bench build tools hb pids ok; say die usage bad_arg cleanup
# bench_traps kafka_up kafka_ready nginx_sink build_all
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
seconds=600
rate=5000
while [ $# -gt 0 ]; do
        case $1 in
        --seconds) seconds=${2:?--seconds S}; shift ;;
        --rate) rate=${2:?--rate R}; shift ;;
        -h | --help) usage ;;
        *) bad_arg "$1" ;;
        esac
        shift
done
[[ $seconds =~ ^[0-9]+$ ]] && [ "$seconds" -ge 30 ] ||
        { echo "$me: --seconds wants a number >= 30" >&2; exit 2; }
[[ $rate =~ ^[0-9]+$ ]] && [ "$rate" -ge 1 ] ||
        { echo "$me: --rate wants a number >= 1" >&2; exit 2; }

kport=${HB_SOAK_KAFKA_PORT:-39192}
kstate=${HB_SOAK_KAFKA_STATE:-/tmp/hb-soak-kafka}
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-soak.XXXXXX")
runid=$(date -u +%Y%m%dT%H%M%SZ)-$$
bench_traps

kafka_up
build_all "$work/build.log"
kafka_ready
nginx_sink "$work/nginx"

topic=soak-$runid
"$tools/bench-produce" --brokers "$brokers" --topic "$topic" --partitions 6 \
        >/dev/null 2>"$work/create.err" || { cat "$work/create.err" >&2; die "creating $topic failed"; }
sed -e "s|@BROKERS@|$brokers|g" -e "s|@TOPIC@|$topic|g" \
        -e "s|@GROUP@|soak-$runid|g" -e "s|@URL@|http://127.0.0.1:$ngx_port|g" \
        -e "s|@PER_PARTITION@|2000|g" -e "s|@CONCURRENCY@|64|g" \
        "$bench/hookbridge.cfg.in" >"$work/soak.cfg"
"$hb" run -c "$work/soak.cfg" >"$work/worker.log" 2>&1 &
hb_pid=$!
pids+=("$hb_pid")
for _ in $(seq 1 600); do
        [ "$(grep -c 'msg="partition assigned"' "$work/worker.log")" -ge 6 ] && break
        kill -0 "$hb_pid" 2>/dev/null || break
        sleep 0.1
done
[ "$(grep -c 'msg="partition assigned"' "$work/worker.log")" -ge 6 ] ||
        { tail -n 20 "$work/worker.log" >&2; die "the worker got no assignment"; }

say "producing $rate events/s for ${seconds}s; RSS every 10 s"
"$tools/bench-produce" --brokers "$brokers" --topic "$topic" --rate "$rate" \
        --seconds "$seconds" >"$work/produce.json" 2>"$work/produce.err" &
prod_pid=$!
pids+=("$prod_pid")
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$hb_pid/status"; }
series=()
t=0
while kill -0 "$prod_pid" 2>/dev/null; do
        sleep 10
        t=$((t + 10))
        kill -0 "$hb_pid" 2>/dev/null || die "the worker died (log: $work/worker.log)"
        r=$(rss_kb)
        series+=("$t:$r")
        printf '%5d s  RSS %6.1f MiB\n' "$t" "$(awk "BEGIN { print $r / 1024 }")"
done
wait "$prod_pid" || { cat "$work/produce.err" >&2; die "producing failed"; }
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$hb_pid/status")
kill -TERM "$hb_pid"
wait "$hb_pid" || true
delivered=$(sed -n 's/.*msg="\{0,1\}stopped.* delivered=\([0-9]*\).*/\1/p' "$work/worker.log" | tail -n 1)
produced=$(sed -n 's/.*"produced":\([0-9]*\).*/\1/p' "$work/produce.json")

# first and last minute (6 samples each)
n=${#series[@]}
first=$(printf '%s\n' "${series[@]:0:6}" | cut -d: -f2 | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f", lo / 1024, hi / 1024 }')
last=$(printf '%s\n' "${series[@]:$((n > 6 ? n - 6 : 0))}" | cut -d: -f2 | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f", lo / 1024, hi / 1024 }')
printf '\nsoak: %s events/s for %s s, produced %s, delivered %s (before SIGTERM)\n' \
        "$rate" "$seconds" "${produced:-?}" "${delivered:-?}"
printf 'RSS first minute %s MiB, last minute %s MiB, peak (VmHWM) %.1f MiB\n' \
        "$first" "$last" "$(awk "BEGIN { print $hwm / 1024 }")"
mkdir -p "$bench/results"
{
        printf '{"when":"%s","commit":"%s","rate":%s,"seconds":%s,"produced":%s,"delivered":%s,' \
                "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
                "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
                "$rate" "$seconds" "${produced:-0}" "${delivered:-0}"
        printf '"rss_first_minute_mib":"%s","rss_last_minute_mib":"%s","peak_rss_mib":%.1f,' \
                "$first" "$last" "$(awk "BEGIN { print $hwm / 1024 }")"
        printf '"rss_kb_every_10s":[%s]}\n' "$(printf '%s\n' "${series[@]}" | cut -d: -f2 | paste -sd,)"
} >"$bench/results/soak-latest.json"
say "written: bench/results/soak-latest.json"
ok=1
