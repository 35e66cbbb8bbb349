#!/usr/bin/env bash
# bench/store_scale.sh: issue 12's scale figures on a real broker: a fresh
# replica loading the webhook store, and the one-webhook throughput with
# the store loaded versus empty.
#
#   bench/store_scale.sh [--webhooks N] [--apps A] [--events E] [--rounds R]
#                        [--keep]
#
#   1. fill: `bench-store-scale --fill` writes N webhooks over A apps
#      (default 100,000 over 10,000) as creates to a new store topic (one
#      partition, compacted, created as hookbridge creates it).
#   2. load: a fresh `hookbridge run` (Release) with api.listen on that
#      topic: from process start to its "store: caught up" log line and to
#      /readyz answering 200 (goal < 10 s); VmRSS at ready and 5 s later,
#      VmHWM (goal < 256 MiB); /status's count of store webhooks.
#   3. throughput: bench/run.sh's one-webhook row (bench/hookbridge.cfg.in,
#      the nginx sink, E events, default 200,000, 6 partitions) with the N
#      webhooks loaded, with an empty store and without the API, R rounds
#      (default 2) in turn: each run a fresh worker on a fresh, empty
#      topic; once /readyz says ready the E events are produced and the
#      run lasts until every offset is committed. Events/s from ready to
#      the last commit (the production inside it, the same for all): the
#      store's load left out, and nothing prefetched while it loads.
#      Goal: loaded within 10% of empty.
# Uses the broker at HB_BENCH_BROKERS (default 127.0.0.1:19092, the tests'
# broker; topics and groups are unique per run, nothing is deleted).
# Prints a Markdown table with the 1-minute load average at each phase and
# writes it as JSON to bench/results/store-scale-latest.json. It reports;
# it does not assert.
set -euo pipefail

me=bench/store_scale.sh
# root bench build tools hb pids ok keep; say die usage free_port stop_pid
# cleanup bench_traps nginx_sink json_num calc build_all
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

webhooks=100000
apps=10000
events=200000
rounds=2
keep=0
while [ $# -gt 0 ]; do
        case $1 in
        --webhooks) webhooks=${2:?--webhooks N}; shift ;;
        --apps) apps=${2:?--apps A}; shift ;;
        --events) events=${2:?--events E}; shift ;;
        --rounds) rounds=${2:?--rounds R}; shift ;;
        --keep) keep=1 ;;
        -h | --help) usage ;;
        *) die "unknown argument '$1' (see --help)" ;;
        esac
        shift
