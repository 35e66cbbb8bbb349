#!/usr/bin/env bash
# bench/bento.sh: issue 15's comparison, Bento (the MIT fork of Benthos,
# github.com/warpstreamlabs/bento) beside hookbridge on this machine.
#
#   bench/bento.sh [--events N] [--rounds R] [--concurrency C] [--smoke]
#                  [--keep]
#
# One Kafka 4.x broker of its own (tests/kafka/kafka.sh on
# 127.0.0.1:$HB_BENTO_KAFKA_PORT, default 49092, state in
# $HB_BENTO_KAFKA_STATE, default /tmp/hb-bento-kafka; stopped at the end;
# HB_BENCH_BROKERS=host:port uses a running one), one nginx sink
# answering 204 (lib.sh's nginx_sink), N events (default 1,000,000, the
# sample mix of bench-produce, ~450 bytes) in 6 partitions, C requests in
# flight (default 64), and R rounds (default 2) of these rows in turn,
# each a fresh process with a fresh consumer group, from process start
# until the group has committed every offset:
#   hb  hookbridge, one webhook (bench/run.sh's row 3a, hookbridge.cfg.in)
#   ht  hb with the default delivery.threads (one loop per CPU)
#   a   Bento forwarding as shipped (bento/forward.yaml.in)
#   b   Bento doing hookbridge's work as shipped (bento/work.yaml.in:
#       the payload mapped in bloblang, the standard signature's headers)
#   c   a with Bento's HTTP keep-alive pool fixed (bento/keepalive.patch:
#       Go's http.Transport keeps 2 idle connections per host by default)
#   d   b with the same fix
# Per row: events/s, CPU seconds per 100k events and peak RSS of the
# process (bench-committed, from /proc), the connections nginx accepted
# and its CPU per 100k, and the 1-minute load average at the row's start
# and end. Prints a Markdown table and writes
# bench/results/bento-<UTC time>.json and bench/results/bento-latest.json
# (--smoke: 20,000 events, 1 round, smoke-bento-*.json, not kept in git).
#
# Bento is built, if missing, into $HB_BENTO_CACHE (default
# /tmp/bento-go, outside the repository): Go from proxy.golang.org's
# toolchain module (GitHub is not needed), Bento $bento_version through
# the module proxy, a main of bento/main.go with only the kafka, io and
# pure components; the fixed build is the same with the module's source
# copied and bento/keepalive.patch applied (a go.mod replace).
set -euo pipefail

me=bench/bento.sh
# root bench build tools hb pids ok keep; say die usage bad_arg free_port
# wait_listening stop_pid bench_traps kafka_up kafka_ready nginx_sink
# json_num calc build_all
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

events=1000000
rounds=2
concurrency=64
smoke=0
events_set=0
while [ $# -gt 0 ]; do
        case $1 in
        --events)
                events=${2:?--events N}
                events_set=1
                shift
                ;;
        --rounds)
                rounds=${2:?--rounds R}
                shift
                ;;
        --concurrency)
                concurrency=${2:?--concurrency C}
                shift
                ;;
        --smoke) smoke=1 ;;
        --keep) keep=1 ;;
        -h | --help) usage ;;
        *) bad_arg "$1" ;;
        esac
        shift
done
if [ "$smoke" = 1 ]; then
        [ "$events_set" = 1 ] || events=20000
        rounds=1
fi
[[ $events =~ ^[0-9]+$ ]] && [ "$events" -ge 1000 ] ||
        { echo "$me: --events wants a number >= 1000" >&2; exit 2; }
[[ $rounds =~ ^[0-9]+$ ]] && [ "$rounds" -ge 1 ] ||
        { echo "$me: --rounds wants a number >= 1" >&2; exit 2; }
[[ $concurrency =~ ^[0-9]+$ ]] && [ "$concurrency" -ge 1 ] ||
        { echo "$me: --concurrency wants a number >= 1" >&2; exit 2; }

partitions=6
run_timeout=1200
kport=${HB_BENTO_KAFKA_PORT:-49092}
kstate=${HB_BENTO_KAFKA_STATE:-/tmp/hb-bento-kafka}
cache=${HB_BENTO_CACHE:-/tmp/bento-go}
bento_version=v1.10.0
go_version=1.23.4
go_zip_sha256=e1e33fbe9bdeed9d1eec878f90eaf9a1dc856b9197d89e6745373b8c61a57c87
runid=$(date -u +%Y%m%dT%H%M%SZ)-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-bento.XXXXXX")
t_start=$(date +%s)
bench_traps

