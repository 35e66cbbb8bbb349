#!/usr/bin/env bash
# tests/docker/run.sh: the container step of CI. Starts a Docker engine of
# its own (Debian's docker.io, no bridge, no iptables: containers on the
# host network, talking to loopback only), makes the base images with
# debootstrap (no registry is reachable), builds the Dockerfile, runs the
# image against a real broker, then brings docker-compose.yml up with
# tests/docker/compose.ci.yml (every service in one network namespace with
# only its own loopback, so the compose Kafka, receiver and Prometheus take
# no host port) and checks that events flow end to end. Any failed check
# fails the script. Stops its containers and its engine on the way out.
#
#   tests/docker/run.sh
#
# Environment:
#   HOOKBRIDGE_TEST_BROKERS  the broker for the `run` checks (else one is
#                            started with tests/kafka/kafka.sh on
#                            HB_DOCKER_KAFKA_PORT, 29192, and stopped)
#   HB_DOCKER_CACHE          the engine's data (images, build cache) and
#                            the debootstrap trees, kept between runs
#                            ($HOME/.cache/hookbridge/docker)
#   HB_DOCKER_STATE          socket, pid file, logs, generated files
#                            (/tmp/hookbridge-docker)
#   HB_DEBIAN_MIRROR         the mirror for debootstrap (else the one the
#                            machine's apt sources name for bookworm)
#   HB_DOCKER_PROMETHEUS=0   skip the Prometheus image and checks
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
me=tests/docker/run.sh

cache=${HB_DOCKER_CACHE:-${HOME:-/root}/.cache/hookbridge/docker}
state=${HB_DOCKER_STATE:-/tmp/hookbridge-docker}
with_prometheus=${HB_DOCKER_PROMETHEUS:-1}
secret=whsec_ZG9ja2VyLWNvbXBvc2UtZGVtby1zZWNyZXQ=
kafka_image=hookbridge-ci/kafka:4.1.1
prom_image=hookbridge-ci/prometheus
project=hbci
# Debian's client, whatever else is first on PATH (/usr/local/bin/docker).
docker=/usr/bin/docker
compose=(docker-compose -p "$project" -f docker-compose.yml
        -f tests/docker/compose.ci.yml)
export DOCKER_HOST=unix://$state/docker.sock
export WEBHOOK_SECRET=$secret
# compose 1.29 looks for the engine here too
export COMPOSE_HTTP_TIMEOUT=120

t0=$SECONDS
phase_start=$SECONDS
phases=()
step() {
        local now=$SECONDS
        if [ -n "${phase:-}" ]; then
                phases+=("$(printf '%-50s %4d s' "$phase" $((now - phase_start)))")
        fi
        phase=$1
        phase_start=$now
        printf '\n--> %s\n' "$1"
}
die() {
        printf '%s: FAILED: %s\n' "$me" "$*" >&2
        exit 1
}
ok() { printf '    ok  %s\n' "$*"; }

# --- engine, broker and cleanup --------------------------------------------

# tests/deps.sh installs docker.io, debootstrap, docker-compose, kcat,
# Java and Maven (for the Kafka jars) with the rest; quiet when all is there.
need_packages() { tests/deps.sh; }

