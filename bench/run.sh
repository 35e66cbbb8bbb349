#!/usr/bin/env bash
# bench/run.sh: hookbridge's benchmark on this machine, on loopback only.
#
#   bench/run.sh [--smoke] [--events N] [--concurrency C] [--profile|--no-profile]
#                [--keep]
#
# Measures, against its own Apache Kafka (tests/kafka/kafka.sh on
# 127.0.0.1:$HB_BENCH_KAFKA_PORT, default 39092, state in
# $HB_BENCH_KAFKA_STATE, default /tmp/hb-bench-kafka; stopped at the end)
# and its own nginx sink:
#   1. the Kafka read limit: a plain librdkafka consumer reading the topic
#   2. the HTTP limit: wrk POSTing a ~600-byte payload to nginx (204) with
#      delivery.concurrency connections, before the hookbridge rows and
#      again after them (2b)
#   3. hookbridge's throughput: N events (6 partitions) to one webhook, then
#      to three (fan-out), from process start until every offset is
#      committed; CPU seconds per 100k events and peak RSS; 3t: one
#      webhook again with delivery.threads = the CPUs (at least 2)
#   4. latency at a steady 5,000 events/s (bench-latency-sink, not nginx)
#   5. the ratio of (3) to min((1), (2)), and to min((1), (2b))
#   6. scale: 1, 2 and 3 workers in one group on a 12-partition topic
#   3d. 100 webhooks (one per app), retry tiers on: healthy deliveries/s
#      all healthy and with 10 of them answering 500
#   and, unless --no-profile (default in --smoke), a callgrind profile of a
#   20k-event run.
# Prints a table and writes it as JSON to bench/results/latest.json and
# bench/results/<UTC time>.json (--smoke: smoke-latest.json, smoke-<time>.json).
#
# --smoke        5,000 events, short runs, no profile: < 2 minutes (CI)
# --events N     events for (1), (3) and (6) (default 1,000,000)
# --concurrency  delivery.concurrency and wrk's connections (default 64)
# --keep         keep the work directory (logs, configs) even on success
#
# Environment: HB_BENCH_KAFKA_PORT, HB_BENCH_KAFKA_STATE (above);
# HB_BENCH_BROKERS=host:port uses a running broker instead (topics and
# groups are unique per run; nothing is deleted there).
set -euo pipefail

me=bench/run.sh
# root bench build tools hb pids ok keep; say die usage bad_arg port_in_use
# free_port wait_listening stop_pid cleanup bench_traps kafka_sh kafka_up
# kafka_ready nginx_sink json_num calc build_all
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

smoke=0
events=1000000
events_set=0
concurrency=64
profile=auto
keep=0
while [ $# -gt 0 ]; do
        case $1 in
        --smoke) smoke=1 ;;
        --events)
                events=${2:?--events N}
                events_set=1
                shift
                ;;
        --concurrency)
                concurrency=${2:?--concurrency C}
                shift
                ;;
        --profile) profile=1 ;;
        --no-profile) profile=0 ;;
        --keep) keep=1 ;;
        -h | --help) usage ;;
        *) bad_arg "$1" ;;
        esac
        shift
done
[[ $events =~ ^[0-9]+$ ]] && [ "$events" -ge 1000 ] ||
        { echo "$me: --events wants a number >= 1000" >&2; exit 2; }
[[ $concurrency =~ ^[0-9]+$ ]] && [ "$concurrency" -ge 1 ] &&
        [ "$concurrency" -le 4096 ] ||
        { echo "$me: --concurrency wants 1..4096" >&2; exit 2; }

if [ "$smoke" = 1 ]; then
        [ "$events_set" = 1 ] || events=5000
        wrk_seconds=3
        lat_seconds=5
        lat_warmup=3
        [ "$profile" = auto ] && profile=0
        run_timeout=60
else
        wrk_seconds=20
        lat_seconds=60
        # a new topic's first seconds at 5,000/s are slow for any consumer
        # (a plain one too): measure the steady state after them
        lat_warmup=15
        [ "$profile" = auto ] && profile=1
        run_timeout=1200
fi
partitions=6
scale_partitions=12
lat_rate=5000
profile_events=20000

kport=${HB_BENCH_KAFKA_PORT:-39092}
kstate=${HB_BENCH_KAFKA_STATE:-/tmp/hb-bench-kafka}
runid=$(date -u +%Y%m%dT%H%M%SZ)-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-bench.XXXXXX")
t_start=$(date +%s)

# The 1-minute load average at the start of each phase: the benchmark
# shares the machine, and a busy neighbour shows up here.
loads=()
note_load() { loads+=("$1=$(cut -d' ' -f1 /proc/loadavg)"); }

# --- cleanup (lib.sh's, and the lock) -------------------------------------

cleanup_more() {
        if [ "${locked:-0}" = 1 ]; then
                rm -rf "$lockdir"
        fi
}
bench_traps

# start CMD... in the background, logging to $log; sets $last_pid
start_bg() {
        local log=$1
        shift
        "$@" >"$log" 2>&1 &
        last_pid=$!
        pids+=("$last_pid")
}

# run_fg CMD...: run CMD in the foreground, but so that a signal to this script
# is handled at once (bash runs traps only between foreground commands;
# `wait` is interrupted) and CMD is stopped by the cleanup.
run_fg() {
        "$@" &
        local p=$!
        pids+=("$p")
        wait "$p"
}

