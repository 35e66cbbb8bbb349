#!/usr/bin/env bash
# bench/capacity.sh: realistic capacity -- many subscribers that answer
# late, over TLS. Reported, not asserted; loopback only.
#
#   bench/capacity.sh [--events N] [--concurrency "1024 4096"]
#                     [--endpoints 10000] [--ports 4] [--delay-ms 50]
#                     [--hookbridge PATH] [--threads N] [--timeout S] [--keep]
#
# Makes a CA and a certificate for 127.0.0.1 (openssl, in the work
# directory), starts an nginx (bench/nginx-tls.conf.in) listening with TLS
# on --ports loopback ports that answers every request 204 after
# --delay-ms, and configures --endpoints webhooks, each of its own app
# (app_token bench-app-<i>, i in at least 4 digits, as bench-produce
# --apps writes it) with its own path (/ep/<i>) on one of the ports,
# trusting only that CA. N events (default 300,000, 6 partitions) spread
# evenly over the apps are produced, then for each delivery.concurrency C
# one worker drains them from process start until every offset is
# committed, with a fresh nginx (and so a fresh log) per C. Prints, per C:
#   - deliveries/s over the middle 80% of the requests (nginx's log
#     times), against the Little's-law bound C / delay
#   - the worker's wall time, CPU seconds (and per 100k), peak RSS
#   - TLS handshakes: the connections nginx accepted (each one a
#     handshake; "resumed" ones reused a TLS session), requests per
#     connection
#   - the requests' time at nginx (p50/p99: the delay plus nginx's own)
#   - sampled every 2 s while requests are in flight: the worker's
#     hookbridge_in_flight_requests (median, max: how many of the C slots
#     it keeps filled), the cores the worker and nginx used, how busy the
#     machine was, and how much of the time the worker's main thread (the
#     delivery loop with one thread) was runnable but waiting for a CPU
#     (/proc/PID/schedstat). Each sample fetches /metrics, which costs the
#     worker's admin thread ~4% of its CPU with 10,000 webhooks.
#   - the 1-minute load average at the start
# and writes the same as JSON to results/capacity-latest.json and
# results/capacity-<UTC time>.json.
#
# Uses the broker at HB_BENCH_BROKERS (default 127.0.0.1:19092, the
# tests' broker; topics and groups are unique per run, nothing is
# deleted). --hookbridge PATH runs that binary instead of the Release
# build of this tree (a before/after comparison); --threads N sets
# delivery.threads (left out when not given, for a binary without it).
# Every process it starts is stopped when it ends, also on failure or
# Ctrl-C; each drain is bounded (--timeout S, default 600).
set -euo pipefail

me=bench/capacity.sh
# root bench build tools hb pids ok keep; say die usage port_in_use
# wait_listening stop_pid cleanup bench_traps json_num build_all
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

events=300000
concs="1024 4096"
endpoints=10000
nports=4
delay_ms=50
timeout_s=600
keep=0
hb_bin=
threads=
while [ $# -gt 0 ]; do
        case $1 in
        --events) events=${2:?--events N}; shift ;;
        --concurrency) concs=${2:?--concurrency "C..."}; shift ;;
        --endpoints) endpoints=${2:?--endpoints N}; shift ;;
        --ports) nports=${2:?--ports N}; shift ;;
        --delay-ms) delay_ms=${2:?--delay-ms MS}; shift ;;
        --timeout) timeout_s=${2:?--timeout S}; shift ;;
        --hookbridge) hb_bin=${2:?--hookbridge PATH}; shift ;;
        --threads) threads=${2:?--threads N}; shift ;;
        --keep) keep=1 ;;
        -h | --help) usage ;;
        *) die "unknown argument '$1' (see --help)" ;;
        esac
        shift
