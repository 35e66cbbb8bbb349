#!/bin/sh
# kafka-tool.sh: the Kafka distribution's bin/kafka-*.sh for this image:
# the name it is called by picks the Java class.
set -eu
case "$(basename "$0")" in
kafka-topics.sh) class=org.apache.kafka.tools.TopicCommand ;;
kafka-console-producer.sh) class=org.apache.kafka.tools.ConsoleProducer ;;
kafka-console-consumer.sh) class=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
kafka-broker-api-versions.sh) class=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
kafka-consumer-groups.sh) class=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
kafka-storage.sh) class=kafka.tools.StorageTool ;;
kafka-server-start.sh) class=kafka.Kafka ;;
*)
        echo "kafka-tool.sh: unknown tool name $(basename "$0")" >&2
        exit 64
        ;;
esac
if [ "$class" = kafka.Kafka ]; then
        heap=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
        log=/opt/kafka/config/log4j2.properties
else
        # a client tool: small and quick to start
        heap="-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
        log=/opt/kafka/config/tools-log4j2.properties
fi
# shellcheck disable=SC2086 # the options are words
exec java $heap ${KAFKA_OPTS:-} -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$log" -cp '/opt/kafka/libs/*' \
        "$class" "$@"