# fmt_int 1234567.8 -> 1,234,568
fmt_int() {
        LC_ALL=C printf '%.0f' "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'
}

need() {
        local t
        for t in "$@"; do
                command -v "$t" >/dev/null 2>&1 ||
                        die "'$t' is not installed (tests/deps.sh installs what the benchmark needs)"
        done
}

need cmake cc pkg-config nginx wrk curl awk sed timeout
[ "$profile" = 0 ] || need valgrind callgrind_annotate

# One benchmark at a time per broker state: a second one would stop the
# first one's Kafka. A lock directory holds the owner's pid.
lockdir=$kstate.run-lock
if ! mkdir "$lockdir" 2>/dev/null; then
        owner=$(cat "$lockdir/pid" 2>/dev/null || true)
        if [[ $owner =~ ^[0-9]+$ ]] && kill -0 "$owner" 2>/dev/null; then
                die "another bench/run.sh (pid $owner) is running on $kstate"
        fi
        say "taking over the stale lock $lockdir (pid ${owner:-?} is gone)"
fi
echo $$ >"$lockdir/pid"
locked=1

# --- 0. broker and builds, side by side -----------------------------------

kafka_up
build_all "$work/build.log"
kafka_ready

# --- the nginx sink --------------------------------------------------------

nginx_sink "$work/nginx"
ngx=$work/nginx
sink=http://127.0.0.1:$ngx_port
# two POSTs on one keep-alive connection: both must be 204
codes=$(curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
        -d '{"type":"flows.seen"}' "$sink/a" -d '{"type":"flows.seen"}' "$sink/b" \
        2>/dev/null | tr '\n' ' ' || true)
[ "$codes" = "204 204 " ] || {
        cat "$ngx/error.log" >&2 || true
        die "the nginx sink on $sink does not answer POST with 204 (got '$codes')"
}

# --- helpers for a hookbridge run -----------------------------------------

topic=bench-$runid
scale_topic=bench-scale-$runid
lat_topic=bench-latency-$runid
prof_topic=bench-profile-$runid

# make_cfg TEMPLATE OUT TOPIC GROUP URL [MAX_IN_FLIGHT_PER_PARTITION [THREADS]]
# (THREADS: the template's delivery.threads; none: its 1, one loop as
# the rows say, not the default's one per CPU)
make_cfg() {
        sed -e "s|@BROKERS@|$brokers|g" -e "s|@TOPIC@|$3|g" \
                -e "s|@GROUP@|$4|g" -e "s|@URL@|$5|g" \
                -e "s|@PER_PARTITION@|${6:-2000}|g" \
                -e "s|^  threads = .*|  threads = ${7:-1};|" \
                -e "s|@CONCURRENCY@|$concurrency|g" "$1" >"$2"
        "$hb" check-config -c "$2" >/dev/null ||
                die "generated configuration $2 is invalid"
}

# produce TOPIC PARTITIONS COUNT OUT
produce() {
        run_fg timeout 900 "$tools/bench-produce" --brokers "$brokers" --topic "$1" \
                --partitions "$2" --count "$3" >"$4" 2>"$4.err" ||
                { cat "$4.err" >&2; die "producing to $1 failed"; }
}

# FIELD of the "stopped ... consumed=N delivered=M" lines of a worker's
# log, summed (one per process: with delivery.threads > 1 the loops'
# own lines are "delivery loop stopped", the process's the sum).
log_field() { # FIELD LOG
        sed -n "s/.*msg=\"\{0,1\}stopped.* $1=\([0-9]*\).*/\1/p" "$2" |
                awk '{ n += $1; any = 1 } END { if (any) print n }'
}

# run_workers NAME CFG COUNT TOPIC GROUP [WRAPPER...]: start COUNT workers
# and wait until GROUP committed the end of TOPIC; results in
# $work/NAME.committed.json and the workers' logs $work/NAME.<i>.log.
run_workers() {
        local name=$1 cfg=$2 count=$3 t=$4 g=$5 i
        shift 5
        local wpids=() pidargs=()
        for i in $(seq 1 "$count"); do
                start_bg "$work/$name.$i.log" "$@" "$hb" run -c "$cfg"
                wpids+=("$last_pid")
                pidargs+=(--pid "$last_pid")
        done
        if ! run_fg "$tools/bench-committed" --brokers "$brokers" --group "$g" \
                --topic "$t" "${pidargs[@]}" --interval-ms 200 \
                --timeout "$run_timeout" >"$work/$name.committed.json" \
                2>"$work/$name.committed.err"; then
                cat "$work/$name.committed.err" >&2
                for i in $(seq 1 "$count"); do
                        say "--- last lines of $work/$name.$i.log"
                        tail -n 15 "$work/$name.$i.log" >&2
                done
                die "$name: the group did not commit every offset"
        fi
        # when the group was done, in the workers' log time format
        date -u +%Y-%m-%dT%H:%M:%S.%3NZ >"$work/$name.done-at"
        # all at once: a worker leaving must not hand its partitions to
        # the others while they are still running
        for i in "${wpids[@]}"; do
                kill -TERM "$i" 2>/dev/null || true
        done
        for i in "${wpids[@]}"; do
                stop_pid "$i" "${stop_grace:-30}"
        done
}

# --- 1. data and the Kafka read limit -------------------------------------

