/* kc_join: a group member's join state from librdkafka's cgrp debug lines
 * (see kc_join.h). */
#include "kc_join.h"

#include <stdio.h>
#include <string.h>

#include "hb_log.h"
#include "hb_time.h"

int kc_join_debug_conf(rd_kafka_conf_t *conf, char *errstr, size_t errstr_size)
{
        char have[512], want[560];
        size_t n = sizeof(have);

        if (rd_kafka_conf_get(conf, "debug", have, &n) != RD_KAFKA_CONF_OK)
                have[0] = '\0';
        if (strstr(have, "cgrp") || strstr(have, "all"))
                return 0;
        snprintf(want, sizeof(want), "%s%scgrp", have, *have ? "," : "");
        if (rd_kafka_conf_set(conf, "debug", want, errstr, errstr_size) !=
            RD_KAFKA_CONF_OK)
                return -1;
        return 0;
}

int kc_join_log(kc_join_t *j, int level, const char *fac, const char *buf)
{
        const char *to;

        if (j && fac && buf && !strcmp(fac, "CGRPJOINSTATE") &&
            (to = strstr(buf, " -> "))) {
                int joining = strncmp(to + 4, "steady", 6) != 0;
                if (joining && !atomic_exchange(&j->joining, 1))
                        atomic_store(&j->joining_since, hb_time_mono_ms());
                else if (!joining)
                        atomic_store(&j->joining, 0);
        }
        return level <= 6 || hb_log_enabled(HB_LOG_DEBUG);
}

int kc_join_busy(kc_join_t *j)
{
        return atomic_load(&j->joining) &&
               hb_time_mono_ms() - atomic_load(&j->joining_since) <
                       KC_JOIN_HOLD_MAX_MS;
}
