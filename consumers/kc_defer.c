/* kc_defer: a revoke kept for the caller to complete (see kc_defer.h). */
#include "kc_defer.h"

int kc_defer_take(kc_defer_t *d, const rd_kafka_topic_partition_list_t *parts)
{
        if (!d->on || d->parts)
                return 0;
        d->parts = rd_kafka_topic_partition_list_copy(parts);
        return d->parts != NULL;
}

size_t kc_defer_pending(const kc_defer_t *d)
{
        return d->parts ? (size_t)d->parts->cnt : 0;
}

int kc_defer_has(const kc_defer_t *d, const char *topic, int32_t partition)
{
        return d->parts && rd_kafka_topic_partition_list_find(
                                   d->parts, topic, partition) != NULL;
}

rd_kafka_topic_partition_list_t *kc_defer_release(kc_defer_t *d)
{
        rd_kafka_topic_partition_list_t *parts = d->parts;

        d->parts = NULL;
        return parts;
}

void kc_defer_clear(kc_defer_t *d)
{
        if (d->parts)
                rd_kafka_topic_partition_list_destroy(d->parts);
        d->parts = NULL;
}