say "producing $(fmt_int "$events") events into $topic ($partitions partitions)"
produce "$topic" "$partitions" "$events" "$work/produce.json"
produced=$(json_num produced "$work/produce.json")
[ "$produced" = "$events" ] || die "produced $produced of $events events"
produce_rate=$(calc "$produced / $(json_num seconds_acked "$work/produce.json")" 0)
event_bytes=$(calc "$(json_num bytes "$work/produce.json") / $produced" 0)

note_load read
say "1. Kafka read limit"
run_fg timeout 900 "$tools/bench-kafka-read" --brokers "$brokers" --topic "$topic" \
        >"$work/read.json" 2>"$work/read.err" ||
        { cat "$work/read.err" >&2; die "bench-kafka-read failed"; }
read_n=$(json_num events "$work/read.json")
[ "$read_n" = "$events" ] || die "bench-kafka-read read $read_n of $events events"
read_rate=$(json_num events_per_s "$work/read.json")
read_mbs=$(json_num mb_per_s "$work/read.json")

# --- 2. HTTP limit ---------------------------------------------------------

# http_limit NAME: wrk against the sink; sets h_rate h_body. Run before
# the hookbridge rows and again after them (2b): this machine's limit
# swings (83k-132k req/s in one day), so both are reported.
http_limit() {
        local wrk_threads=2
        [ "$concurrency" -lt 2 ] && wrk_threads=1
        run_fg timeout $((wrk_seconds + 60)) wrk -t"$wrk_threads" -c"$concurrency" \
                -d"${wrk_seconds}s" --timeout 10s -s "$bench/post.lua" "$sink/" \
                >"$work/$1.txt" 2>&1 || { cat "$work/$1.txt" >&2; die "wrk failed"; }
        if grep -qE 'Non-2xx|Socket errors' "$work/$1.txt"; then
                cat "$work/$1.txt" >&2
                die "wrk saw errors from the nginx sink"
        fi
        h_rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$work/$1.txt")
        h_body=$(sed -n 's/^body_bytes \([0-9]*\)/\1/p' "$work/$1.txt")
        [ -n "$h_rate" ] || { cat "$work/$1.txt" >&2; die "no Requests/sec from wrk"; }
}

note_load http
say "2. HTTP limit: wrk -c$concurrency for ${wrk_seconds}s"
http_limit wrk
http_rate=$h_rate
http_body=$h_body

# --- 3. hookbridge throughput ---------------------------------------------

# summarize NAME EVENTS DELIVERIES_PER_EVENT: sets r_seconds r_rate
# r_drate r_cpu100k r_rss_mib r_first r_delivered
summarize() {
        local f=$work/$1.committed.json
        r_seconds=$(json_num seconds "$f")
        r_first=$(json_num first_commit_s "$f")
        r_rate=$(calc "$2 / $r_seconds" 0)
        r_drate=$(calc "$2 * $3 / $r_seconds" 0)
        r_cpu100k=$(calc "$(json_num cpu_s "$f") / $2 * 100000" 2)
        r_rss_mib=$(calc "$(json_num vmhwm_kb "$f") / 1024" 1)
        r_delivered=$(log_field delivered "$work/$1.1.log")
}

note_load one
say "3a. hookbridge, one webhook: $(fmt_int "$events") events"
make_cfg "$bench/hookbridge.cfg.in" "$work/one.cfg" "$topic" \
        "bench-one-$runid" "$sink"
run_workers one "$work/one.cfg" 1 "$topic" "bench-one-$runid"
summarize one "$events" 1
one_seconds=$r_seconds one_rate=$r_rate one_cpu=$r_cpu100k
one_rss=$r_rss_mib one_first=$r_first one_delivered=$r_delivered
[ "${one_delivered:-0}" -ge "$events" ] ||
        die "one webhook: delivered ${one_delivered:-?} of $events"

note_load fanout
say "3b. hookbridge, three webhooks (fan-out): $(fmt_int "$events") events"
make_cfg "$bench/hookbridge-fanout.cfg.in" "$work/fanout.cfg" "$topic" \
        "bench-fanout-$runid" "$sink"
run_workers fanout "$work/fanout.cfg" 1 "$topic" "bench-fanout-$runid"
summarize fanout "$events" 3
fan_seconds=$r_seconds fan_rate=$r_rate fan_drate=$r_drate fan_cpu=$r_cpu100k
fan_rss=$r_rss_mib fan_first=$r_first fan_delivered=$r_delivered
[ "${fan_delivered:-0}" -ge $((events * 3)) ] ||
        die "fan-out: delivered ${fan_delivered:-?} of $((events * 3))"

note_load nopause
say "3c. hookbridge, one webhook, max_in_flight_per_partition = max_in_flight"
make_cfg "$bench/hookbridge.cfg.in" "$work/nopause.cfg" "$topic" \
        "bench-nopause-$runid" "$sink" 10000
run_workers nopause "$work/nopause.cfg" 1 "$topic" "bench-nopause-$runid"
summarize nopause "$events" 1
np_seconds=$r_seconds np_rate=$r_rate np_cpu=$r_cpu100k np_rss=$r_rss_mib
np_first=$r_first np_delivered=$r_delivered
[ "${np_delivered:-0}" -ge "$events" ] ||
        die "one webhook, no partition pause: delivered ${np_delivered:-?} of $events"

