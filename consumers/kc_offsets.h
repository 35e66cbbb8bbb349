/* kc_offsets: a partition's log start and end, asked of the broker
 * within a time-out that is kept to (rd_kafka_query_watermark_offsets()
 * waits for the broker's answer whatever its time-out says before
 * librdkafka 2.3.0: librdkafka #2588, fixed by #4460). */
#ifndef HB_KC_OFFSETS_H
#define HB_KC_OFFSETS_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

/**
 * @brief rd_kafka_query_watermark_offsets() within \p timeout_ms: the
 *        log start into \p *lo (NULL: not asked) and the log end (the
 *        offset the next record gets) into \p *hi, of \p topic's
 *        \p partition, through \p rk.
 * @returns 0 (RD_KAFKA_RESP_ERR_NO_ERROR), or the error (time-out
 *          included); \p *lo and \p *hi are then unchanged.
 */
rd_kafka_resp_err_t kc_offsets_watermarks(rd_kafka_t *rk, const char *topic,
                                          int32_t partition, int64_t *lo,
                                          int64_t *hi, int timeout_ms);

#endif
