#!/usr/bin/env bash
# kafka.sh: a real single-node Apache Kafka (KRaft) on loopback for the
# integration tests. Kafka's jars come from Maven Central through Maven, so
# nothing but a JRE, Maven and kcat is needed (tests/deps.sh installs them).
#
#   kafka.sh fetch    download Kafka into the cache (idempotent, quiet)
#   kafka.sh start    fresh broker+controller on 127.0.0.1:$HB_KAFKA_PORT
#   kafka.sh stop     stop it and remove its data
#   kafka.sh status   exit 0 when the broker answers
#   kafka.sh env      print HOOKBRIDGE_TEST_BROKERS=...
#   kafka.sh logs     print the end of the broker's log
#
# Environment:
#   HB_KAFKA_PORT             broker port (19092); the controller listens on
#                             HB_KAFKA_CONTROLLER_PORT (port + 1)
#   HB_KAFKA_STATE            state dir (/tmp/hookbridge-kafka-<port>)
#   HB_KAFKA_CACHE            jar cache
#                             ($HOME/.cache/hookbridge/kafka-<version>)
#   HOOKBRIDGE_TEST_BROKERS   a broker you already run (e.g. `docker compose
#                             up kafka`): start/stop only check it answers
set -euo pipefail

KAFKA_VERSION=4.1.1
SCALA_VERSION=2.13
LOG4J_VERSION=2.24.3
# kafka_2.13 still depends on slf4j-api 1.7, which cannot see log4j's
# SLF4J 2 binding (every log line would go to the NOP logger): ask for the
# 2.0 API, which Kafka's 1.7-era calls work with.
SLF4J_VERSION=2.0.16

FETCH_TIMEOUT=1200 # s, a cold Maven download of ~45 jars
START_TIMEOUT=90   # s, until the broker answers metadata requests
STOP_TIMEOUT=30    # s, from SIGTERM to SIGKILL

me=$(basename "$0")
port=${HB_KAFKA_PORT:-19092}
[[ $port =~ ^[0-9]{1,5}$ ]] ||
        { echo "$me: error: HB_KAFKA_PORT=$port is not a port number" >&2; exit 1; }
