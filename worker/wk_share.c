/* wk_share: this replica's share of the source partitions, for the rate
 * limits (SPEC §4b). */
#include "wk_share.h"

#include <string.h>

#include <librdkafka/rdkafka.h>

#include "hb_log.h"
#include "hb_time.h"

#define METADATA_TIMEOUT_MS 2000
#define METADATA_RETRY_MS   5000

double wk_share_of(size_t assigned, size_t total)
{
        if (total == 0)
                return 1.0;
        if (assigned == 0)
                assigned = 1;
        if (assigned >= total)
                return 1.0;
        return (double)assigned / (double)total;
}

/* Partitions of \p cfg's topics in the cluster. @returns -1 when the
 * metadata request failed. */
static long count_partitions(rd_kafka_t *rk, const cfg_t *cfg)
{
        const cfg_kafka_t *k = cfg_kafka(cfg);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        long n = 0;

        err = rd_kafka_metadata(rk, 1, NULL, &md, METADATA_TIMEOUT_MS);
        if (err) {
                hb_log(HB_LOG_WARN, "rate limits: metadata failed",
                       "error=\"%s\"", rd_kafka_err2str(err));
                return -1;
        }
        for (int i = 0; i < md->topic_cnt; i++)
                for (size_t j = 0; j < k->topic_count; j++)
                        if (!strcmp(md->topics[i].topic, k->topics[j].name))
                                n += md->topics[i].partition_cnt;
        rd_kafka_metadata_destroy(md);
        return n;
}

void wk_share_update(wk_share_t *s, kc_consumer_t *c, const cfg_t *cfg,
                     wh_pool_t *pool)
{
        kc_stats_t st;
        int64_t now;
        long total;
        double share;

        kc_consumer_stats(c, &st);
        if (s->share > 0 && st.rebalances == s->rebalances &&
            st.assigned == s->assigned)
                return;
        now = hb_time_mono_ms();
        if (now < s->retry_ms)
                return;
        total = count_partitions(kc_consumer_handle(c), cfg);
        if (total < 0) {
                s->retry_ms = now + METADATA_RETRY_MS;
                return;
        }
        s->rebalances = st.rebalances;
        s->assigned = st.assigned;
        s->total = (size_t)total;
        share = wk_share_of(st.assigned, s->total);
        if (share != s->share)
                hb_log(HB_LOG_INFO, "rate limits: share of the partitions",
                       "assigned=%zu total=%zu share=%.4f", st.assigned,
                       s->total, share);
        s->share = share;
        wh_pool_set_rate_share(pool, share);
}
