/* wk_sendtest: Send Test, one signed sample event to one webhook (see the
 * header); `hookbridge send-test` and the API's POST .../test call it. */
#include "wk_sendtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb_log.h"
#include "wh_pool.h"
#include "wk_sample.h"
#include "wk_transform.h"

/* Find a sample whose mapped type is \p type; render it into \p ev. */
static int sample_for(const wk_mapping_t *m, const cfg_t *cfg,
                      const cfg_webhook_t *wh, const char *type,
                      wk_event_t **ev)
{
        const cfg_topic_t *t = &cfg_kafka(cfg)->topics[0];
        wk_msgmeta_t meta = {.topic = t->name,
                             .timestamp_ms = (int64_t)time(NULL) * 1000,
                             .topic_app_token = t->app_token};
        char raw[2048], id[64], reason[256];

        for (size_t i = 0; i < wk_sample_count(); i++) {
                snprintf(id, sizeof(id), "send-test-%lld-%zu",
                         (long long)time(NULL), i);
                /* the webhook's own app's event (SPEC §5): an operator
                 * webhook gets the demo app's */
                wk_sample_render_app(
                        i, wh->app_token ? wh->app_token : WK_SAMPLE_APP, id, 1,
                        meta.timestamp_ms, raw, sizeof(raw));
                if (wk_event_parse(m, raw, strlen(raw), &meta, ev, reason,
                                   sizeof(reason)) != WK_XF_OK)
                        continue;
                if (type ? !strcmp(wk_event_type(*ev), type)
                         : cfg_webhook_wants(wh, wk_event_type(*ev)))
                        return 0;
                wk_event_destroy(*ev);
                *ev = NULL;
        }
        return -1;
}

/* The pool's callback. What the receiver sent (its body, curl's error
 * text with its certificate's names) is kept with control bytes escaped:
 * shown, it cannot set a terminal's title, clear the screen or print a
 * line of its own. */
typedef struct done_s {
        wk_sendtest_t *r;
        int done;
} done_t;

static void on_done(const wh_result_t *res, void *opaque)
{
        done_t *d = opaque;
        wk_sendtest_t *r = d->r;

        d->done = 1;
        r->ok = res->outcome == WH_OUT_OK;
        r->status = res->status;
        if (!res->status)
                hb_log_printable(r->error, sizeof(r->error),
                                 res->error ? res->error : "",
                                 res->error ? strlen(res->error) : 0);
        r->seconds = res->last_attempt_s;
        if (res->body_start_len)
                hb_log_printable(r->response, sizeof(r->response),
                                 res->body_start, res->body_start_len);
}

int wk_sendtest_run(const cfg_t *cfg, const cfg_webhook_t *wh, const char *type,
                    int max_ms,
                    void (*before)(const wk_sendtest_t *r, void *opaque),
                    void *opaque, wk_sendtest_t *r, char *errstr,
                    size_t errstr_size)
{
        wh_pool_conf_t pc = {.max_in_flight = 1,
                             .max_response_bytes = WK_SENDTEST_BODY_MAX};
        const cfg_delivery_t *d = cfg_delivery(cfg);
        wk_mapping_t *map = NULL;
        wk_event_t *ev = NULL;
        wh_endpoint_t *ep = NULL;
        wh_pool_t *pool = NULL;
        done_t done = {r, 0};
        cfg_webhook_t once;
        char err[512];
        size_t len;
        int rc = -1;

        memset(r, 0, sizeof(*r));
        map = wk_mapping_new();
        if (!map) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < cfg_mapping_count(cfg); i++)
                if (wk_mapping_add(map, cfg_mapping(cfg, i)->event,
                                   cfg_mapping(cfg, i)->type, err,
                                   sizeof(err)) == -1) {
                        snprintf(errstr, errstr_size, "mappings: %s", err);
                        goto out;
                }
        if (sample_for(map, cfg, wh, type, &ev) == -1) {
                rc = WK_SENDTEST_NO_SAMPLE;
                snprintf(errstr, errstr_size,
                         "no sample event of type '%.64s'; types: "
                         "flows.seen, flows.completed, nps.score, ...",
                         type ? type : "(any the webhook receives)");
                goto out;
        }
        r->payload = wk_event_render(ev, wh->user_props, wh->user_prop_count,
                                     wh->company_props, wh->company_prop_count,
                                     &len);
        if (!r->payload) {
                snprintf(errstr, errstr_size,
                         "out of memory rendering the event");
                goto out;
        }
        snprintf(r->event_id, sizeof(r->event_id), "%s", wk_event_id(ev));
        snprintf(r->type, sizeof(r->type), "%s", wk_event_type(ev));
        /* One attempt: a test reports what happened, it does not retry. */
        once = *wh;
        once.retry.max_attempts = 1;
        if (max_ms > 0 && (once.timeout_ms <= 0 || once.timeout_ms > max_ms))
                once.timeout_ms = max_ms;
        ep = wh_endpoint_new(&once, errstr, errstr_size);
        pc.connect_timeout_ms = d->connect_timeout_ms;
        /* the same SSRF guard as a real delivery */
        pc.ssrf_guard = 1;
        pc.https_only = d->https_only;
        pc.allow_networks = d->allow_networks;
        pc.allow_network_count = d->allow_network_count;
        pool = ep ? wh_pool_new(&pc, errstr, errstr_size) : NULL;
        if (!pool)
                goto out;
        if (before)
                before(r, opaque);
        if (wh_pool_submit(pool, ep, r->event_id, r->payload, len, 0, on_done,
                           &done) == -1) {
                /* the pool refuses only when out of memory (an id it
                 * cannot send is reported through on_done) */
                snprintf(errstr, errstr_size,
                         "the request could not be queued: out of memory");
                goto out;
        }
        while (!done.done)
                if (wh_pool_run(pool, 1000, -1) == -1)
                        break;
        if (!done.done) {
                snprintf(errstr, errstr_size, "the request did not end");
                goto out;
        }
        rc = 0;
out:
        wh_pool_destroy(pool);
        wh_endpoint_unref(ep);
        wk_event_destroy(ev);
        wk_mapping_destroy(map);
        return rc;
}

void wk_sendtest_clear(wk_sendtest_t *r)
{
        free(r->payload);
        r->payload = NULL;
}