ctrl=${HB_KAFKA_CONTROLLER_PORT:-$((10#$port + 1))}
cache=${HB_KAFKA_CACHE:-${HOME:-/root}/.cache/hookbridge/kafka-$KAFKA_VERSION}
state=${HB_KAFKA_STATE:-/tmp/hookbridge-kafka-$port}
libs=$cache/libs
pidfile=$state/kafka.pid

die() {
        printf '%s: error: %s\n' "$me" "$1" >&2
        shift
        for hint in "$@"; do
                printf '%s:   %s\n' "$me" "$hint" >&2
        done
        exit 1
}

say() { printf '%s: %s\n' "$me" "$*" >&2; }

need() {
        for tool in "$@"; do
                command -v "$tool" >/dev/null 2>&1 ||
                        die "'$tool' is not installed" \
                                "run tests/deps.sh (Debian: java from openjdk-17-jre-headless, mvn from maven, kcat from kcat)"
        done
}

is_port() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

# One holder at a time of a lock file (fetch and start/stop).
lock() {
        local file=$1
        mkdir -p "$(dirname "$file")"
        exec 9>"$file"
        if command -v flock >/dev/null 2>&1; then
                flock -w 300 9 || die "waited 300 s for the lock $file" \
                        "another kafka.sh is running; if not, remove $file"
        fi
}

# Does a broker answer metadata requests at $1 (host:port)?
answers() {
        timeout 15 kcat -b "$1" -L -m 5 >/dev/null 2>&1
}

port_in_use() {
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pom() {
        cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by tests/kafka/kafka.sh: the jars to run Apache Kafka. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>hookbridge</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
}

cmd_fetch() {
        local stamp want tmp
        want=$(pom | sha256sum | cut -d' ' -f1)
        stamp=$libs/.fetched
        if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
                return 0
        fi
        need java mvn
        lock "$cache/.lock"
        # Someone else may have fetched while we waited for the lock.
        if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
                return 0
        fi
        say "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $cache (once)"
        pom >"$cache/pom.xml"
        tmp=$cache/libs.tmp.$$
        rm -rf "$tmp"
        if ! timeout "$FETCH_TIMEOUT" mvn -q -B -f "$cache/pom.xml" \
                dependency:copy-dependencies -DincludeScope=runtime \
                -DoutputDirectory="$tmp" >"$cache/mvn.log" 2>&1; then
                tail -n 30 "$cache/mvn.log" >&2 || true
                rm -rf "$tmp"
                die "Maven could not fetch Kafka $KAFKA_VERSION (log: $cache/mvn.log)" \
                        "check that Maven Central is reachable (proxy settings in ~/.m2/settings.xml)" \
                        "or point the tests at a running broker: export HOOKBRIDGE_TEST_BROKERS=host:port"
        fi
        [ -f "$tmp/kafka_$SCALA_VERSION-$KAFKA_VERSION.jar" ] ||
                die "Maven finished but $tmp has no kafka_$SCALA_VERSION-$KAFKA_VERSION.jar" \
                        "see $cache/mvn.log"
        printf '%s\n' "$want" >"$tmp/.fetched"
        rm -rf "$libs"
        mv "$tmp" "$libs"
        say "fetched $(find "$libs" -name '*.jar' | wc -l) jars"
}

# The pid in the pid file when it is our broker and alive, else nothing.
our_pid() {
        local pid cmd
        [ -f "$pidfile" ] || return 0
        pid=$(cat "$pidfile" 2>/dev/null || true)
        [[ $pid =~ ^[0-9]+$ ]] || return 0
        kill -0 "$pid" 2>/dev/null || return 0
        # a recycled pid is someone else's process: leave it alone
        cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
        [[ $cmd == *"kafka.Kafka $state/server.properties"* ]] || return 0
        echo "$pid"
}

print_logs() {
        local f
        for f in "$state/kafka.log" "$state/kafka.out" "$state/format.log"; do
                [ -s "$f" ] || continue
                printf -- '--- last lines of %s ---\n' "$f" >&2
                tail -n 40 "$f" >&2
        done
}

write_config() {
        cat >"$state/server.properties" <<EOF
# Written by tests/kafka/kafka.sh: one node, broker and controller, loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctrl
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctrl
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$state/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
        cat >"$state/log4j2.properties" <<EOF
# Written by tests/kafka/kafka.sh: warnings and errors to kafka.log.
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $state/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
EOF
}

check_external() {
        if answers "$HOOKBRIDGE_TEST_BROKERS"; then
                say "using the broker at HOOKBRIDGE_TEST_BROKERS=$HOOKBRIDGE_TEST_BROKERS"
                return 0
        fi
        return 1
}

cmd_start() {
        local pid uuid java_opts waited=0
        if [ -n "${HOOKBRIDGE_TEST_BROKERS:-}" ]; then
                need kcat
                check_external || die "HOOKBRIDGE_TEST_BROKERS=$HOOKBRIDGE_TEST_BROKERS does not answer (kcat -L)" \
                        "start that broker, or unset HOOKBRIDGE_TEST_BROKERS to let $me run one"
                return 0
        fi
        need java kcat timeout
        is_port "$port" && is_port "$ctrl" && [ "$port" != "$ctrl" ] ||
                die "HB_KAFKA_PORT=$port / controller port $ctrl: want two different port numbers"
        cmd_fetch
        lock "$state.kafka-sh.lock"

        pid=$(our_pid)
        if [ -n "$pid" ]; then
                answers "127.0.0.1:$port" ||
                        die "a broker from $state is running (pid $pid) but does not answer" \
                                "run '$me stop' and start again"
                say "already running (pid $pid) on 127.0.0.1:$port; '$me stop' first for fresh data"
                return 0
        fi
        for p in "$port" "$ctrl"; do
                if port_in_use "$p"; then
                        die "port $p on 127.0.0.1 is already in use by another process" \
                                "stop it, or pick other ports: HB_KAFKA_PORT=29092 $me start"
                fi
        done

        # Fresh data every start: a test never sees a previous run's topics.
        rm -rf "$state/data" "$pidfile"
        mkdir -p "$state"
        : >"$state/kafka.log"
        : >"$state/kafka.out"
        write_config

        java_opts=(-Djava.awt.headless=true
                -Dlog4j2.configurationFile="$state/log4j2.properties")
        if ! uuid=$(timeout 60 java -XX:TieredStopAtLevel=1 "${java_opts[@]}" \
                -cp "$libs/*" kafka.tools.StorageTool random-uuid \
                2>"$state/format.log"); then
                print_logs
                die "kafka.tools.StorageTool random-uuid failed" \
                        "is the cache complete? remove $cache and retry"
        fi
        uuid=$(printf '%s\n' "$uuid" | tail -n 1)
        if ! timeout 120 java -XX:TieredStopAtLevel=1 "${java_opts[@]}" \
                -cp "$libs/*" kafka.tools.StorageTool format -t "$uuid" \
                -c "$state/server.properties" >>"$state/format.log" 2>&1; then
                print_logs
                die "formatting the KRaft storage in $state/data failed"
        fi

        # 9>&-: the broker must not inherit the lock it outlives.
        nohup java -Xms256m -Xmx768m "${java_opts[@]}" -cp "$libs/*" \
                kafka.Kafka "$state/server.properties" \
                </dev/null >>"$state/kafka.out" 2>&1 9>&- &
        pid=$!
        echo "$pid" >"$pidfile"

        until answers "127.0.0.1:$port"; do
                if ! kill -0 "$pid" 2>/dev/null; then
                        print_logs
                        rm -f "$pidfile"
                        die "the broker exited during start-up (logs above, in $state)"
                fi
                if [ "$waited" -ge "$START_TIMEOUT" ]; then
                        print_logs
                        stop_pid "$pid"
                        die "the broker did not answer on 127.0.0.1:$port within $START_TIMEOUT s (logs above)" \
                                "a slow machine? retry; logs stay in $state"
                fi
                sleep 1
                waited=$((waited + 1))
        done
        say "Kafka $KAFKA_VERSION serving on 127.0.0.1:$port (pid $pid, state $state)"
}

stop_pid() {
        local pid=$1 waited=0
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do
                if [ "$waited" -ge $((STOP_TIMEOUT * 10)) ]; then
                        say "pid $pid still running after $STOP_TIMEOUT s: SIGKILL"
                        kill -KILL "$pid" 2>/dev/null || true
                        sleep 0.5
                        break
                fi
                sleep 0.1
                waited=$((waited + 1))
        done
        rm -f "$pidfile"
}

cmd_stop() {
        local pid
        if [ -n "${HOOKBRIDGE_TEST_BROKERS:-}" ]; then
                need kcat
                check_external ||
                        say "warning: HOOKBRIDGE_TEST_BROKERS=$HOOKBRIDGE_TEST_BROKERS does not answer (left alone)"
                return 0
        fi
        [ -d "$state" ] || return 0
        lock "$state.kafka-sh.lock"
        pid=$(our_pid)
        if [ -n "$pid" ]; then
                stop_pid "$pid"
                say "stopped the broker (pid $pid)"
        fi
        rm -f "$pidfile"
        rm -rf "$state/data"
}

cmd_status() {
        local brokers=${HOOKBRIDGE_TEST_BROKERS:-127.0.0.1:$port}
        need kcat timeout
        if answers "$brokers"; then
                echo "serving: $brokers"
                return 0
        fi
        echo "not serving: $brokers"
        return 1
}

cmd_env() {
        echo "HOOKBRIDGE_TEST_BROKERS=${HOOKBRIDGE_TEST_BROKERS:-127.0.0.1:$port}"
}

usage() {
        sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

case "${1:-}" in
fetch) cmd_fetch ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
logs) print_logs ;;
-h | --help | help) usage ;;
*)
        usage >&2
        exit 2
        ;;
esac