for t in cmake cc nginx curl unzip patch awk sed sha256sum; do
        command -v "$t" >/dev/null 2>&1 || die "'$t' is not installed"
done

# --- Go and Bento, built once into $cache ---------------------------------

goroot=$cache/go$go_version
patch_id=$(sha256sum "$bench/bento/keepalive.patch" | cut -c1-12)
main_id=$(cat "$bench/bento/main.go" "$bench/bento/go.mod" "$bench/bento/go.sum" |
        sha256sum | cut -c1-12)
bento_asis=$cache/bento-$bento_version-$main_id
bento_fixed=$cache/bento-$bento_version-$main_id-keepalive-$patch_id

go_env() {
        env GOROOT="$goroot" PATH="$goroot/bin:$PATH" GOPATH="$cache/gopath" \
                GOCACHE="$cache/cache" GOPROXY=https://proxy.golang.org \
                GOFLAGS=-mod=mod GOTOOLCHAIN=local "$@"
}

fetch_go() {
        [ -x "$goroot/bin/go" ] && return 0
        local zip=$cache/go$go_version.zip
        say "fetching Go $go_version (proxy.golang.org's toolchain module)"
        curl -fsS --retry 3 -o "$zip.part" \
                "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$go_version.linux-amd64.zip"
        echo "$go_zip_sha256  $zip.part" | sha256sum -c --quiet - ||
                die "the Go toolchain zip's checksum is not the expected one"
        rm -rf "$cache/unzip"
        unzip -q "$zip.part" -d "$cache/unzip"
        mv "$cache/unzip/golang.org/toolchain@v0.0.1-go$go_version.linux-amd64" "$goroot"
        rm -rf "$cache/unzip" "$zip.part"
        chmod +x "$goroot"/bin/* "$goroot"/pkg/tool/*/*
}