done
for v in "$webhooks" "$apps" "$events" "$rounds"; do
        [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || die "'$v' is not a count"
done

brokers=${HB_BENCH_BROKERS:-127.0.0.1:19092}
runid=$(date -u +%Y%m%dT%H%M%SZ)-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-store-scale.XXXXXX")
bench_traps

now_s() { date +%s.%N; }
load1() { cut -d' ' -f1 /proc/loadavg; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# cpu_s PID: its CPU seconds so far (utime + stime, every thread)
cpu_s() {
        awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"
}

build_all "$work/build.log"
cmake --build "$build" -j2 --target bench-store-scale >>"$work/build.log" 2>&1 ||
        { tail -n 30 "$work/build.log" >&2; die "bench-store-scale did not build"; }
fill=$build/bench-store-scale

# the nginx sink
nginx_sink "$work/nginx"

# the sealing key of the filled records, as api.secret_key_file wants it
"$fill" --key >"$work/store.key"
chmod 600 "$work/store.key"

# make_cfg NAME TOPIC STORE_TOPIC|-: bench/hookbridge.cfg.in with a fresh
# group, an admin port ($admin_port) and, unless STORE_TOPIC is -, the API
make_cfg() {
        local cfg=$work/$1.cfg
        admin_port=$(free_port)
        sed -e "s|@BROKERS@|$brokers|g" -e "s|@TOPIC@|$2|g" \
                -e "s|@GROUP@|store-scale-$runid-$1|g" \
                -e "s|@URL@|http://127.0.0.1:$ngx_port|g" \
                -e "s|@PER_PARTITION@|2000|g" -e "s|@CONCURRENCY@|64|g" \
                -e "s|^admin = .*|admin = { listen = \"127.0.0.1:$admin_port\"; };|" \
                "$bench/hookbridge.cfg.in" >"$cfg"
        if [ "$3" != - ]; then
                cat >>"$cfg" <<EOF
api = { listen = "127.0.0.1:$(free_port)"; store_topic = "$3";
  store_replication_factor = 1; secret_key_file = "$work/store.key"; };
EOF
        fi
        "$hb" check-config -c "$cfg" >/dev/null || die "configuration $cfg is invalid"
}

store=store-scale-$runid
empty=store-scale-empty-$runid
idle=store-scale-idle-$runid

# wait_ready PID LOG: until /readyz on $admin_port answers 200 (60 s at
# most); sets ready (now_s then)
wait_ready() {
        local i
        ready=
        for i in $(seq 1 1200); do
                if curl -sf -o /dev/null "http://127.0.0.1:$admin_port/readyz"; then
                        ready=$(now_s)
                        return 0
                fi
                kill -0 "$1" 2>/dev/null || break
                sleep 0.05
        done
        tail -n 20 "$2" >&2
        die "the replica did not become ready"
}

# --- 1. fill ----------------------------------------------------------------

l_fill=$(load1)
say "1. writing $webhooks webhooks over $apps apps to $store"
"$fill" --fill "$brokers" "$store" "$webhooks" "$apps" >"$work/fill.json" ||
        die "filling the store topic failed"
fill_s=$(json_num seconds "$work/fill.json")

say "producing 1 event into $idle"
"$tools/bench-produce" --brokers "$brokers" --topic "$idle" --partitions 1 \
        --count 1 >"$work/produce-idle.json" 2>"$work/produce-idle.err" ||
        { cat "$work/produce-idle.err" >&2; die "producing failed"; }

# --- 2. load ----------------------------------------------------------------

l_load=$(load1)
say "2. a fresh replica loading them"
make_cfg load "$idle" "$store"
t0=$(now_s)
"$hb" run -c "$work/load.cfg" >"$work/load.log" 2>&1 &
hb_pid=$!
pids+=("$hb_pid")
wait_ready "$hb_pid" "$work/load.log"
ready_s=$(calc "$ready - $t0" 2)
cpu_ready=$(cpu_s "$hb_pid")
rss_ready=$(status_kb "$hb_pid" VmRSS)
sleep 5
rss_later=$(status_kb "$hb_pid" VmRSS)
hwm=$(status_kb "$hb_pid" VmHWM)
curl -sf "http://127.0.0.1:$admin_port/status" >"$work/load-status.json" || true
loaded=$(sed -n 's/.*"store_webhooks":{[^}]*"count":\([0-9]*\).*/\1/p' "$work/load-status.json")
caught=$(grep -m1 'msg="store: caught up"' "$work/load.log" || true)
caught_ms=$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<<"$caught")
caught_records=$(sed -n 's/.* records=\([0-9]*\).*/\1/p' <<<"$caught")
stop_pid "$hb_pid" 30

# --- 3. throughput ------------------------------------------------------------

# drain NAME STORE_TOPIC|-: a fresh worker on a fresh topic; once ready,
# E events produced; until its group committed them all. Sets d_ready
# (start to ready), d_run (ready to the last commit), d_produce, d_hwm.
drain() {
        local name=$1 pid t0 t=store-scale-events-$runid-$1
        "$tools/bench-produce" --brokers "$brokers" --topic "$t" --partitions 6 \
                >/dev/null 2>"$work/$name.produce.err" ||
                { cat "$work/$name.produce.err" >&2; die "creating $t failed"; }
        make_cfg "$name" "$t" "$2"
        t0=$(now_s)
        "$hb" run -c "$work/$name.cfg" >"$work/$name.log" 2>&1 &
        pid=$!
        pids+=("$pid")
        wait_ready "$pid" "$work/$name.log"
        d_ready=$(calc "$ready - $t0" 2)
        "$tools/bench-produce" --brokers "$brokers" --topic "$t" --count "$events" \
                >"$work/$name.produce.json" 2>"$work/$name.produce.err" ||
                { cat "$work/$name.produce.err" >&2; die "producing to $t failed"; }
        "$tools/bench-committed" --brokers "$brokers" --group "store-scale-$runid-$name" \
                --topic "$t" --pid "$pid" --interval-ms 200 --timeout 1800 \
                >"$work/$name.committed.json" 2>"$work/$name.committed.err" ||
                { tail -n 20 "$work/$name.log" >&2; die "$name: not every offset was committed"; }
        stop_pid "$pid" 30
        grep -q "delivered=$events" "$work/$name.log" ||
                { tail -n 5 "$work/$name.log" >&2; die "$name: not $events delivered"; }
        # bench-committed counts from the process's start
        d_run=$(calc "$(json_num seconds "$work/$name.committed.json") - $d_ready" 3)
        d_produce=$(json_num seconds_acked "$work/$name.produce.json")
        d_hwm=$(json_num vmhwm_kb "$work/$name.committed.json")
}

rows=()
json_rows=()
declare -A sum=([loaded]=0 [empty]=0 [off]=0) best=([loaded]=0 [empty]=0 [off]=0)
for r in $(seq 1 "$rounds"); do
        for kind in loaded empty off; do
                case $kind in
                loaded) st=$store ;;
                empty) st=$empty ;;
                off) st=- ;;
                esac
                l=$(load1)
                say "3. round $r, store $kind: $events events to one webhook"
                drain "$kind-$r" "$st"
                rate=$(calc "$events / $d_run" 0)
                rows+=("| $kind | $r | $rate | $d_run s ($d_produce s producing) | $d_ready s | $(calc "$d_hwm / 1024" 1) MiB | $l |")
                json_rows+=("{\"store\":\"$kind\",\"round\":$r,\"events_per_s\":$rate,\"ready_to_committed_s\":$d_run,\"produce_s\":$d_produce,\"start_to_ready_s\":$d_ready,\"vmhwm_kb\":$d_hwm,\"load1\":$l}")
                sum[$kind]=$(calc "${sum[$kind]} + $rate" 1)
                best[$kind]=$(calc "($rate > ${best[$kind]}) ? $rate : ${best[$kind]}" 0)
        done
