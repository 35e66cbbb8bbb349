#!/usr/bin/env bash
# entrypoint.sh: start the broker of this image the way the official
# apache/kafka image does: every KAFKA_* variable becomes a line of
# server.properties (KAFKA_ dropped, lower case, _ -> ., __ -> _,
# ___ -> -), CLUSTER_ID formats the storage once, then the broker runs as
# PID 1 (SIGTERM stops it cleanly). With arguments, runs them instead.
set -euo pipefail

[ "$#" -gt 0 ] && exec "$@"

conf=/opt/kafka/config/server.properties
# These configure the JVM, not the broker.
jvm=" KAFKA_HEAP_OPTS KAFKA_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_GC_LOG_OPTS"
jvm+=" KAFKA_LOG4J_OPTS KAFKA_JMX_OPTS KAFKA_DEBUG KAFKA_HOME KAFKA_VERSION "

to_key() {
        local k=${1#KAFKA_}
        k=${k//___/-}
        k=${k//__/@}
        k=${k//_/.}
        k=${k//@/_}
        printf '%s' "${k,,}"
}

names=()
for name in $(compgen -e); do
        [[ $name == KAFKA_* ]] || continue
        [[ $jvm == *" $name "* ]] && continue
        names+=("$name")
done

{
        echo "# Written by entrypoint.sh from the KAFKA_* variables."
        if [ "${#names[@]}" -eq 0 ]; then
                # none given: one node on localhost, as the official image
                cat <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:9093
listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
advertised.listeners=PLAINTEXT://localhost:9092
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
CONF
        fi
        for name in "${names[@]}"; do
                printf '%s=%s\n' "$(to_key "$name")" "${!name}"
        done
} >"$conf"
grep -q '^log\.dirs=' "$conf" || echo "log.dirs=/var/lib/kafka/data" >>"$conf"

logdir=$(sed -n 's/^log\.dirs=//p' "$conf" | tail -n 1 | cut -d, -f1)
if [ ! -f "$logdir/meta.properties" ]; then
        kafka-storage.sh format --ignore-formatted \
                -t "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" -c "$conf"
fi
exec kafka-server-start.sh "$conf"