dockerd_pid=""
kafka_started=0
cleanup() {
        local rc=$?
        set +e
        if [ -n "$dockerd_pid" ]; then
                if [ "$rc" -ne 0 ]; then
                        echo "--- on failure: containers and their last logs"
                        $docker ps -a --format '{{.Names}} {{.Status}}'
                        for c in $($docker ps -aq); do
                                echo "--- $($docker inspect -f '{{.Name}}' "$c")"
                                $docker logs --tail 15 "$c" 2>&1
                        done
                fi
                "${compose[@]}" down -v --timeout 5 >/dev/null 2>&1
                # shellcheck disable=SC2046 # ids
                $docker rm -f $($docker ps -aq) >/dev/null 2>&1
                $docker image prune -f >/dev/null 2>&1
                kill -TERM "$dockerd_pid" 2>/dev/null
                for _ in $(seq 100); do
                        kill -0 "$dockerd_pid" 2>/dev/null || break
                        sleep 0.2
                done
                kill -0 "$dockerd_pid" 2>/dev/null &&
                        kill -KILL "$dockerd_pid" 2>/dev/null
                # dockerd leaves its default network namespace mounted
                grep -q " $state/exec/netns/default " /proc/mounts &&
                        umount "$state/exec/netns/default"
                echo "dockerd stopped"
        fi
        if [ "$kafka_started" = 1 ]; then
                env -u HOOKBRIDGE_TEST_BROKERS HB_KAFKA_PORT="$kafka_port" \
                        tests/kafka/kafka.sh stop
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_dockerd() {
        local pid
        mkdir -p "$state" "$cache"
        # one engine per cache at a time
        exec 8>"$cache/.lock"
        flock -w 600 8 || die "another $me holds $cache/.lock"
        if [ -f "$state/dockerd.pid" ]; then
                pid=$(cat "$state/dockerd.pid")
                if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
                        grep -qa dockerd "/proc/$pid/cmdline"; then
                        echo "stopping a dockerd left by an earlier run (pid $pid)"
                        kill -TERM "$pid"
                        for _ in $(seq 100); do
                                kill -0 "$pid" 2>/dev/null || break
                                sleep 0.2
                        done
                fi
                rm -f "$state/dockerd.pid"
        fi
        rm -f "$state/docker.sock"
        # No bridge, no NAT, no forwarding: containers get the host's
        # network namespace (--network host) or none at all.
        /usr/sbin/dockerd --bridge=none --iptables=false --ip6tables=false \
                --ip-forward=false --ip-masq=false --userland-proxy=false \
                --data-root "$cache/data-root" --exec-root "$state/exec" \
                --pidfile "$state/dockerd.pid" --host "$DOCKER_HOST" \
                --log-level warn >"$state/dockerd.log" 2>&1 8>&- &
        dockerd_pid=$!
        for _ in $(seq 150); do
                $docker version >/dev/null 2>&1 && break
                kill -0 "$dockerd_pid" 2>/dev/null ||
                        { tail -20 "$state/dockerd.log"; die "dockerd exited"; }
                sleep 0.2
        done
        $docker version >/dev/null 2>&1 ||
                { tail -20 "$state/dockerd.log"; die "dockerd did not answer in 30 s"; }
        no_bridge
        ok "dockerd $($docker version -f '{{.Server.Version}}') (pid $dockerd_pid, data $cache/data-root), no bridge"
        # leftovers of an interrupted run
        # shellcheck disable=SC2046 # ids
        $docker rm -f $($docker ps -aq) >/dev/null 2>&1 || true
}

start_broker() {
        if [ -n "${HOOKBRIDGE_TEST_BROKERS:-}" ]; then
                brokers=$HOOKBRIDGE_TEST_BROKERS
        else
                kafka_port=${HB_DOCKER_KAFKA_PORT:-29192}
                HB_KAFKA_PORT=$kafka_port tests/kafka/kafka.sh start
                kafka_started=1
                brokers=127.0.0.1:$kafka_port
        fi
        timeout 15 kcat -b "$brokers" -L -m 5 >/dev/null ||
                die "the broker $brokers does not answer"
        ok "broker $brokers"
}

# --- base images --------------------------------------------------------------

# The machine's Debian mirror for $1 (bookworm or bookworm-security), from
# deb822 .sources files or one-line sources.list entries.
apt_mirror() {
        local suite=$1 f
        for f in /etc/apt/sources.list.d/*.sources; do
                [ -f "$f" ] || continue
                awk -v s="$suite" '
                        /^URIs:/ { u = $2 }
                        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) hit = 1 }
                        /^$/ { if (hit && u != "") { print u; exit } u = ""; hit = 0 }
                        END { if (hit && u != "") print u }' "$f"
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
                [ -f "$f" ] || continue
                awk -v s="$suite" '$1 == "deb" && $0 !~ /\[/ && $3 == s { print $2 }
                        $1 == "deb" && $0 ~ /\[/ { for (i = 2; i < NF; i++)
                                if ($i ~ /\]$/ && $(i + 2) == s) print $(i + 1) }' "$f"
        done
}

# debootstrap once; both trees kept as tarballs in the cache.
base_tarballs() {
        local tree=$state/rootfs mirror security
        [ -s "$cache/debian-12.tar" ] && [ -s "$cache/debian-12-slim.tar" ] &&
                return 0
        mirror=${HB_DEBIAN_MIRROR:-$(apt_mirror bookworm | head -n 1)}
        security=$(apt_mirror bookworm-security | head -n 1)
        [ -n "$mirror" ] || die "no Debian mirror for bookworm in /etc/apt (set HB_DEBIAN_MIRROR)"
        echo "debootstrap --variant=minbase bookworm from $mirror (once; cached in $cache)"
        rm -rf "$tree"
        debootstrap --variant=minbase bookworm "$tree" "$mirror" \
                >"$state/debootstrap.log" 2>&1 ||
                { tail -20 "$state/debootstrap.log"; die "debootstrap failed"; }
        {
                echo "deb $mirror bookworm main"
                echo "deb $mirror bookworm-updates main"
                [ -z "$security" ] || echo "deb $security bookworm-security main"
        } >"$tree/etc/apt/sources.list"
        # as Docker's official Debian images: no package cache left behind
        cat >"$tree/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
        rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin \
                "$tree"/var/cache/apt/archives/*.deb "$tree"/var/log/*.log
        : >"$tree/etc/resolv.conf"
        : >"$tree/etc/hostname"
        tar -C "$tree" --numeric-owner -cf "$cache/debian-12.tar.tmp" .
        # slim: no documentation, manuals or translations, now or later
        rm -rf "$tree"/usr/share/man/* "$tree"/usr/share/info/* \
                "$tree"/usr/share/lintian "$tree"/usr/share/linda
        find "$tree/usr/share/doc" -mindepth 1 -not -name copyright \
                -not -type d -delete
        find "$tree/usr/share/locale" -mindepth 1 -maxdepth 1 \
                -not -name locale.alias -exec rm -rf {} +
        cat >"$tree/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
        tar -C "$tree" --numeric-owner -cf "$cache/debian-12-slim.tar.tmp" .
        mv "$cache/debian-12.tar.tmp" "$cache/debian-12.tar"
        mv "$cache/debian-12-slim.tar.tmp" "$cache/debian-12-slim.tar"
        rm -rf "$tree"
}

base_images() {
        local tag
        if $docker image inspect debian:12 debian:12-slim >/dev/null 2>&1; then
                ok "debian:12 and debian:12-slim already imported"
                return 0
        fi
        base_tarballs
        for tag in debian:12 debian:12-slim; do
                $docker import --change 'CMD ["bash"]' \
                        "$cache/${tag/:/-}.tar" "$tag" >/dev/null
        done
        ok "imported debian:12 ($(image_mb debian:12) MB), debian:12-slim ($(image_mb debian:12-slim) MB)"
}

image_mb() { echo $(($($docker image inspect -f '{{.Size}}' "$1") / 1000000)); }

# --- images -------------------------------------------------------------------

kafka_context() {
        local kcache libs tools ctx want
        tests/kafka/kafka.sh fetch
        kcache=${HB_KAFKA_CACHE:-${HOME:-/root}/.cache/hookbridge/kafka-4.1.1}
        libs=$kcache/libs
        tools=$kcache/tools-libs
        # kafka-tools, for kafka-topics.sh and kafka-console-producer.sh;
        # without Connect's runtime and with the broker's logging jars
        cat >"$state/kafka-tools-pom.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by tests/docker/run.sh: the jars of Kafka's command-line tools. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>hookbridge</groupId>
  <artifactId>kafka-tools-runtime</artifactId>
  <version>4.1.1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>4.1.1</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>org.apache.logging.log4j</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
  </dependencies>
</project>
EOF
        want=$(sha256sum <"$state/kafka-tools-pom.xml" | cut -d' ' -f1)
        if [ "$(cat "$tools/.fetched" 2>/dev/null)" != "$want" ]; then
                echo "fetching org.apache.kafka:kafka-tools 4.1.1 (once)"
                rm -rf "$tools.tmp"
                timeout 900 mvn -q -B -f "$state/kafka-tools-pom.xml" \
                        dependency:copy-dependencies -DincludeScope=runtime \
                        -DoutputDirectory="$tools.tmp" >"$state/mvn-tools.log" 2>&1 ||
                        { tail -20 "$state/mvn-tools.log"; die "Maven could not fetch kafka-tools"; }
                echo "$want" >"$tools.tmp/.fetched"
                rm -rf "$tools"
                mv "$tools.tmp" "$tools"
        fi
        ctx=$state/kafka-image
        rm -rf "$ctx"
        mkdir -p "$ctx/libs"
        cp tests/docker/kafka/* "$ctx/"
        cp "$libs"/*.jar "$ctx/libs/"
        # the broker's copy first: one version of each jar
        cp -n "$tools"/*.jar "$ctx/libs/"
        kafka_ctx=$ctx
}

build_images() {
        local ctx
        $docker build --network host -q -t hookbridge:latest . >/dev/null ||
                die "docker build of the Dockerfile failed"
        ok "hookbridge:latest built ($(image_mb hookbridge:latest) MB)"
        kafka_context
        ctx=$kafka_ctx
        $docker build --network host -q -t "$kafka_image" "$ctx" >/dev/null ||
                die "docker build of the Kafka image failed"
        ok "$kafka_image built ($(image_mb "$kafka_image") MB, $(find "$ctx/libs" -name '*.jar' | wc -l) jars)"
        if [ "$with_prometheus" = 1 ]; then
                $docker build --network host -q -t "$prom_image" \
                        tests/docker/prometheus >/dev/null ||
                        die "docker build of the Prometheus image failed"
                ok "$prom_image built ($(image_mb "$prom_image") MB)"
        fi
}

# --- the image on its own -------------------------------------------------------

# wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds.
wait_for() {
        local limit=$1 what=$2 start=$SECONDS
        shift 2
        until "$@" >/dev/null 2>&1; do
                [ $((SECONDS - start)) -lt "$limit" ] ||
                        die "$what: not within $limit s"
                sleep 0.5
        done
}

free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# produce FIRST COUNT: sample "track" events for $topic, through kcat.
produce() {
        local first=$1 count=$2 i
        for ((i = first; i < first + count; i++)); do
                printf '{"type":"track","event":"Flow Completed","properties":{"flow_id":%d},"messageId":"ci-%s-%d","userId":"%d","timestamp":%d000,"context":{"app_token":"NX-ci","traits":{"plan":"pro"}}}\n' \
                        $((i % 7)) "$topic" "$i" $((i % 50)) "$(date +%s)"
        done | kcat -P -b "$brokers" -t "$topic"
}

rx_count() { curl -fsS "http://127.0.0.1:$rx_port/_control/count"; }
rx_at_least() { [ "$(rx_count)" -ge "$1" ]; }
health_is() { [ "$($docker inspect -f '{{.State.Health.Status}}' "$1")" = "$2" ]; }
metric() {
        curl -fsS "http://127.0.0.1:$admin_port/metrics" |
                awk -v m="$1" '$1 == m { print $2 }'
}
in_flight() { [ "$(metric hookbridge_in_flight_requests)" != 0 ]; }
lag_zero() {
        $docker run --rm --network host -e WEBHOOK_SECRET \
                -v "$cfg:/etc/hookbridge/hookbridge.cfg:ro" hookbridge:latest lag -c /etc/hookbridge/hookbridge.cfg --max-lag 0
}

image_checks() {
        local out c start took code ids uniq
        out=$($docker run --rm --network none hookbridge:latest --version)
        [[ $out == hookbridge* ]] || die "--version printed: $out"
        ok "--version: $out"
        out=$($docker run --rm --network none --entrypoint ldd hookbridge:latest \
                /usr/local/bin/hookbridge /usr/local/bin/hb-receiver)
        ! grep -q 'not found' <<<"$out" || die "ldd: $(grep 'not found' <<<"$out")"
        ok "ldd: $(grep -c '=>' <<<"$out") libraries, none missing"
        # --network none: loopback only, and nothing else is needed
        $docker run --rm --network none hookbridge:latest demo \
                >"$state/demo.out" 2>&1 || { cat "$state/demo.out"; die "demo failed"; }
        ok "demo: $(grep -v '^ts=' "$state/demo.out" | tail -n 1)"
}

run_checks() {
        local out start took code total uniq n n1=200 n2=48 n3=100
        topic=hbci-$(date +%s)-$$
        rx_port=$(free_port)
        admin_port=$(free_port)
        cfg=$state/run.cfg
        $docker run --rm --network host "$kafka_image" kafka-topics.sh \
                --bootstrap-server "$brokers" --create --topic "$topic" \
                --partitions 3 --replication-factor 1 >/dev/null ||
                die "kafka-topics.sh (in $kafka_image) could not create $topic"
        ok "topic $topic (3 partitions), created by $kafka_image's kafka-topics.sh"
        cat >"$cfg" <<EOF
# Written by $me: the image against the test broker and receiver.
kafka = {
  brokers = "$brokers";
  group_id = "$topic";
  topics = ( { name = "$topic"; app_token = "NX-ci"; } );
};
delivery = {
  concurrency = 16;
  allow_networks = [ "127.0.0.0/8" ];
  shutdown_timeout_ms = 20000;
};
webhooks = ( { name = "ci"; url = "http://127.0.0.1:$rx_port/hooks/ci";
  events = [ "*" ]; user_properties = [ "plan" ];
  secret_env = "WEBHOOK_SECRET"; } );
admin = { listen = "127.0.0.1:$admin_port"; };
log = { level = "info"; format = "json"; };
EOF
        chmod 644 "$cfg"
        # (its own check: the image's HEALTHCHECK is hookbridge's)
        $docker run -d --name hbci-receiver --network host \
                --health-cmd "curl -fsS -o /dev/null http://127.0.0.1:$rx_port/_control/count" \
                --health-interval 5s \
                --entrypoint hb-receiver hookbridge:latest --bind 127.0.0.1 \
                --port "$rx_port" --secret "/hooks/ci=$secret" >/dev/null
        wait_for 20 "the receiver answering on 127.0.0.1:$rx_port" rx_count

        # 1. deliveries, health, user, lag
        $docker run -d --name hbci-run --network host --stop-timeout 30 \
                -e WEBHOOK_SECRET -e HOOKBRIDGE_ADMIN_PORT="$admin_port" \
                -v "$cfg:/etc/hookbridge/hookbridge.cfg:ro" hookbridge:latest >/dev/null
        produce 0 "$n1"
        wait_for 60 "$n1 deliveries" rx_at_least "$n1"
        ok "run: $(rx_count) events delivered"
        wait_for 60 "HEALTHCHECK healthy" health_is hbci-run healthy
        ok "HEALTHCHECK: healthy"
        out=$($docker exec hbci-run id)
        [[ $out == "uid=10001(hookbridge) gid=10001(hookbridge)"* ]] ||
                die "docker exec id: $out"
        ok "docker exec hbci-run id: $out"
        wait_for 30 "lag 0" lag_zero
        ok "hookbridge lag: $(lag_zero | tail -n 1)"

        # 2. docker stop with deliveries in flight: drains, exits 0
        curl -fsS -X PUT --data-binary '200:delay=1500' \
                "http://127.0.0.1:$rx_port/_control/script?path=/hooks/ci" >/dev/null
        produce "$n1" "$n2"
        wait_for 30 "deliveries in flight" in_flight
        out=$(metric hookbridge_in_flight_requests)
        start=$SECONDS
        $docker stop hbci-run >/dev/null
        took=$((SECONDS - start))
        code=$($docker inspect -f '{{.State.ExitCode}}' hbci-run)
        [ "$code" = 0 ] || die "docker stop: exit status $code after $took s"
        # (to a file first: grep -q in a pipe would SIGPIPE docker logs,
        # which pipefail counts as a failure)
        $docker logs hbci-run >"$state/run.log" 2>&1
        grep -q 'draining in-flight' "$state/run.log" ||
                die "docker stop: no drain in the log"
        grep -q '"msg":"stopped","abandoned":"0"' "$state/run.log" ||
                die "docker stop: deliveries abandoned: $(grep '"msg":"stopped"' "$state/run.log")"
        ok "docker stop with $out requests in flight: exit 0 after $took s, abandoned=0"

        # 3. read-only root, no capabilities, no new privileges
        curl -fsS -X PUT --data-binary '200' \
                "http://127.0.0.1:$rx_port/_control/script?path=/hooks/ci" >/dev/null
        $docker run -d --name hbci-ro --network host --stop-timeout 30 \
                --read-only --cap-drop ALL --security-opt no-new-privileges \
                -e WEBHOOK_SECRET -e HOOKBRIDGE_ADMIN_PORT="$admin_port" \
                -v "$cfg:/etc/hookbridge/hookbridge.cfg:ro" hookbridge:latest >/dev/null
        produce $((n1 + n2)) "$n3"
        total=$((n1 + n2 + n3))
        wait_for 90 "all $total events" uniq_at_least "$total"
        wait_for 30 "lag 0 after the read-only run" lag_zero
        ok "--read-only --cap-drop ALL --security-opt no-new-privileges: delivers, lag 0"
        $docker stop hbci-ro >/dev/null
        code=$($docker inspect -f '{{.State.ExitCode}}' hbci-ro)
        [ "$code" = 0 ] || die "docker stop hbci-ro: exit status $code"

        # every event once, every signature verified
        $docker logs hbci-receiver 2>/dev/null | grep ' /hooks/ci ' >"$state/received"
        uniq=$(sed -n 's/.* id=\([^ ]*\) .*/\1/p' "$state/received" | sort -u | wc -l)
        n=$(wc -l <"$state/received")
        [ "$uniq" = "$total" ] || die "$uniq distinct events received, want $total"
        [ "$n" = "$total" ] || die "$((n - total)) redeliveries (a stop did not drain)"
        ! grep -qv 'status=200 verified=yes' "$state/received" ||
                die "unverified requests: $(grep -v 'verified=yes' "$state/received" | head -3)"
        ok "receiver: $n requests, $uniq distinct events, every signature verified, 0 redeliveries"
        $docker rm -f hbci-receiver hbci-run hbci-ro >/dev/null

        # 4. a worker that never reached a broker stops at once (no wait
        # for a first join), within plain docker stop's 10 s
        sed 's/^  brokers = .*/  brokers = "127.0.0.1:1";/' "$cfg" >"$state/nobroker.cfg"
        chmod 644 "$state/nobroker.cfg"
        $docker run -d --name hbci-nobroker --network none -e WEBHOOK_SECRET \
                -v "$state/nobroker.cfg:/etc/hookbridge/hookbridge.cfg:ro" \
                hookbridge:latest >/dev/null
        wait_for 20 "the no-broker worker started" nobroker_started
        sleep 2
        start=$SECONDS
        $docker stop hbci-nobroker >/dev/null
        took=$((SECONDS - start))
        code=$($docker inspect -f '{{.State.ExitCode}}' hbci-nobroker)
        [ "$code" = 0 ] && [ "$took" -le 5 ] ||
                die "docker stop, no broker: exit status $code after $took s"
        ok "docker stop, no broker ever reached: exit 0 after $took s"
        $docker rm -f hbci-nobroker >/dev/null
}

nobroker_started() {
        $docker logs hbci-nobroker >"$state/nobroker.log" 2>&1 &&
                grep -q '"msg":"worker started"' "$state/nobroker.log"
}
uniq_at_least() {
        [ "$($docker logs hbci-receiver 2>/dev/null |
                sed -n 's/.* id=\([^ ]*\) .*/\1/p' | sort -u | wc -l)" -ge "$1" ]
}

# --- compose ------------------------------------------------------------------

# Every service shares the netns container's loopback (compose.ci.yml):
# what listens there is reached through docker exec, never a host port.
cid() { "${compose[@]}" ps -q "$1"; }
cstate() {
        $docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$(cid "$1")"
}
chealth() { health_is "$(cid "$1")" "$2"; }
exited0() { [ "$(cstate "$1")" = "exited 0" ]; }
verified() {
        "${compose[@]}" logs --no-color receiver 2>/dev/null |
                grep -c 'verified=yes' || true
}
test_verified() { [ "$(verified)" -ge "$1" ]; }
compose_lag_zero() {
        "${compose[@]}" exec -T hookbridge hookbridge lag \
                -c /etc/hookbridge/hookbridge.cfg --max-lag 0
}
# in the shared namespace, with the hookbridge image's curl
ns_curl() { $docker exec "$(cid hookbridge)" curl -fsS "$@"; }
prom_up() {
        ns_curl 'http://127.0.0.1:9090/api/v1/query?query=up%7Bjob%3D%22hookbridge%22%7D' |
                python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; sys.exit(0 if r and r[0]["value"][1] == "1" else 1)'
}
prom_rules() {
        ns_curl http://127.0.0.1:9090/api/v1/rules |
                python3 -c 'import json, sys; g = json.load(sys.stdin)["data"]["groups"]; print(sum(len(x["rules"]) for x in g))'
}

# Loopback only: no Docker network but host and none, no bridge or veth
# interface on the host.
no_bridge() {
        local nets links
        nets=$($docker network ls --format '{{.Name}}' | grep -vxE 'host|none' || true)
        [ -z "$nets" ] || die "a Docker network exists: $nets"
        links=$(ls /sys/class/net | grep -E '^(docker|br-|veth)' || true)
        [ -z "$links" ] || die "a bridge or veth interface exists: $links"
}

compose_checks() {
        local p services c1 c2 start took
        services=(kafka kafka-init receiver hookbridge generator)
        [ "$with_prometheus" = 1 ] && services+=(prometheus-ci)
        start=$SECONDS
        "${compose[@]}" up -d --no-build "${services[@]}" \
                >"$state/compose-up.log" 2>&1 ||
                { cat "$state/compose-up.log"; die "docker-compose up failed"; }
        no_bridge
        ok "up in $((SECONDS - start)) s; no network but host and none, no bridge"
        chealth kafka healthy || die "kafka: not healthy"
        exited0 kafka-init || die "kafka-init: $(cstate kafka-init)"
        ok "kafka healthy, kafka-init exited 0: $("${compose[@]}" logs --no-color kafka-init | grep -o 'Topic: events.*PartitionCount: [0-9]*' | head -n 1 | tr -s '\t ' ' ')"
        wait_for 60 "receiver healthy (its own check)" chealth receiver healthy
        wait_for 90 "10 verified deliveries" test_verified 10
        c1=$(verified)
        sleep 5
        c2=$(verified)
        [ "$c2" -gt "$c1" ] || die "the receiver's verified count did not grow ($c1, then $c2)"
        ok "generator -> kafka -> hookbridge -> receiver: $c1 verified, $c2 five seconds later"
        "${compose[@]}" logs --no-color receiver >"$state/compose-receiver.log" 2>&1
        ! grep -q 'verified=NO' "$state/compose-receiver.log" ||
                die "the receiver saw bad signatures"
        wait_for 60 "hookbridge healthy" chealth hookbridge healthy
        ok "hookbridge healthy (image HEALTHCHECK), receiver healthy (its own)"
        if [ "$with_prometheus" = 1 ]; then
                wait_for 60 "Prometheus scraping hookbridge" prom_up
                p=$(prom_rules)
                [ "$p" -gt 0 ] || die "Prometheus loaded no rules from deploy/prometheus-rules.yml"
                ok "Prometheus: up{job=\"hookbridge\"} = 1, $p rules of deploy/prometheus-rules.yml loaded"
        fi
        start=$SECONDS
        "${compose[@]}" stop generator 2>/dev/null
        took=$((SECONDS - start))
        [ "$took" -lt 8 ] || die "stopping the generator took $took s (SIGTERM ignored?)"
        ok "generator stopped in $took s ($(cstate generator)): init: true"
        wait_for 60 "lag back to 0" compose_lag_zero
        ok "lag 0 once the generator stopped: $(compose_lag_zero | tail -n 1 | tr -s ' ')"
        start=$SECONDS
        "${compose[@]}" stop -t 30 2>/dev/null
        took=$((SECONDS - start))
        exited0 hookbridge || die "hookbridge after stop: $(cstate hookbridge)"
        ok "stop: every service in $took s, hookbridge exited 0, $(verified) events verified in all"
        "${compose[@]}" down -v >"$state/compose-down.log" 2>&1 ||
                { cat "$state/compose-down.log"; die "docker-compose down failed"; }
        [ -z "$("${compose[@]}" ps -q)" ] || die "containers left after down"
        no_bridge
        ok "down: no container left, no network, no bridge"
}

# --- the step -------------------------------------------------------------------

step "engine (Debian docker.io, host network only)"
need_packages
start_dockerd
step "broker"
start_broker
step "base images (debootstrap, cached)"
base_images
step "images (docker build --network host)"
build_images
step "the image on its own"
image_checks
step "the image against the broker"
run_checks
step "docker-compose.yml + tests/docker/compose.ci.yml"
compose_checks
step "done"
printf '\ncontainer step timings:\n'
printf '  %s\n' "${phases[@]}"
printf '  %-50s %4d s\n' total $((SECONDS - t0))
