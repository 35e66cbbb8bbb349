/* wh_topic: CreateTopics for the topics hookbridge owns (see the header). */
#include "wh_topic.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_SPECS 64

size_t wh_topic_create(rd_kafka_t *rk, rd_kafka_queue_t *q,
                       const wh_topic_spec_t *specs, size_t n, int timeout_ms,
                       char *errstr, size_t errstr_size)
{
        rd_kafka_NewTopic_t *nt[MAX_SPECS];
        rd_kafka_AdminOptions_t *o;
        size_t k = 0;
        char why[256];

        o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        if (!o) {
                snprintf(errstr, errstr_size, "out of memory");
                return 0;
        }
        rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, why,
                                                  sizeof(why));
        for (size_t i = 0; i < n && k < MAX_SPECS; i++) {
                const wh_topic_spec_t *s = &specs[i];

                nt[k] = rd_kafka_NewTopic_new(
                        s->name, s->partitions,
                        s->replication > 0 ? s->replication : -1, why,
                        sizeof(why));
                if (!nt[k]) {
                        snprintf(errstr, errstr_size, "topic %s: %s", s->name,
                                 why);
                        continue;
                }
                for (size_t c = 0; c < s->nconfig; c++)
                        rd_kafka_NewTopic_set_config(nt[k], s->config[2 * c],
                                                     s->config[2 * c + 1]);
                k++;
        }
        if (k)
                rd_kafka_CreateTopics(rk, nt, k, o, q);
        rd_kafka_NewTopic_destroy_array(nt, k);
        rd_kafka_AdminOptions_destroy(o);
        return k;
}

int wh_topic_created(rd_kafka_event_t *ev, wh_topic_created_cb_t *cb,
                     void *opaque, char *errstr, size_t errstr_size)
{
        const rd_kafka_CreateTopics_result_t *res =
                rd_kafka_event_CreateTopics_result(ev);
        const rd_kafka_topic_result_t **t;
        size_t n = 0;

        if (rd_kafka_event_error(ev) || !res) {
                snprintf(errstr, errstr_size, "%s",
                         rd_kafka_event_error_string(ev)
                                 ? rd_kafka_event_error_string(ev)
                                 : "no result");
                return -1;
        }
        t = rd_kafka_CreateTopics_result_topics(res, &n);
        for (size_t i = 0; i < n; i++) {
                rd_kafka_resp_err_t err = rd_kafka_topic_result_error(t[i]);

                if (!err) {
                        if (cb)
                                cb(rd_kafka_topic_result_name(t[i]), opaque);
                } else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                        snprintf(errstr, errstr_size, "%s: %s",
                                 rd_kafka_topic_result_name(t[i]),
                                 rd_kafka_topic_result_error_string(t[i]));
                        return -1;
                }
        }
        return 0;
}

int wh_topic_ensure(rd_kafka_t *rk, const wh_topic_spec_t *specs, size_t n,
                    int timeout_ms, wh_topic_created_cb_t *cb, void *opaque,
                    char *errstr, size_t errstr_size)
{
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev;
        int rc = -1;

        if (!q) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (wh_topic_create(rk, q, specs, n, timeout_ms, errstr, errstr_size) !=
            n)
                goto out;
        ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
        if (!ev) {
                snprintf(errstr, errstr_size,
                         "CreateTopics: no answer within %d ms", timeout_ms);
                goto out;
        }
        rc = wh_topic_created(ev, cb, opaque, errstr, errstr_size);
        rd_kafka_event_destroy(ev);
out:
        rd_kafka_queue_destroy(q);
        return rc;
}
