/* dm_kafka: the demo's Kafka side besides the worker: the two apps'
 * events produced to the mock cluster, and the group's committed offsets
 * read back against the log ends. */
#ifndef HB_DM_KAFKA_H
#define HB_DM_KAFKA_H

#define DM_TOPIC      "events"
#define DM_PARTITIONS 3
#define DM_GROUP      "hookbridge-demo"

/**
 * @brief Produce one raw event of every kind for app \p app_a and for
 *        app \p app_b, interleaved, then one identify call (skipped) and
 *        one malformed event (invalid), to DM_TOPIC.
 * @returns the number of deliverable events (both apps'), or -1.
 */
int dm_produce_events(const char *bootstraps, const char *app_a,
                      const char *app_b);

/**
 * @brief Print DM_GROUP's committed offsets beside the log ends.
 * @returns 1 when every partition is committed to its end, else 0.
 */
int dm_print_committed(const char *bootstraps);

#endif