done
for v in "$events" "$endpoints" "$nports" "$delay_ms" "$timeout_s"; do
        [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || die "'$v' is not a positive number"
done
for c in $concs; do
        [[ $c =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] && [ "$c" -le 4096 ] ||
                die "--concurrency wants numbers 1..4096"
done
for t in nginx openssl awk sed sort curl; do
        command -v "$t" >/dev/null 2>&1 || die "'$t' is not installed"
done
[ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ] ||
        die "nginx's echo module is not installed (libnginx-mod-http-echo)"

brokers=${HB_BENCH_BROKERS:-127.0.0.1:19092}
runid=$(date -u +%Y%m%dT%H%M%SZ)-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-capacity.XXXXXX")
bench_traps

# Enough descriptors for 4096 connections on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

build_all "$work/build.log"
if [ -n "$hb_bin" ]; then
        [ -x "$hb_bin" ] || die "--hookbridge $hb_bin is not an executable"
        hb=$hb_bin
fi

# --- certificate: a CA of the run's own and a server certificate -----------

tls=$work/tls
mkdir -p "$tls"
{
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
                -nodes -keyout "$tls/ca.key" -out "$tls/ca.pem" -days 2 \
                -subj /CN=hookbridge-capacity-ca &&
                openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
                        -nodes -keyout "$tls/server.key" -out "$tls/server.csr" \
                        -subj /CN=127.0.0.1 &&
                printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' \
                        >"$tls/ext" &&
                openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" \
                        -CAkey "$tls/ca.key" -CAcreateserial -out "$tls/server.pem" \
                        -days 2 -extfile "$tls/ext"
} >"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; die "making the certificate failed"; }

# --- ports ------------------------------------------------------------------

ports=()
for i in $(seq 1 400); do
        [ "${#ports[@]}" -ge "$nports" ] && break
        p=$((20000 + (RANDOM % 12000)))
        port_in_use "$p" && continue
        case " ${ports[*]} " in *" $p "*) continue ;; esac
        ports+=("$p")
done
[ "${#ports[@]}" = "$nports" ] || die "not $nports free ports on 127.0.0.1"

# start_nginx DIR: a fresh nginx (and log) in DIR; sets ngx_pid
start_nginx() {
        local d=$1 listen="" p
        mkdir -p "$d"
        cp "$tls/server.pem" "$tls/server.key" "$d/"
        for p in "${ports[@]}"; do
                listen+="                listen 127.0.0.1:$p ssl reuseport backlog=4096;\\n"
        done
        sed -e "s|@DIR@|$d|g" -e "s|^@LISTEN@$|$listen|" \
                -e "s|@DELAY@|$(awk -v d="$delay_ms" 'BEGIN { printf "%.3f", d / 1000 }')|" \
                "$bench/nginx-tls.conf.in" >"$d/nginx.conf"
        nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" >"$d/stdout.log" 2>&1 &
        ngx_pid=$!
        pids+=("$ngx_pid")
        wait_listening "${ports[0]}" "$ngx_pid" ||
                { cat "$d/error.log" >&2; die "nginx did not start"; }
}

# --- the topic ------------------------------------------------------------

topic=capacity-$runid
say "producing $events events over $endpoints apps into $topic"
"$tools/bench-produce" --brokers "$brokers" --topic "$topic" --partitions 6 \
        --count "$events" --apps "$endpoints" >"$work/produce.json" 2>"$work/produce.err" ||
        { cat "$work/produce.err" >&2; die "producing failed"; }

# make_cfg C OUT: the worker's configuration for concurrency C. The
# webhooks are in @include'd files of 2,000 each (the loader takes at most
# 1 MiB per file, 4 MiB in all).
make_cfg() {
        local i f
        {
                cat <<EOF
# bench/capacity.sh: $endpoints webhooks, one per app, over TLS
kafka = {
  brokers = "$brokers";
  group_id = "capacity-$runid-$1";
  topics = ( { name = "$topic"; } );
  properties = [ "client.id=hookbridge-capacity" ];
  commit_interval_ms = 200;
  auto_offset_reset = "earliest";
};
delivery = {
  concurrency = $1;${threads:+
  threads = $threads;}
  timeout_ms = 10000;
  connect_timeout_ms = 5000;
  retry = { initial_ms = 100; max_ms = 2000; max_attempts = 8; };
  allow_networks = [ "127.0.0.0/8" ];
};
admin = { listen = "127.0.0.1:$admin_port"; };
log = { level = "info"; format = "logfmt"; };
webhooks = (
EOF
                for ((i = 0; i < endpoints; i += 2000)); do
                        f=$work/webhooks-$i.cfg
                        [ -f "$f" ] || awk -v from="$i" -v n="$endpoints" \
                                -v ports="${ports[*]}" -v ca="$tls/ca.pem" '
                                BEGIN {
                                        np = split(ports, port, " ")
                                        to = from + 2000 < n ? from + 2000 : n
                                        for (i = from; i < to; i++)
                                                printf "{name=\"ep%d\";app_token=\"bench-app-%04d\";" \
                                                        "url=\"https://127.0.0.1:%s/ep/%d\";events=[\"*\"];" \
                                                        "secret=\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\";" \
                                                        "tls={ca_file=\"%s\";};}%s\n",
                                                        i, i, port[i % np + 1], i, ca, i < to - 1 ? "," : ""
                                }' >"$f"
                        [ "$i" = 0 ] || echo ","
                        echo "@include \"$f\""
                done
                echo ");"
        } >"$2"
        "$hb" check-config -c "$2" >"$2.check" 2>&1 ||
                { tail -n 5 "$2.check" >&2; die "generated configuration $2 is invalid"; }
}

# log_stats LOG: "requests connections resumed rate p50_ms p99_ms
# max_requests_per_connection" from nginx's log
log_stats() {
        local n p50 p99
        n=$(wc -l <"$1")
        read -r p50 p99 < <(awk '{ print $5 * 1000 }' "$1" | sort -n |
                awk -v n="$n" '
                        NR == int(n * 0.5) || (n < 2 && NR == 1) { p50 = $1 }
                        NR == int(n * 0.99) || (n < 100 && NR == n) { p99 = $1 }
                        END { printf "%.1f %.1f\n", p50, p99 }')
        sort -n -k1,1 "$1" | awk -v p50="$p50" -v p99="$p99" '
                { t[NR] = $1
                  if (!($2 in seen)) { seen[$2] = 1; conns++; if ($4 == "r") resumed++ }
                  if ($3 > maxreq) maxreq = $3 }
                END {
                        n = NR; a = int(n * 0.1); b = int(n * 0.9)
                        rate = (n >= 10 && t[b] > t[a]) ? (b - a) / (t[b] - t[a]) : 0
                        printf "%d %d %d %.0f %s %s %d\n", n, conns + 0,
                                resumed + 0, rate, p50, p99, maxreq + 0
                }'
}

# sample HBPID NGXPID OUT: every 2 s while HBPID runs, one line "time
# requests_in_flight messages_in_flight hb_ticks nginx_ticks idle_ticks
# all_ticks loop_run_delay_ns" (the worker's /metrics gauges, refreshed
# once a second; /proc ticks of the two processes and of the machine; the
# main thread's time spent runnable, waiting for a CPU)
sample() {
        local t m
        while kill -0 "$1" 2>/dev/null; do
                t=$(date +%s.%N)
                m=$({ curl -s --max-time 1 "http://127.0.0.1:$admin_port/metrics" 2>/dev/null || true; } |
                        awk '$1 == "hookbridge_in_flight_requests" { r = $2 }
                             $1 == "hookbridge_in_flight_messages" { m = $2 }
                             END { print r + 0, m + 0 }')
                echo "$t $m $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0) $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$2/stat" 2>/dev/null || echo 0) $(awk '$1 == "cpu" { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat) $(awk '{ print $2 }' "/proc/$1/schedstat" 2>/dev/null || echo 0)" >>"$3"
                sleep 2
        done
}

# sample_stats FILE: "median_in_flight max_in_flight hb_cores nginx_cores
# machine_busy_pct loop_wait_pct" over the samples with requests in
# flight (loop_wait_pct: of the wall time, how much the worker's main
# thread, the delivery loop, was runnable but waiting for a CPU)
sample_stats() {
        local hz med
        hz=$(getconf CLK_TCK)
        med=$(awk '$2 > 0 { print $2 }' "$1" | sort -n |
                awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }')
        awk -v hz="$hz" -v med="$med" '$2 > 0 { n++; if ($2 > mx) mx = $2
                        if (n == 1) { t0 = $1; h0 = $4; g0 = $5; i0 = $6; a0 = $7; w0 = $8 }
                        t1 = $1; h1 = $4; g1 = $5; i1 = $6; a1 = $7; w1 = $8 }
                END {
                        if (n < 2 || t1 <= t0) { print "0 0 0 0 0 0"; exit }
                        printf "%d %d %.2f %.2f %.0f %.0f\n", med, mx,
                                (h1 - h0) / hz / (t1 - t0), (g1 - g0) / hz / (t1 - t0),
                                (a1 > a0 ? 100 * (1 - (i1 - i0) / (a1 - a0)) : 0),
                                100 * (w1 - w0) / 1e9 / (t1 - t0)
                }' "$1"
}

cpu_s_of() { # pid: utime + stime in seconds
        awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

rows=() jrows=()
admin_port=$(free_port)
for c in $concs; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        say "concurrency $c: $endpoints endpoints on ${#ports[@]} ports, ${delay_ms} ms, TLS (load $load)"
        make_cfg "$c" "$work/c$c.cfg"
        start_nginx "$work/nginx-$c"
        "$hb" run -c "$work/c$c.cfg" >"$work/c$c.log" 2>&1 &
        hbpid=$!
        pids+=("$hbpid")
        sample "$hbpid" "$ngx_pid" "$work/c$c.samples" &
        pids+=("$!")
        if ! "$tools/bench-committed" --brokers "$brokers" --group "capacity-$runid-$c" \
                --topic "$topic" --pid "$hbpid" --interval-ms 200 --timeout "$timeout_s" \
                >"$work/c$c.committed.json" 2>"$work/c$c.committed.err"; then
                cat "$work/c$c.committed.err" >&2
                tail -n 15 "$work/c$c.log" >&2
                die "concurrency $c: not every offset was committed"
        fi
        ngx_cpu=$(cpu_s_of "$ngx_pid")
        stop_pid "$hbpid" 30
        stop_pid "$ngx_pid" 10
        delivered=$(sed -n 's/.*msg="\{0,1\}stopped.* delivered=\([0-9]*\).*/\1/p' "$work/c$c.log" | tail -n 1)
        read -r n conns resumed rate p50 p99 maxreq < <(log_stats "$work/nginx-$c/access.log")
        read -r inf_med inf_max hb_cores ngx_cores busy loop_wait < <(sample_stats "$work/c$c.samples")
        f=$work/c$c.committed.json
        secs=$(json_num seconds "$f")
        cpu=$(json_num cpu_s "$f")
        rss=$(awk -v k="$(json_num vmhwm_kb "$f")" 'BEGIN { printf "%.1f", k / 1024 }')
        bound=$(awk -v c="$c" -v d="$delay_ms" 'BEGIN { printf "%.0f", c * 1000 / d }')
        pct=$(awk -v r="$rate" -v b="$bound" 'BEGIN { printf "%.1f", 100 * r / b }')
        cpu100k=$(awk -v c="$cpu" -v e="$events" 'BEGIN { printf "%.2f", c / e * 100000 }')
        rows+=("$(printf '| %d | %s deliveries/s | %s (%s%%) | %.1f s, %s CPU-s (%s per 100k), peak RSS %s MiB | %d connections (%d resumed), up to %d requests on one | p50 %s ms, p99 %s ms | nginx %s CPU-s | %s / %s | %s, %s, %s%% busy; loop waited for a CPU %s%% of the time | %s |' \
                "$c" "$rate" "$bound" "$pct" "$secs" "$cpu" "$cpu100k" "$rss" "$conns" "$resumed" "$maxreq" "$p50" "$p99" "$ngx_cpu" "$inf_med" "$inf_max" "$hb_cores" "$ngx_cores" "$busy" "$loop_wait" "$load")")
        jrows+=("$(printf '{"concurrency": %d, "deliveries_per_s": %s, "littles_law_bound": %s, "of_bound_pct": %s, "requests_at_sink": %d, "delivered": %s, "seconds": %s, "cpu_s": %s, "cpu_s_per_100k": %s, "peak_rss_mib": %s, "tls_connections": %d, "tls_resumed": %d, "max_requests_per_connection": %d, "sink_p50_ms": %s, "sink_p99_ms": %s, "nginx_cpu_s": %s, "in_flight_median": %s, "in_flight_max": %s, "hookbridge_cores": %s, "nginx_cores": %s, "machine_busy_pct": %s, "loop_cpu_wait_pct": %s, "load_1min": %s}' \
                "$c" "$rate" "$bound" "$pct" "$n" "${delivered:-0}" "$secs" "$cpu" "$cpu100k" "$rss" "$conns" "$resumed" "$maxreq" "$p50" "$p99" "$ngx_cpu" "$inf_med" "$inf_max" "$hb_cores" "$ngx_cores" "$busy" "$loop_wait" "$load")")
        [ "${delivered:-0}" -ge "$events" ] ||
                say "warning: concurrency $c delivered ${delivered:-?} of $events"
done

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
table=$(
        printf 'hookbridge capacity (%s, %s, %s CPUs): %d events, %d endpoints (one app each) on %d loopback ports, TLS (nginx, ECDSA P-256), every answer after %d ms\n\n' \
                "$when" "$commit" "$(nproc)" "$events" "$endpoints" "${#ports[@]}" "$delay_ms"
        printf '| concurrency | deliveries/s (middle 80%%) | Little'"'"'s law bound (share) | worker | TLS handshakes | at the sink | sink | requests in flight (median / max) | cores used: hookbridge, nginx, machine | load |\n'
        printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
        printf '%s\n' "${rows[@]}"
)
printf '\n%s\n' "$table"

mkdir -p "$bench/results"
out=$bench/results/capacity-latest.json
{
        printf '{\n  "when": "%s", "commit": "%s", "events": %d, "endpoints": %d, "ports": %d, "delay_ms": %d,\n  "runs": [' \
                "$when" "$commit" "$events" "$endpoints" "${#ports[@]}" "$delay_ms"
        i=0
        for r in "${jrows[@]}"; do
                printf '%s\n    %s' "$([ "$i" = 0 ] || echo ,)" "$r"
                i=$((i + 1))
        done
        printf '\n  ]\n}\n'
} >"$out"
cp "$out" "$bench/results/capacity-$(date -u +%Y%m%dT%H%M%SZ).json"
say "results: $out"
ok=1
