/* hb_kconf: builds every librdkafka configuration of hookbridge (the
 * consumer, the lag reader, the dead-letter producer) the same way: the
 * operator's kafka.properties first, then the settings that carry
 * hookbridge's guarantees, every result checked; and one log callback
 * that turns librdkafka's lines into structured log lines. */
#ifndef HB_KCONF_H
#define HB_KCONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

/** One librdkafka setting. */
typedef struct hb_kconf_kv_s {
        const char *name;
        const char *value;
} hb_kconf_kv_t;

/** A client's settings: \p defaults that kafka.properties may change
 *  (prefetch, client.id), then \p fixed that carry a guarantee, then
 *  \p more, also fixed: a caller's own additions to a base list that
 *  several of its clients share (NULL / 0: none). Lists are passed as
 *  they are, never copied into a buffer, so none can be cut short. */
typedef struct hb_kconf_set_s {
        const hb_kconf_kv_t *defaults;
        size_t ndefaults;
        const hb_kconf_kv_t *fixed;
        size_t nfixed;
        const hb_kconf_kv_t *more;
        size_t nmore;
} hb_kconf_set_t;

/**
 * @brief Apply \p set->defaults, then the operator's properties
 *        (\p names / \p values, \p n of them), then \p set->fixed and
 *        \p set->more, which therefore always win.
 *
 * The order is the same for every client, so a setting that carries a
 * guarantee can never be weakened by kafka.properties.
 *
 * @returns 0, or -1 with "kafka.properties: KEY: reason" (or
 *          "kafka: KEY: reason" for one of hookbridge's own settings) in
 *          \p errstr.
 */
int hb_kconf_apply(rd_kafka_conf_t *conf, const hb_kconf_set_t *set,
                   const char *const *names, const char *const *values,
                   size_t n, char *errstr, size_t errstr_size);

/** @brief The log callback of every client: librdkafka's lines as
 *  structured `msg="librdkafka"` lines (hb_log_librdkafka). */
void hb_kconf_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf);

/**
 * @brief Is \p rk's group rebalance protocol COOPERATIVE? For a
 *        rebalance callback: librdkafka's rd_kafka_rebalance_protocol()
 *        is NULL when it cannot say (before the group's protocol is known,
 *        or once its group handler is terminating: a revoke served by
 *        rd_kafka_consumer_close() after another member left crashed in
 *        strcmp(NULL)); the answer is then \p last, the previous one
 *        (which a known answer updates). Set \p last to 0 before the
 *        first call.
 * @returns 1 for COOPERATIVE, 0 for EAGER or NONE.
 */
int hb_kconf_cooperative(rd_kafka_t *rk, int *last);

#endif
