# bench/lib.sh: what the bench scripts share; sourced. The sourcing
# script sets `me` (its name in messages); before kafka_sh or kafka_up,
# `kport` and `kstate` (its own broker's port and state directory);
# before bench_traps, `work` (its work directory). It fills `pids` with
# what it starts, sets `ok=1` when the run went well and `keep=1` to keep
# the work directory all the same; it may define `cleanup_more`, which the
# cleanup runs after stopping its processes and broker.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$root/bench
build=$root/build-bench
tools=$build/bench-tools
hb=$build/hookbridge
pids=()
ok=0
keep=0
started_kafka=0
kafka_pid=

say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() {
        say "error: $*"
        exit 1
}

# usage [RC]: the script's header (its comment from line 2 to `set -euo`,
# without the "# ") on stdout, then exit RC (default 0): its --help
usage() {
        sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit "${1:-0}"
}

# bad_arg ARG: ARG is none of the script's options: say so, exit 2
bad_arg() {
        echo "$me: unknown argument '$1' (see --help)" >&2
        exit 2
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a port on 127.0.0.1 that was free a moment ago (not the
# script's own broker's, when it has one)
free_port() {
        local p i
        for i in $(seq 1 200); do
                p=$((20000 + (RANDOM % 12000)))
                if [ -n "${kport:-}" ] &&
                        { [ "$p" = "$kport" ] || [ "$p" = $((kport + 1)) ]; }; then
                        continue
                fi
                port_in_use "$p" || {
                        echo "$p"
                        return 0
                }
        done
        die "no free port found on 127.0.0.1"
}

# wait_listening PORT [PID]: up to 5 s for PORT to take connections (and
# no longer once process PID has ended); fails when it does not
wait_listening() {
        local i
        for i in $(seq 1 50); do
                port_in_use "$1" && return 0
                [ -z "${2:-}" ] || kill -0 "$2" 2>/dev/null || break
                sleep 0.1
        done
        port_in_use "$1"
}

# stop_pid PID [GRACE]: TERM, then KILL after GRACE seconds (default 10)
stop_pid() {
        local pid=$1 grace=${2:-10} i=0
        kill -0 "$pid" 2>/dev/null || return 0
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do
                if [ "$i" -ge $((grace * 10)) ]; then
                        kill -KILL "$pid" 2>/dev/null || true
                        break
                fi
                sleep 0.1
                i=$((i + 1))
        done
        wait "$pid" 2>/dev/null || true
}

# The EXIT trap (bench_traps): every process in pids stopped, the
# script's own broker stopped, cleanup_more, then the work directory
# removed when the run went well and --keep was not given (or when the
# script stopped before writing anything), else kept and said.
cleanup() {
        local rc=$? pid
        trap - EXIT INT TERM
        for pid in "${pids[@]}"; do
                stop_pid "$pid" 5
        done
        if [ "$started_kafka" = 1 ]; then
                kafka_sh stop >"$work/kafka-stop.log" 2>&1 ||
                        say "warning: stopping the benchmark broker failed (see $work/kafka-stop.log)"
        fi
        if declare -F cleanup_more >/dev/null; then
                cleanup_more
        fi
        if [ "$ok" = 1 ] && [ "$keep" = 0 ]; then
                rm -rf "$work"
        elif rmdir "$work" 2>/dev/null; then
                : # stopped before it wrote anything
        else
                say "logs and configs kept in $work"
        fi
        exit "$rc"
}
bench_traps() {
        trap cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
}

# tests/kafka/kafka.sh for this script's own broker
kafka_sh() {
        env -u HOOKBRIDGE_TEST_BROKERS HB_KAFKA_PORT="$kport" \
                HB_KAFKA_CONTROLLER_PORT=$((kport + 1)) \
                HB_KAFKA_STATE="$kstate" "$root/tests/kafka/kafka.sh" "$@"
}

# kafka_up: `brokers` is HB_BENCH_BROKERS when set, else this script's own
# Kafka on 127.0.0.1:$kport, started (fresh) in the background: wait for
# it with kafka_ready. Its log: $work/kafka-start.log.
kafka_up() {
        brokers=${HB_BENCH_BROKERS:-127.0.0.1:$kport}
        if [ -n "${HB_BENCH_BROKERS:-}" ]; then
                say "using the broker at HB_BENCH_BROKERS=$brokers"
                return 0
        fi
        if port_in_use "$kport" && [ ! -f "$kstate/kafka.pid" ]; then
                die "port $kport is in use by someone else's process (see --help for the port's variable)"
        fi
        say "starting the benchmark's Kafka on $brokers (state $kstate)"
        started_kafka=1
        kafka_sh stop >"$work/kafka-stop-before.log" 2>&1 || true
        kafka_sh start >"$work/kafka-start.log" 2>&1 &
        kafka_pid=$!
}
kafka_ready() {
        [ -n "$kafka_pid" ] || return 0
        if ! wait "$kafka_pid"; then
                cat "$work/kafka-start.log" >&2
                die "the benchmark's Kafka did not start"
        fi
        kafka_pid=
}

# nginx_sink DIR: the 204 sink (bench/nginx.conf) in DIR on a free port,
# up and listening; sets ngx_port and ngx_pid (also in pids)
nginx_sink() {
        local d=$1
        mkdir -p "$d"
        ngx_port=$(free_port)
        sed -e "s|@DIR@|$d|g" -e "s|@PORT@|$ngx_port|g" "$bench/nginx.conf" \
                >"$d/nginx.conf"
        nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" >"$d/stdout.log" 2>&1 &
        ngx_pid=$!
        pids+=("$ngx_pid")
        wait_listening "$ngx_port" "$ngx_pid" || {
                cat "$d/error.log" >&2 || true
                die "nginx did not start"
        }
}

# json_num KEY FILE: the first number after "KEY": in FILE
json_num() {
        sed -n "s/.*\"$1\":\(-\{0,1\}[0-9.][0-9.eE+-]*\).*/\1/p" "$2" |
                awk 'NR == 1'
}

# calc EXPR [DECIMALS]: awk's arithmetic, DECIMALS (default 1) places
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }

# build_all LOG: hookbridge (Release) in $build, the helpers in $tools;
# on failure the log's tail and exit
build_all() {
        say "building hookbridge (Release) in $build and the bench tools"
        if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DHB_TESTS=OFF &&
                cmake --build "$build" -j2 --target hookbridge &&
                cmake -S "$bench" -B "$tools" -DCMAKE_BUILD_TYPE=Release &&
                cmake --build "$tools" -j2; } >"$1" 2>&1; then
                tail -n 30 "$1" >&2
                die "build failed (log: $1)"
        fi
}

