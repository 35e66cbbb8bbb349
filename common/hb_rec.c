/* hb_rec: the hand-off record's headers (see hb_rec.h). */
#include "hb_rec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-record overhead of the batch format, generously. */
#define RECORD_OVERHEAD 64

void hb_rec_init(hb_rec_t *r)
{
        memset(r, 0, sizeof(*r));
        r->timestamp_ms = -1;
        r->tier = -1;
}

static void add_str(rd_kafka_headers_t *h, const char *name, const char *v)
{
        if (v && *v)
                rd_kafka_header_add(h, name, -1, v, -1);
}

static void add_i64(rd_kafka_headers_t *h, const char *name, int64_t v)
{
        char num[32];

        snprintf(num, sizeof(num), "%" PRId64, v);
        rd_kafka_header_add(h, name, -1, num, -1);
}

rd_kafka_headers_t *hb_rec_headers(const hb_rec_t *r)
{
        rd_kafka_headers_t *h = rd_kafka_headers_new(16);

        if (!h)
                return NULL;
        add_str(h, HB_REC_H_TOPIC, r->topic ? r->topic : "");
        add_i64(h, HB_REC_H_PARTITION, r->partition);
        add_i64(h, HB_REC_H_OFFSET, r->offset);
        if (r->timestamp_ms >= 0)
                add_i64(h, HB_REC_H_TIMESTAMP, r->timestamp_ms);
        add_str(h, HB_REC_H_REASON, r->reason);
        add_str(h, HB_REC_H_DETAIL, r->detail);
        add_str(h, HB_REC_H_WEBHOOK, r->webhook);
        add_str(h, HB_REC_H_APP, r->app);
        add_str(h, HB_REC_H_ID, r->id);
        if (r->status)
                add_i64(h, HB_REC_H_STATUS, r->status);
        add_str(h, HB_REC_H_ERROR, r->error);
        if (r->attempts)
                add_i64(h, HB_REC_H_ATTEMPTS, r->attempts);
        if (r->tier >= 0) {
                add_i64(h, HB_REC_H_TIER, r->tier);
                add_i64(h, HB_REC_H_DUE, r->due_ms);
        }
        if (r->omitted)
                add_i64(h, HB_REC_H_OMITTED, (int64_t)r->omitted);
        return h;
}

static size_t slen(const char *s)
{
        return s ? strlen(s) : 0;
}

size_t hb_rec_size(const hb_rec_t *r)
{
        /* every header: its name, its value, and a few length bytes */
        size_t hdrs = 15 * (28 + 24) + slen(r->topic) + slen(r->reason) +
                      slen(r->detail) + slen(r->webhook) + slen(r->app) +
                      slen(r->id) + slen(r->error);

        return RECORD_OVERHEAD + r->key_len + r->value_len + hdrs;
}

/* The last value of header \p name as a NUL-terminated copy appended to
 * \p buf (at \p *used); NULL when absent. */
static const char *get_str(rd_kafka_headers_t *h, const char *name, char *buf,
                           size_t *used)
{
        const void *v;
        size_t len;
        char *out;

        if (!h || rd_kafka_header_get_last(h, name, &v, &len))
                return NULL;
        out = buf + *used;
        if (len)
                memcpy(out, v, len);
        out[len] = '\0';
        *used += len + 1;
        return out;
}

/* A header as a number; \p dflt when absent or not a number. */
static int64_t get_i64(rd_kafka_headers_t *h, const char *name, int64_t dflt)
{
        const void *v;
        size_t len;
        char num[32], *end;
        long long n;

        if (!h || rd_kafka_header_get_last(h, name, &v, &len) || !len ||
            len >= sizeof(num))
                return dflt;
        memcpy(num, v, len);
        num[len] = '\0';
        errno = 0;
        n = strtoll(num, &end, 10);
        if (errno || *end)
                return dflt;
        return n;
}

int hb_rec_decode(const rd_kafka_message_t *m, hb_rec_t *out, void **mem,
                  char *errstr, size_t errstr_size)
{
        rd_kafka_headers_t *h = NULL;
        size_t total = 0, used = 0, len;
        const void *v;
        char *buf;

        *mem = NULL;
        hb_rec_init(out);
        if (rd_kafka_message_headers(m, &h) || !h ||
            rd_kafka_header_get_last(h, HB_REC_H_TOPIC, &v, &len)) {
                snprintf(errstr, errstr_size,
                         "not a hookbridge record (no %s header)",
                         HB_REC_H_TOPIC);
                return -1;
        }
        for (size_t i = 0;; i++) {
                const char *name;
                if (rd_kafka_header_get_all(h, i, &name, &v, &len))
                        break;
                total += len + 1;
        }
        buf = malloc(total + 1);
        if (!buf) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        out->topic = get_str(h, HB_REC_H_TOPIC, buf, &used);
        out->partition = (int32_t)get_i64(h, HB_REC_H_PARTITION, -1);
        out->offset = get_i64(h, HB_REC_H_OFFSET, -1);
        out->timestamp_ms = get_i64(h, HB_REC_H_TIMESTAMP, -1);
        out->reason = get_str(h, HB_REC_H_REASON, buf, &used);
        out->detail = get_str(h, HB_REC_H_DETAIL, buf, &used);
        out->webhook = get_str(h, HB_REC_H_WEBHOOK, buf, &used);
        out->app = get_str(h, HB_REC_H_APP, buf, &used);
        out->id = get_str(h, HB_REC_H_ID, buf, &used);
        out->status = (long)get_i64(h, HB_REC_H_STATUS, 0);
        out->error = get_str(h, HB_REC_H_ERROR, buf, &used);
        out->attempts = (int)get_i64(h, HB_REC_H_ATTEMPTS, 0);
        out->tier = (int)get_i64(h, HB_REC_H_TIER, -1);
        out->due_ms = out->tier >= 0 ? get_i64(h, HB_REC_H_DUE, 0) : 0;
        out->omitted = (size_t)get_i64(h, HB_REC_H_OMITTED, 0);
        out->key = m->key;
        out->key_len = m->key_len;
        out->value = m->payload;
        out->value_len = m->len;
        *mem = buf;
        return 0;
}

int64_t hb_rec_due_ms(const rd_kafka_message_t *m)
{
        rd_kafka_headers_t *h = NULL;

        if (rd_kafka_message_headers(m, &h) || !h)
                return -1;
        return get_i64(h, HB_REC_H_DUE, -1);
}
