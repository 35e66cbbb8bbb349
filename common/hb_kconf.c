/* hb_kconf: one way to build a librdkafka configuration (see hb_kconf.h). */
#include "hb_kconf.h"

#include <stdio.h>
#include <string.h>

#include "hb_log.h"

/* Set each of \p kv; "PREFIX: KEY: reason" on the first refusal. */
static int set_all(rd_kafka_conf_t *conf, const hb_kconf_kv_t *kv, size_t n,
                   const char *prefix, char *errstr, size_t errstr_size)
{
        char why[512];

        for (size_t i = 0; i < n; i++) {
                if (rd_kafka_conf_set(conf, kv[i].name, kv[i].value, why,
                                      sizeof(why)) != RD_KAFKA_CONF_OK) {
                        snprintf(errstr, errstr_size, "%s: %s: %s", prefix,
                                 kv[i].name, why);
                        return -1;
                }
        }
        return 0;
}

int hb_kconf_apply(rd_kafka_conf_t *conf, const hb_kconf_set_t *set,
                   const char *const *names, const char *const *values,
                   size_t n, char *errstr, size_t errstr_size)
{
        char why[512];

        if (set_all(conf, set->defaults, set->ndefaults, "kafka", errstr,
                    errstr_size) == -1)
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (rd_kafka_conf_set(conf, names[i], values[i], why,
                                      sizeof(why)) != RD_KAFKA_CONF_OK) {
                        snprintf(errstr, errstr_size,
                                 "kafka.properties: %s: %s", names[i], why);
                        return -1;
                }
        }
        if (set_all(conf, set->fixed, set->nfixed, "kafka", errstr,
                    errstr_size) == -1)
                return -1;
        return set_all(conf, set->more, set->nmore, "kafka", errstr,
                       errstr_size);
}

void hb_kconf_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf)
{
        (void)rk;
        hb_log_librdkafka(level, fac, buf);
}

int hb_kconf_cooperative(rd_kafka_t *rk, int *last)
{
        const char *proto = rd_kafka_rebalance_protocol(rk);

        if (proto)
                *last = !strcmp(proto, "COOPERATIVE");
        else
                hb_log(HB_LOG_INFO,
                       "rebalance protocol not known now; the last one used",
                       "cooperative=%d", *last);
        return *last;
}
