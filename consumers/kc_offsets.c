/* kc_offsets: a partition's log start and end within a kept time-out
 * (see the header). */
#include "kc_offsets.h"

#include "hb_time.h"

/* ListOffsets of \p which (RD_KAFKA_OFFSET_END: latest, _BEGINNING:
 * earliest) through rd_kafka_offsets_for_times(), which keeps to its
 * time-out. */
static rd_kafka_resp_err_t ask(rd_kafka_t *rk, const char *topic,
                               int32_t partition, int64_t which, int64_t *out,
                               int timeout_ms)
{
        rd_kafka_topic_partition_list_t *tp =
                rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_t *p;
        rd_kafka_resp_err_t err;

        if (!tp)
                return RD_KAFKA_RESP_ERR__FAIL;
        p = rd_kafka_topic_partition_list_add(tp, topic, partition);
        p->offset = which;
        err = rd_kafka_offsets_for_times(rk, tp, timeout_ms);
        if (!err)
                err = p->err;
        if (!err && p->offset < 0)
                err = RD_KAFKA_RESP_ERR__NO_OFFSET;
        if (!err)
                *out = p->offset;
        rd_kafka_topic_partition_list_destroy(tp);
        return err;
}

rd_kafka_resp_err_t kc_offsets_watermarks(rd_kafka_t *rk, const char *topic,
                                          int32_t partition, int64_t *lo,
                                          int64_t *hi, int timeout_ms)
{
        int64_t deadline =
                hb_time_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
        int64_t l = 0, h = 0, left;
        rd_kafka_resp_err_t err;

        err = ask(rk, topic, partition, RD_KAFKA_OFFSET_END, &h, timeout_ms);
        if (!err && lo) {
                left = deadline - hb_time_mono_ms();
                err = left > 0 ? ask(rk, topic, partition,
                                     RD_KAFKA_OFFSET_BEGINNING, &l, (int)left)
                               : RD_KAFKA_RESP_ERR__TIMED_OUT;
        }
        if (err)
                return err;
        if (lo)
                *lo = l;
        *hi = h;
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}