# 3t. 3a with delivery.threads = the CPUs (at least 2): that many
# delivery loops in the one process, each its own consumer in the group
note_load threads
nthreads=$(nproc 2>/dev/null || echo 2)
[ "$nthreads" -ge 2 ] || nthreads=2
say "3t. hookbridge, one webhook, delivery.threads = $nthreads"
make_cfg "$bench/hookbridge.cfg.in" "$work/threads.cfg" "$topic" \
        "bench-threads-$runid" "$sink" 2000 "$nthreads"
run_workers threads "$work/threads.cfg" 1 "$topic" "bench-threads-$runid"
summarize threads "$events" 1
th_seconds=$r_seconds th_rate=$r_rate th_cpu=$r_cpu100k th_rss=$r_rss_mib
th_first=$r_first th_delivered=$r_delivered
[ "${th_delivered:-0}" -ge "$events" ] ||
        die "one webhook, $nthreads threads: delivered ${th_delivered:-?} of $events"

# 3d. 100 webhooks, one per app (bench-produce --apps 100: each event goes
# to one), the retry tiers on (the default schedule: the failing ones'
# deliveries wait in the 5s tier, then the 5m one); all healthy, then 10
# of them answering 500 (nginx /fail/): healthy deliveries/s of each.
# make_tiers_cfg OUT TOPIC GROUP FAILING
make_tiers_cfg() {
        local i url sep=,
        {
                printf 'kafka = { brokers = "%s"; group_id = "%s";\n' "$brokers" "$3"
                printf '  topics = ( "%s" ); commit_interval_ms = 200;\n' "$2"
                printf '  auto_offset_reset = "earliest"; };\n'
                printf 'delivery = { concurrency = %d; timeout_ms = 10000;\n' "$concurrency"
                printf '  threads = 1; # one loop, as the other rows\n'
                printf '  connect_timeout_ms = 3000; max_in_flight = 10000;\n'
                printf '  max_in_flight_per_partition = 2000; shutdown_timeout_ms = 5000;\n'
                printf '  dead_letter_topic = "%s-dlq";\n' "$2"
                printf '  retry = { initial_ms = 100; max_ms = 2000; max_attempts = 3; tier_partitions = %d; };\n' "$partitions"
                printf '  allow_networks = [ "127.0.0.0/8" ]; };\nwebhooks = (\n'
                for ((i = 0; i < 100; i++)); do
                        [ "$i" = 99 ] && sep=
                        if [ "$i" -lt "$4" ]; then url=$sink/fail/$i; else url=$sink/h/$i; fi
                        printf '  { name = "w%02d"; app_token = "bench-app-%04d"; url = "%s"; events = [ "*" ]; }%s\n' \
                                "$i" "$i" "$url" "$sep"
                done
                printf ');\nadmin = { listen = ""; };\nlog = { level = "info"; format = "logfmt"; };\n'
        } >"$1"
        "$hb" check-config -c "$1" >/dev/null ||
                die "generated configuration $1 is invalid"
}
tier_events=$((events / 4 > 5000 ? events / 4 : 5000))
tier_topic=bench-tiers-$runid
note_load tiers
say "3d. hookbridge, 100 webhooks (one per app), tiers on: $(fmt_int "$tier_events") events, all healthy, then 10 failing"
run_fg timeout 900 "$tools/bench-produce" --brokers "$brokers" --topic "$tier_topic" \
        --partitions "$partitions" --count "$tier_events" --apps 100 \
        >"$work/tiers-produce.json" 2>"$work/tiers-produce.err" ||
        { cat "$work/tiers-produce.err" >&2; die "producing to $tier_topic failed"; }
run_fg timeout 60 "$tools/bench-produce" --brokers "$brokers" --topic "$tier_topic-dlq" \
        --partitions 1 >/dev/null 2>"$work/tiers-dlq.err" ||
        { cat "$work/tiers-dlq.err" >&2; die "creating $tier_topic-dlq failed"; }
for nf in 0 10; do
        make_tiers_cfg "$work/tiers$nf.cfg" "$tier_topic" "bench-tiers$nf-$runid" "$nf"
        run_workers "tiers$nf" "$work/tiers$nf.cfg" 1 "$tier_topic" "bench-tiers$nf-$runid"
        summarize "tiers$nf" "$tier_events" 1
        # event n is app n mod 100's: the healthy ones get (100 - nf)%
        declare "tiers${nf}_seconds=$r_seconds" "tiers${nf}_rss=$r_rss_mib" \
                "tiers${nf}_delivered=$r_delivered" \
                "tiers${nf}_hrate=$(calc "$tier_events * (100 - $nf) / 100 / $r_seconds" 0)"
done
[ "${tiers0_delivered:-0}" -ge "$tier_events" ] ||
        die "100 webhooks: delivered ${tiers0_delivered:-?} of $tier_events"
[ "${tiers10_delivered:-0}" -ge $((tier_events * 9 / 10)) ] ||
        die "100 webhooks, 10 failing: delivered ${tiers10_delivered:-?} of $((tier_events * 9 / 10))"
tiers_ratio=$(calc "100 * $tiers10_hrate / $tiers0_hrate" 1)

# --- 4. latency ------------------------------------------------------------

note_load latency
say "4. latency: $lat_rate events/s for ${lat_seconds}s"
lat_port=$(free_port)
start_bg "$work/latency-sink.json" "$tools/bench-latency-sink" --port "$lat_port" \
        --dump "$work/latency-samples.txt"