# build_bento OUT [PATCH]: bento/main.go built to OUT, with PATCH applied
# to a copy of the Bento module's source when given
build_bento() {
        local out=$1 p=${2:-} src mod
        [ -x "$out" ] && return 0
        src=$out.src
        rm -rf "$src"
        mkdir -p "$src"
        cp "$bench/bento/main.go" "$bench/bento/go.mod" "$bench/bento/go.sum" "$src/"
        if [ -n "$p" ]; then
                mod=$(cd "$src" && go_env go mod download -json \
                        "github.com/warpstreamlabs/bento@$bento_version" |
                        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
                [ -d "$mod" ] || die "no module directory for Bento $bento_version"
                cp -r "$mod" "$src/bento"
                chmod -R u+w "$src/bento"
                patch -s -d "$src/bento" -p1 <"$p"
                (cd "$src" && go_env go mod edit \
                        -replace "github.com/warpstreamlabs/bento=./bento")
        fi
        say "building Bento $bento_version${p:+ with $(basename "$p")} (a few minutes the first time)"
        (cd "$src" && go_env nice -n 19 go build -p 2 -trimpath -o "$out.tmp" .) \
                >"$work/build-$(basename "$out").log" 2>&1 || {
                tail -n 30 "$work/build-$(basename "$out").log" >&2
                die "building Bento failed (log kept in $work)"
        }
        mv "$out.tmp" "$out"
}

mkdir -p "$cache"
fetch_go
build_bento "$bento_asis"
build_bento "$bento_fixed" "$bench/bento/keepalive.patch"

# --- broker, hookbridge, sink ---------------------------------------------

kafka_up
build_all "$work/build.log"
kafka_ready

nginx_sink "$work/nginx"
sink=http://127.0.0.1:$ngx_port
# nginx's counters: accepted connections and requests so far
ngx_counts() {
        curl -fsS "$sink/nginx-status" | awk 'NR == 3 { print $1, $3 }'
}
ngx_cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$ngx_pid/stat"; }
ngx_counts >/dev/null || die "the sink's /nginx-status does not answer"

topic=bento-$runid
say "producing $events events into $topic ($partitions partitions)"
timeout 900 "$tools/bench-produce" --brokers "$brokers" --topic "$topic" \
        --partitions "$partitions" --count "$events" >"$work/produce.json" \
        2>"$work/produce.err" || { cat "$work/produce.err" >&2; die "producing failed"; }
[ "$(json_num produced "$work/produce.json")" = "$events" ] ||
        die "produced $(json_num produced "$work/produce.json") of $events events"
event_bytes=$(calc "$(json_num bytes "$work/produce.json") / $events" 0)

# fill TEMPLATE OUT GROUP
fill() {
        sed -e "s|@BROKERS@|$brokers|g" -e "s|@TOPIC@|$topic|g" \
                -e "s|@GROUP@|$3|g" -e "s|@URL@|$sink|g" \
                -e "s|@PER_PARTITION@|2000|g" \
                -e "s|@CONCURRENCY@|$concurrency|g" "$1" >"$2"
}

declare -A label=(
        [hb]="hookbridge, 1 webhook (row 3a)"
        [ht]="hookbridge, 1 webhook, the default threads (one loop per CPU)"
        [a]="Bento, forwarding, as shipped"
        [b]="Bento, hookbridge's work (mapping + signature), as shipped"
        [c]="Bento, forwarding, keep-alive pool fixed"
        [d]="Bento, hookbridge's work, keep-alive pool fixed"
)
rows=(hb ht a b c d)
results=()

# run_row ROW ROUND: one run; appends a JSON object to results
run_row() {
        local row=$1 r=$2 name=$1.$2 group=bento-$1-$2-$runid cmd
        case $row in
        hb | ht)
                fill "$bench/hookbridge.cfg.in" "$work/$name.cfg" "$group"
                # ht: the template's one loop taken out, the default left
                [ "$row" = ht ] && sed -i '/^  threads = /d' "$work/$name.cfg"
                "$hb" check-config -c "$work/$name.cfg" >/dev/null ||
                        die "generated configuration $work/$name.cfg is invalid"
                cmd=("$hb" run -c "$work/$name.cfg")
                ;;
        a | c)
                fill "$bench/bento/forward.yaml.in" "$work/$name.yaml" "$group"
                cmd=("$([ "$row" = a ] && echo "$bento_asis" || echo "$bento_fixed")" -c "$work/$name.yaml")
                ;;
        b | d)
                fill "$bench/bento/work.yaml.in" "$work/$name.yaml" "$group"
                cmd=("$([ "$row" = b ] && echo "$bento_asis" || echo "$bento_fixed")" -c "$work/$name.yaml")
                ;;
        esac
        local before cpu0 load0 load1 pid
        before=$(ngx_counts)
        cpu0=$(ngx_cpu)
        load0=$(cut -d' ' -f1 /proc/loadavg)
        say "round $r, row $row: ${label[$row]}"
        "${cmd[@]}" >"$work/$name.log" 2>&1 &
        pid=$!
        pids+=("$pid")
        if ! "$tools/bench-committed" --brokers "$brokers" --group "$group" \
                --topic "$topic" --pid "$pid" --interval-ms 200 \
                --timeout "$run_timeout" >"$work/$name.committed.json" \
                2>"$work/$name.committed.err"; then
                cat "$work/$name.committed.err" >&2
                tail -n 15 "$work/$name.log" >&2
                die "$name: the group did not commit every offset"
        fi
        load1=$(cut -d' ' -f1 /proc/loadavg)
        stop_pid "$pid" 30
        local after f=$work/$name.committed.json secs acc reqs
        after=$(ngx_counts)
        secs=$(json_num seconds "$f")
        acc=$(($(echo "$after" | cut -d' ' -f1) - $(echo "$before" | cut -d' ' -f1) - 1))
        # less the two /nginx-status requests
        reqs=$(($(echo "$after" | cut -d' ' -f2) - $(echo "$before" | cut -d' ' -f2) - 1))
        [ "$reqs" -ge "$events" ] ||
                die "$name: the sink got $reqs requests for $events events"
        results+=("$(printf '{"row": "%s", "round": %d, "events_per_s": %s, "seconds": %s, "cpu_s_per_100k": %s, "peak_rss_mib": %s, "requests": %d, "connections": %d, "nginx_cpu_s_per_100k": %s, "load_start": %s, "load_end": %s}' \
                "$row" "$r" "$(calc "$events / $secs" 0)" "$secs" \
                "$(calc "$(json_num cpu_s "$f") / $events * 100000" 2)" \
                "$(calc "$(json_num vmhwm_kb "$f") / 1024" 1)" "$reqs" "$acc" \
                "$(calc "($(ngx_cpu) - $cpu0) / $events * 100000" 2)" "$load0" "$load1")")
        say "  $(echo "${results[-1]}" | sed 's/^{//; s/}$//')"
}