# drain NAME BIN TOPIC EVENTS [WRAPPER...]: BIN (run under WRAPPER when
# given) delivers TOPIC's EVENTS events to the nginx sink (nginx_sink;
# bench/hookbridge.cfg.in) with a fresh group, TOPIC-NAME, from process
# start until the group has committed every offset, then is stopped and
# must have logged delivered=EVENTS. Uses `brokers`; writes
# $work/NAME.cfg, NAME.log and NAME.committed.json (bench-committed's
# figures: cpu_s, seconds, vmhwm_kb, ...).
drain() {
        local name=$1 bin=$2 topic=$3 n=$4 pid
        shift 4
        sed -e "s|@BROKERS@|$brokers|g" -e "s|@TOPIC@|$topic|g" \
                -e "s|@GROUP@|$topic-$name|g" \
                -e "s|@URL@|http://127.0.0.1:$ngx_port|g" \
                -e "s|@PER_PARTITION@|2000|g" -e "s|@CONCURRENCY@|64|g" \
                "$bench/hookbridge.cfg.in" >"$work/$name.cfg"
        "$@" "$bin" run -c "$work/$name.cfg" >"$work/$name.log" 2>&1 &
        pid=$!
        pids+=("$pid")
        "$tools/bench-committed" --brokers "$brokers" --group "$topic-$name" \
                --topic "$topic" --pid "$pid" --interval-ms 200 \
                --timeout 1800 >"$work/$name.committed.json" ||
                { tail -n 20 "$work/$name.log" >&2; die "$name: not every offset was committed"; }
        kill -TERM "$pid"
        wait "$pid" || die "$name: hookbridge exited with $?"
        grep -q "delivered=$n" "$work/$name.log" ||
                { tail -n 5 "$work/$name.log" >&2; die "$name: not $n delivered"; }
}