lat_sink_pid=$last_pid
wait_listening "$lat_port" "$lat_sink_pid" || die "bench-latency-sink did not start"
run_fg timeout 60 "$tools/bench-produce" --brokers "$brokers" --topic "$lat_topic" \
        --partitions "$partitions" >/dev/null 2>"$work/latency-create.err" ||
        { cat "$work/latency-create.err" >&2; die "creating $lat_topic failed"; }
make_cfg "$bench/hookbridge.cfg.in" "$work/latency.cfg" "$lat_topic" \
        "bench-latency-$runid" "http://127.0.0.1:$lat_port"
start_bg "$work/latency.1.log" "$hb" run -c "$work/latency.cfg"
lat_hb_pid=$last_pid
# produce only once the worker owns every partition
assigned() { awk '/msg="partition assigned"/ { n++ } END { print n + 0 }' "$1" 2>/dev/null || echo 0; }
for i in $(seq 1 600); do
        [ "$(assigned "$work/latency.1.log")" -ge "$partitions" ] && break
        kill -0 "$lat_hb_pid" 2>/dev/null || break
        sleep 0.1
done
[ "$(assigned "$work/latency.1.log")" -ge "$partitions" ] ||
        { tail -n 20 "$work/latency.1.log" >&2; die "latency: the worker got no assignment"; }
# Kafka's own share: a plain consumer reads the same events meanwhile
start_bg "$work/latency-kafka.json" "$tools/bench-kafka-read" \
        --brokers "$brokers" --topic "$lat_topic" --latency
lat_probe_pid=$last_pid
sleep 1
# warm-up events (messageId warm-<n>) first: the producer's, the worker's
# and the sink's connections are up before anything is measured
run_fg timeout $((lat_warmup + lat_seconds + 120)) "$tools/bench-produce" \
        --brokers "$brokers" --topic "$lat_topic" --rate "$lat_rate" \
        --warmup "$lat_warmup" --seconds "$lat_seconds" \
        >"$work/latency-produce.json" 2>"$work/latency-produce.err" ||
        { cat "$work/latency-produce.err" >&2; die "latency: producing failed"; }
lat_produced=$(json_num produced "$work/latency-produce.json")
run_fg "$tools/bench-committed" --brokers "$brokers" --group "bench-latency-$runid" \
        --topic "$lat_topic" --pid "$lat_hb_pid" --interval-ms 200 \
        --timeout $((lat_warmup + lat_seconds + 180)) \
        >"$work/latency.committed.json" 2>"$work/latency.committed.err" ||
        { cat "$work/latency.committed.err" >&2; die "latency: not every offset was committed"; }
lat_rss=$(calc "$(json_num vmhwm_kb "$work/latency.committed.json") / 1024" 1)
stop_pid "$lat_hb_pid" 30
stop_pid "$lat_sink_pid" 10
stop_pid "$lat_probe_pid" 10
klat_p50=$(json_num p50_ms "$work/latency-kafka.json")
klat_p99=$(json_num p99_ms "$work/latency-kafka.json")
klat_p999=$(json_num p999_ms "$work/latency-kafka.json")
[ -n "$klat_p99" ] || { cat "$work/latency-kafka.json" >&2; die "latency: no result from the plain consumer"; }
lat_samples=$(json_num samples "$work/latency-sink.json")
[ "${lat_samples:-0}" -ge "$lat_produced" ] || {
        cat "$work/latency-sink.json" >&2
        die "latency: the sink saw ${lat_samples:-0} of $lat_produced events"
}
lat_p50=$(json_num p50_ms "$work/latency-sink.json")
lat_p99=$(json_num p99_ms "$work/latency-sink.json")
lat_p999=$(json_num p999_ms "$work/latency-sink.json")
lat_max=$(json_num max_ms "$work/latency-sink.json")

# --- 6. scale --------------------------------------------------------------