for r in $(seq 1 "$rounds"); do
        for row in "${rows[@]}"; do
                run_row "$row" "$r"
        done
done

# --- table, JSON -----------------------------------------------------------

field() { # FIELD JSON_OBJECT
        echo "$2" | sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p"
}
fmt_int() {
        LC_ALL=C printf '%.0f' "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'
}
# mean FIELD ROW
mean() {
        local o
        for o in "${results[@]}"; do
                [ "$(field row "$o")" = "\"$2\"" ] && field "$1" "$o"
        done | awk '{ s += $1; n++ } END { if (n) printf "%.2f", s / n }'
}
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | awk 'NR == 1')
table=$(
        printf 'Bento %s beside hookbridge %s (%s): %s, %s CPU(s); Kafka 4.1.1 on loopback,\n' \
                "$bento_version" "$commit" "$when" "$cpu_model" "$(nproc)"
        printf 'nginx 204 sink; %s events (~%s bytes, 15 kinds), %d partitions, %d requests in flight, %d round(s) in turn\n\n' \
                "$(fmt_int "$events")" "$event_bytes" "$partitions" "$concurrency" "$rounds"
        printf '| row | what | round | events/s | CPU-s / 100k events | peak RSS | connections opened | nginx CPU-s / 100k | load (1 min) start-end |\n'
        printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
        for o in "${results[@]}"; do
                row=$(field row "$o" | tr -d '"')
                printf '| %s | %s | %s | %s | %s | %s MiB | %s | %s | %s-%s |\n' \
                        "$row" "${label[$row]}" "$(field round "$o")" \
                        "$(fmt_int "$(field events_per_s "$o")")" "$(field cpu_s_per_100k "$o")" \
                        "$(field peak_rss_mib "$o")" "$(fmt_int "$(field connections "$o")")" \
                        "$(field nginx_cpu_s_per_100k "$o")" "$(field load_start "$o")" "$(field load_end "$o")"
        done
        printf '\nMeans over the rounds: '
        for row in "${rows[@]}"; do
                printf '%s %s events/s, %s CPU-s/100k; ' "$row" \
                        "$(fmt_int "$(mean events_per_s "$row")")" "$(mean cpu_s_per_100k "$row")"
        done
        printf '\nhookbridge / fixed Bento doing the same work (hb / d): %s x events/s, %s x less CPU per event\n' \
                "$(calc "$(mean events_per_s hb) / $(mean events_per_s d)" 2)" \
                "$(calc "$(mean cpu_s_per_100k d) / $(mean cpu_s_per_100k hb)" 2)"
        printf 'with the default threads (ht / d): %s x events/s, %s x less CPU per event\n' \
                "$(calc "$(mean events_per_s ht) / $(mean events_per_s d)" 2)" \
                "$(calc "$(mean cpu_s_per_100k d) / $(mean cpu_s_per_100k ht)" 2)"
)
printf '\n%s\n' "$table"

json_str() {
        printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | awk 'BEGIN { ORS = "\\n" } { print }' | sed 's/\\n$//'
}
mkdir -p "$bench/results"
prefix=$([ "$smoke" = 1 ] && echo smoke-bento || echo bento)
out=$bench/results/$prefix-latest.json
{
        printf '{\n  "when": "%s", "commit": "%s", "bento": "%s", "go": "%s",\n' \
                "$when" "$commit" "$bento_version" "$go_version"
        printf '  "machine": {"cpu": "%s", "cpus": %d, "kafka": "4.1.1"},\n' \
                "$(json_str "$cpu_model")" "$(nproc)"
        printf '  "params": {"events": %d, "partitions": %d, "concurrency": %d, "rounds": %d, "event_bytes": %d},\n' \
                "$events" "$partitions" "$concurrency" "$rounds" "$event_bytes"
        printf '  "runs": [\n'
        i=0
        for o in "${results[@]}"; do
                printf '    %s%s\n' "$o" "$([ "$i" = $((${#results[@]} - 1)) ] || echo ,)"
                i=$((i + 1))
        done
        printf '  ],\n  "table": "%s"\n}\n' "$(json_str "$table")"
} >"$out"
cp "$out" "$bench/results/$prefix-$(date -u +%Y%m%dT%H%M%SZ).json"
say "results: $out; took $(($(date +%s) - t_start)) s"
ok=1