done
l_end=$(load1)
delta=$(calc "(${sum[loaded]} - ${sum[empty]}) * 100 / ${sum[empty]}" 1)
delta_best=$(calc "(${best[loaded]} - ${best[empty]}) * 100 / ${best[empty]}" 1)

cat <<EOF

store scale ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, uptime: $(uptime))

| measurement | result | detail |
| --- | --- | --- |
| fill: $webhooks webhooks over $apps apps written to the store topic | $fill_s s | load $l_fill |
| fresh replica: process start to /readyz 200 | $ready_s s | $cpu_ready CPU-s by then; store caught up after ${caught_ms:-?} ms (${caught_records:-?} records); /status counts ${loaded:-?} store webhooks; load $l_load |
| fresh replica: RSS | $(calc "$rss_ready / 1024" 1) MiB at ready, $(calc "$rss_later / 1024" 1) MiB 5 s later | VmHWM $(calc "$hwm / 1024" 1) MiB |

one webhook, $events events produced once the worker is ready, 6 partitions:

| store | round | events/s, ready to last commit | ready to last commit | start to ready | peak RSS | load |
| --- | --- | --- | --- | --- | --- | --- |
$(printf '%s\n' "${rows[@]}")

loaded vs empty: $delta% (mean of $rounds), $delta_best% (best of $rounds: ${best[loaded]} vs ${best[empty]} events/s; API off ${best[off]}); load at the end $l_end
EOF

mkdir -p "$bench/results"
cat >"$bench/results/store-scale-latest.json" <<EOF
{"run":"$runid","webhooks":$webhooks,"apps":$apps,"events":$events,
 "fill_s":$fill_s,"ready_s":$ready_s,"cpu_s_at_ready":$cpu_ready,"store_caught_up_ms":${caught_ms:-null},
 "store_webhooks_counted":${loaded:-null},"rss_ready_kb":$rss_ready,
 "rss_5s_kb":$rss_later,"vmhwm_kb":$hwm,
 "loads":{"fill":$l_fill,"load":$l_load,"end":$l_end},
 "throughput":[$(IFS=,; echo "${json_rows[*]}")],
 "loaded_vs_empty_pct_mean":$delta,
 "loaded_vs_empty_pct_best":$delta_best}
EOF
ok=1