note_load scale
say "6. scale: 1, 2, 3 workers on $scale_partitions partitions, $(fmt_int "$events") events"
produce "$scale_topic" "$scale_partitions" "$events" "$work/scale-produce.json"
declare -A sc_rate sc_shares sc_parts
for n in 1 2 3; do
        make_cfg "$bench/hookbridge.cfg.in" "$work/scale$n.cfg" "$scale_topic" \
                "bench-scale$n-$runid" "$sink"
        run_workers "scale$n" "$work/scale$n.cfg" "$n" "$scale_topic" \
                "bench-scale$n-$runid"
        sc_rate[$n]=$(calc "$events / $(json_num seconds "$work/scale$n.committed.json")" 0)
        total=0
        for i in $(seq 1 "$n"); do
                c=$(log_field consumed "$work/scale$n.$i.log")
                total=$((total + ${c:-0}))
        done
        shares="" parts=""
        for i in $(seq 1 "$n"); do
                c=$(log_field consumed "$work/scale$n.$i.log")
                # partitions held when the group was done
                held=$(awk -v done="ts=$(cat "$work/scale$n.done-at")" '
                        $1 >= done || /msg="stopped"/ { exit }
                        /msg="partition assigned"/ { n++ }
                        /msg="partition (revoked|lost)"/ { n-- }
                        END { print n + 0 }' "$work/scale$n.$i.log")
                shares+="${shares:+ / }$(calc "100 * ${c:-0} / ($total > 0 ? $total : 1)" 0)%"
                parts+="${parts:+ / }$held"
        done
        sc_shares[$n]=$shares
        sc_parts[$n]=$parts
done

# --- profile ---------------------------------------------------------------

# top_functions ANNOTATE_OUTPUT TOTAL N: callgrind_annotate's lines
# "1,234 (5.6%)  file:function [object]" summed per function (glibc splits
# one function over several source files and inlined headers), the N
# largest as
# "  12.34%  function (object)".
top_functions() {
        awk -v total="$2" '
                /file:function/ { body = 1; next }
                body && /^ *[0-9,]+ +\(/ {
                        ir = $1; gsub(/,/, "", ir)
                        rest = $0; sub(/^ *[0-9,]+ +\([^)]*\) +/, "", rest)
                        obj = ""
                        if (match(rest, / \[[^]]*\]$/)) {
                                obj = substr(rest, RSTART + 2, RLENGTH - 3)
                                rest = substr(rest, 1, RSTART - 1)
                                sub(/.*\//, "", obj)
                        } else {
                                obj = "?"
                        }
                        n = split(rest, parts, ":")
                        fn = parts[n]
                        sum[fn] += ir
                        if (obj != "?" && !(fn in lib))
                                lib[fn] = obj
                }
                END {
                        for (k in sum)
                                printf "%d\t%s (%s)\n", sum[k], k,
                                        (k in lib) ? lib[k] : "?"
                }' "$1" |
                sort -t "$(printf '\t')" -k1,1nr | awk -v n="$3" 'NR <= n' |
                awk -F '\t' -v total="$2" \
                        '{ printf "%7.2f%%  %s\n", 100 * $1 / total, $2 }'
}

note_load http_after
say "2b. HTTP limit again, after the hookbridge rows"
http_limit wrk-after
http_after=$h_rate

prof_top=""
if [ "$profile" = 1 ]; then
        note_load profile
        say "profile: callgrind on a $(fmt_int $profile_events)-event run (slow)"
        produce "$prof_topic" "$partitions" "$profile_events" "$work/profile-produce.json"
        make_cfg "$bench/hookbridge.cfg.in" "$work/profile.cfg" "$prof_topic" \
                "bench-profile-$runid" "$sink"
        stop_grace=120
        run_workers profile "$work/profile.cfg" 1 "$prof_topic" \
                "bench-profile-$runid" valgrind --tool=callgrind \
                --callgrind-out-file="$work/callgrind.out"
        stop_grace=30
        [ -s "$work/callgrind.out" ] || die "callgrind wrote no profile"
        callgrind_annotate --inclusive=no --threshold=100 \
                "$work/callgrind.out" >"$work/callgrind-self.txt" 2>&1 || true
        callgrind_annotate --inclusive=yes --threshold=100 \
                "$work/callgrind.out" >"$work/callgrind-inclusive.txt" 2>&1 || true
        prof_total=$(sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' \
                "$work/callgrind-self.txt" | tr -d ,)
        prof_top=$(top_functions "$work/callgrind-self.txt" "$prof_total" 15)
        prof_incl=$(top_functions "$work/callgrind-inclusive.txt" "$prof_total" 40)
fi

# --- 5. ratios, table, JSON -----------------------------------------------

limit=$(awk -v a="$read_rate" -v b="$http_rate" 'BEGIN { print (a < b ? a : b) }')
limit_name=$(awk -v a="$read_rate" -v b="$http_rate" 'BEGIN { print (a < b ? "Kafka read" : "HTTP") }')
ratio_one=$(calc "100 * $one_rate / $limit" 1)
ratio_fan=$(calc "100 * $fan_drate / $limit" 1)
ratio_th=$(calc "100 * $th_rate / $limit" 1)
limit_after=$(awk -v a="$read_rate" -v b="$http_after" 'BEGIN { print (a < b ? a : b) }')
ratio_one_after=$(calc "100 * $one_rate / $limit_after" 1)
ratio_fan_after=$(calc "100 * $fan_drate / $limit_after" 1)
ratio_th_after=$(calc "100 * $th_rate / $limit_after" 1)
lat_p99_ok=$(awk -v p="$lat_p99" 'BEGIN { print (p < 25 ? "yes" : "no") }')

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | awk 'NR == 1')
ncpu=$(nproc)
rdk_ver=$(pkg-config --modversion rdkafka)
curl_ver=$(pkg-config --modversion libcurl)
nginx_ver=$(nginx -v 2>&1 | sed 's/.*nginx\///')
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
# GIT_OPTIONAL_LOCKS=0: a read-only look, the index is not refreshed
dirty=$(GIT_OPTIONAL_LOCKS=0 git -C "$root" status --porcelain \
        --untracked-files=no 2>/dev/null | awk 'NR == 1')
[ -n "$dirty" ] && commit="$commit+dirty"
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
mode=$([ "$smoke" = 1 ] && echo smoke || echo full)

table=$(
        printf 'hookbridge benchmark (%s, %s): %s, %s CPU(s); Kafka 4.1.1 on loopback,\n' \
                "$mode" "$when" "$cpu_model" "$ncpu"
        printf 'librdkafka %s, libcurl %s, nginx %s; hookbridge %s (Release)\n' \
                "$rdk_ver" "$curl_ver" "$nginx_ver" "$commit"
        printf '%s events (~%s-byte raw events, 15 kinds), %d partitions, delivery.concurrency %d\n\n' \
                "$(fmt_int "$events")" "$event_bytes" "$partitions" "$concurrency"
        printf '| # | measurement | result | detail |\n'
        printf '| --- | --- | --- | --- |\n'
        printf '| 1 | Kafka read limit (plain librdkafka consumer) | %s events/s | %s MB/s |\n' \
                "$(fmt_int "$read_rate")" "$read_mbs"
        printf '| 2 | HTTP limit (wrk -c%d, %d-byte POST, nginx 204) | %s req/s | %d s |\n' \
                "$concurrency" "$http_body" "$(fmt_int "$http_rate")" "$wrk_seconds"
        printf '| 2b | the same, after the hookbridge rows | %s req/s | %d s |\n' \
                "$(fmt_int "$http_after")" "$wrk_seconds"
        printf '| 3a | hookbridge, 1 webhook (threads = 1) | %s events/s | %.1f s wall (%.1f s to first commit), %s CPU-s/100k events, peak RSS %s MiB |\n' \
                "$(fmt_int "$one_rate")" "$one_seconds" "$one_first" "$one_cpu" "$one_rss"
        printf '| 3b | hookbridge, 3 webhooks (fan-out) | %s deliveries/s | %s events/s, %.1f s wall, %s CPU-s/100k events, peak RSS %s MiB |\n' \
                "$(fmt_int "$fan_drate")" "$(fmt_int "$fan_rate")" "$fan_seconds" "$fan_cpu" "$fan_rss"
        printf '| 3c | hookbridge, 1 webhook, max_in_flight_per_partition 10000 (no partition pauses) | %s events/s | %.1f s wall, %s CPU-s/100k events, peak RSS %s MiB |\n' \
                "$(fmt_int "$np_rate")" "$np_seconds" "$np_cpu" "$np_rss"
        printf '| 3t | hookbridge, 1 webhook, threads = %d | %s events/s | %.1f s wall (%.1f s to first commit), %s CPU-s/100k events, peak RSS %s MiB |\n' \
                "$nthreads" "$(fmt_int "$th_rate")" "$th_seconds" "$th_first" "$th_cpu" "$th_rss"
        printf '| 3d | hookbridge, 100 webhooks (one per app), retry tiers on, all healthy | %s healthy deliveries/s | %s events, %.1f s wall, peak RSS %s MiB |\n' \
                "$(fmt_int "$tiers0_hrate")" "$(fmt_int "$tier_events")" "$tiers0_seconds" "$tiers0_rss"
        printf '| 3d | the same, 10 of the 100 answering 500 (10%% of deliveries to the tiers) | %s healthy deliveries/s | %s%% of the all-healthy figure; %.1f s wall, peak RSS %s MiB |\n' \
                "$(fmt_int "$tiers10_hrate")" "$tiers_ratio" "$tiers10_seconds" "$tiers10_rss"
        printf '| 4 | latency, %s events/s for %d s (bench-latency-sink, not nginx) | p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms | produce() to request received; max %.1f ms, %s events after %d s warm-up; peak RSS %s MiB |\n' \
                "$(fmt_int "$lat_rate")" "$lat_seconds" "$lat_p50" "$lat_p99" "$lat_p999" "$lat_max" "$(fmt_int "$lat_samples")" "$lat_warmup" "$lat_rss"
        printf '| 4k | the same events, Kafka alone (plain consumer) | p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms | produce() to consumer poll() |\n' \
                "$klat_p50" "$klat_p99" "$klat_p999"
        printf '| 5 | 3a / min(1, 2) | %s%% | limit: %s; 3t / limit: %s%%; fan-out deliveries / limit: %s%%; against min(1, 2b): 3a %s%%, 3t %s%%, fan-out %s%% |\n' \
                "$ratio_one" "$limit_name" "$ratio_th" "$ratio_fan" \
                "$ratio_one_after" "$ratio_th_after" "$ratio_fan_after"
        for n in 1 2 3; do
                printf '| 6 | scale, %d worker(s), %d partitions | %s events/s | share %s, partitions %s |\n' \
                        "$n" "$scale_partitions" "$(fmt_int "${sc_rate[$n]}")" "${sc_shares[$n]}" "${sc_parts[$n]}"
        done
)

note_load end
table+=$(printf '\n\n1-min load average at the start of each phase (%s CPUs): %s' \
        "$ncpu" "${loads[*]}")
printf '\n%s\n' "$table"
if [ -n "$prof_top" ]; then
        printf '\ncallgrind, %s-event run, 1 webhook: top 15 functions by own instructions (all threads; total %s Ir)\n%s\n' \
                "$(fmt_int $profile_events)" "$(fmt_int "${prof_total:-0}")" "$prof_top"
fi

json_str() { # escape for a JSON string
        printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | awk 'BEGIN { ORS = "\\n" } { print }' | sed 's/\\n$//'
}

mkdir -p "$bench/results"
prefix=$([ "$smoke" = 1 ] && echo "smoke-" || echo "")
out=$bench/results/${prefix}latest.json
stamp=$bench/results/${prefix}$(date -u +%Y%m%dT%H%M%SZ).json
{
        printf '{\n'
        printf '  "mode": "%s", "when": "%s", "commit": "%s",\n' "$mode" "$when" "$commit"
        printf '  "machine": {"cpu": "%s", "cpus": %d, "librdkafka": "%s", "libcurl": "%s", "nginx": "%s", "kafka": "4.1.1"},\n' \
                "$(json_str "$cpu_model")" "$ncpu" "$rdk_ver" "$curl_ver" "$nginx_ver"
        printf '  "params": {"events": %d, "partitions": %d, "scale_partitions": %d, "concurrency": %d, "event_bytes": %d, "wrk_seconds": %d, "latency_rate": %d, "latency_seconds": %d},\n' \
                "$events" "$partitions" "$scale_partitions" "$concurrency" "$event_bytes" "$wrk_seconds" "$lat_rate" "$lat_seconds"
        printf '  "produce_events_per_s": %s,\n' "$produce_rate"
        printf '  "kafka_read": {"events_per_s": %s, "mb_per_s": %s},\n' "$read_rate" "$read_mbs"
        printf '  "http_limit": {"requests_per_s": %s, "connections": %d, "body_bytes": %s},\n' \
                "$http_rate" "$concurrency" "$http_body"
        printf '  "http_limit_after": {"requests_per_s": %s, "connections": %d},\n' \
                "$http_after" "$concurrency"
        printf '  "ratios_pct": {"one": %s, "threads": %s, "fanout": %s, "one_after": %s, "threads_after": %s, "fanout_after": %s},\n' \
                "$ratio_one" "$ratio_th" "$ratio_fan" "$ratio_one_after" "$ratio_th_after" "$ratio_fan_after"
        printf '  "hookbridge_one": {"events_per_s": %s, "seconds": %s, "first_commit_s": %s, "cpu_s_per_100k": %s, "peak_rss_mib": %s, "delivered": %s},\n' \
                "$one_rate" "$one_seconds" "$one_first" "$one_cpu" "$one_rss" "$one_delivered"
        printf '  "hookbridge_fanout": {"webhooks": 3, "deliveries_per_s": %s, "events_per_s": %s, "seconds": %s, "first_commit_s": %s, "cpu_s_per_100k": %s, "peak_rss_mib": %s, "delivered": %s},\n' \
                "$fan_drate" "$fan_rate" "$fan_seconds" "$fan_first" "$fan_cpu" "$fan_rss" "$fan_delivered"
        printf '  "hookbridge_one_no_partition_pause": {"max_in_flight_per_partition": 10000, "events_per_s": %s, "seconds": %s, "first_commit_s": %s, "cpu_s_per_100k": %s, "peak_rss_mib": %s, "delivered": %s},\n' \
                "$np_rate" "$np_seconds" "$np_first" "$np_cpu" "$np_rss" "$np_delivered"
        printf '  "hookbridge_one_threads": {"threads": %d, "events_per_s": %s, "seconds": %s, "first_commit_s": %s, "cpu_s_per_100k": %s, "peak_rss_mib": %s, "delivered": %s},\n' \
                "$nthreads" "$th_rate" "$th_seconds" "$th_first" "$th_cpu" "$th_rss" "$th_delivered"
        printf '  "hookbridge_tiers": {"webhooks": 100, "events": %d, "healthy_deliveries_per_s": %s, "seconds": %s, "peak_rss_mib": %s, "failing_10": {"healthy_deliveries_per_s": %s, "seconds": %s, "peak_rss_mib": %s, "pct_of_healthy": %s}},\n' \
                "$tier_events" "$tiers0_hrate" "$tiers0_seconds" "$tiers0_rss" "$tiers10_hrate" "$tiers10_seconds" "$tiers10_rss" "$tiers_ratio"
        printf '  "latency": {"sink": "bench-latency-sink", "rate": %d, "seconds": %d, "warmup_seconds": %d, "produced": %s, "peak_rss_mib": %s, "stats": %s, "kafka_alone": %s},\n' \
                "$lat_rate" "$lat_seconds" "$lat_warmup" "$lat_produced" "$lat_rss" "$(grep '^{' "$work/latency-sink.json" | awk 'NR == 1')" "$(grep '^{' "$work/latency-kafka.json" | awk 'NR == 1')"
        printf '  "ratios": {"limit": "%s", "one_over_limit_pct": %s, "fanout_deliveries_over_limit_pct": %s, "latency_p99_under_25ms": "%s"},\n' \
                "$limit_name" "$ratio_one" "$ratio_fan" "$lat_p99_ok"
        printf '  "scale": ['
        for n in 1 2 3; do
                printf '%s{"workers": %d, "events_per_s": %s, "shares": "%s", "partitions": "%s"}' \
                        "$([ "$n" = 1 ] || echo ', ')" "$n" "${sc_rate[$n]}" "${sc_shares[$n]}" "${sc_parts[$n]}"
        done
        printf '],\n'
        printf '  "profile_top15_self": "%s",\n' "$(json_str "$prof_top")"
        printf '  "profile_top40_inclusive": "%s",\n' "$(json_str "${prof_incl:-}")"
        printf '  "load_1min": {'
        i=0
        for l in "${loads[@]}"; do
                printf '%s"%s": %s' "$([ "$i" = 0 ] || echo ', ')" "${l%%=*}" "${l#*=}"
                i=$((i + 1))
        done
        printf '},\n'
        printf '  "table": "%s"\n' "$(json_str "$table")"
        printf '}\n'
} >"$out"
cp "$out" "$stamp"
say "results: $out (and $stamp); took $(($(date +%s) - t_start)) s"
ok=1
