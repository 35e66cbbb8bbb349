/* wk_redrive: dead letters sent again by the worker (see wk_redrive.h). */
#include "wk_redrive.h"

#include <stdlib.h>
#include <string.h>

#include "hb_log.h"
#include "hb_rec.h"
#include "wk_redeliver.h"

/* What became of a selected dead letter, for the table. */
enum { C_SELECTED, C_SENDABLE, C_DELIVERED, C_FAILED, C_NOT_SENT, C_N };

/* One row of the table: a webhook and a reason (linked: stable). */
typedef struct row_s {
        struct row_s *next;
        char *webhook;
        char *reason;
        uint64_t n[C_N];
} row_t;

struct wk_redrive_s {
        wk_redrive_sel_t sel;
        wk_redrive_stats_t own; /* when sel.stats is NULL */
        wk_redrive_stats_t *st;
        row_t *rows, **tail;
};

/* A redrive delivery: the worker's delivery and its row.
 * @remark d first: m->deliveries points at it and is freed as this. */
typedef struct sending_s {
        wk_delivery_t d;
        row_t *row;
} sending_t;

wk_redrive_t *wk_redrive_new(const wk_redrive_sel_t *sel)
{
        wk_redrive_t *r = calloc(1, sizeof(*r));

        if (!r)
                return NULL;
        r->sel = *sel;
        r->st = sel->stats ? sel->stats : &r->own;
        r->tail = &r->rows;
        memset(r->st, 0, sizeof(*r->st));
        return r;
}

void wk_redrive_destroy(wk_redrive_t *r)
{
        if (!r)
                return;
        while (r->rows) {
                row_t *next = r->rows->next;
                free(r->rows->webhook);
                free(r->rows->reason);
                free(r->rows);
                r->rows = next;
        }
        free(r);
}

/* The row of (\p webhook, \p reason), made when missing; NULL on OOM. */
static row_t *row(wk_redrive_t *r, const char *webhook, const char *reason)
{
        row_t *nr;

        for (nr = r->rows; nr; nr = nr->next)
                if (!strcmp(nr->webhook, webhook) &&
                    !strcmp(nr->reason, reason))
                        return nr;
        nr = calloc(1, sizeof(*nr));
        if (!nr)
                return NULL;
        nr->webhook = strdup(webhook);
        nr->reason = strdup(reason);
        if (!nr->webhook || !nr->reason) {
                free(nr->webhook);
                free(nr->reason);
                free(nr);
                return NULL;
        }
        *r->tail = nr;
        r->tail = &nr->next;
        return nr;
}

static void bump(row_t *rw, int col)
{
        if (rw)
                rw->n[col]++;
}

static int in_list(const char *const *v, size_t n, const char *s)
{
        if (!n)
                return 1;
        for (size_t i = 0; s && i < n; i++)
                if (!strcmp(v[i], s))
                        return 1;
        return 0;
}

static void sent(const wh_result_t *res, void *opaque)
{
        sending_t *s = opaque;
        wk_delivery_t *d = &s->d;
        wk_msg_t *m = d->msg;
        wk_worker_t *w = m->w;
        wk_redrive_t *r = w->redrive;
        const char *name = wh_endpoint_name(d->ep);
        row_t *rw = s->row;

        if (res->outcome == WH_OUT_OK) {
                r->st->delivered++;
                w->stats.deliveries_ok++;
                bump(rw, C_DELIVERED);
        } else {
                r->st->failed++;
                w->stats.deliveries_failed++;
                bump(rw, C_FAILED);
                hb_log(HB_LOG_WARN,
                       "redrive: delivery failed again; the dead letter "
                       "stays in the dead-letter topic",
                       "webhook=%s id=\"%s\" dead_letter=%s/%d@%lld "
                       "status=%ld attempts=%d error=\"%s\"",
                       name, m->id, m->in.topic, (int)m->in.partition,
                       (long long)m->in.offset, res->status, res->attempts,
                       res->error ? res->error : "");
        }
        wk_msg_settle(m);
}

/* Not sent: counted in \p counter and the row, logged, settled. */
static void report(wk_msg_t *m, row_t *rw, uint64_t *counter, int level,
                   const hb_rec_t *rec, const char *why)
{
        (*counter)++;
        bump(rw, C_NOT_SENT);
        hb_log(level, "redrive: dead letter not sent",
               "dead_letter=%s/%d@%lld webhook=%s reason=%s source=%s/%d@%lld "
               "why=\"%s\" detail=\"%s\"",
               m->in.topic, (int)m->in.partition, (long long)m->in.offset,
               rec && rec->webhook ? rec->webhook : "-",
               rec && rec->reason ? rec->reason : "-",
               rec && rec->topic ? rec->topic : "-",
               rec ? (int)rec->partition : -1,
               rec ? (long long)rec->offset : -1LL, why,
               rec && rec->detail ? rec->detail : "");
        wk_msg_settle(m);
}

/* The webhook in force named \p name (index into w->hooks), -1: none. */
static long hook_index(const hooks_t *h, const char *name)
{
        return wk_hooks_find(h, name);
}

/* Send \p rd (owned from here on) as \p m's one delivery to webhook
 * \p hook of the webhooks in force. */
static void submit(wk_worker_t *w, wk_msg_t *m, long hook, row_t *rw,
                   wk_rd_t *rd)
{
        hooks_t *h = w->hooks;
        sending_t *snd = calloc(1, sizeof(*snd));
        wk_delivery_t *d;

        /* msg_free() frees what the message holds, whatever is set */
        m->id = rd->id;
        m->bodies = calloc(1, sizeof(*m->bodies));
        if (m->bodies) {
                m->bodies[0] = rd->body;
                m->body_count = 1;
        } else {
                free(rd->body);
        }
        m->deliveries = snd ? &snd->d : NULL;
        m->labels = calloc(1, sizeof(*m->labels));
        if (!m->bodies || !snd || !m->labels ||
            !(m->labels[0] = strdup(h->labels[hook]))) {
                /* unfinished: the state keeps it to do */
                hb_log(HB_LOG_ERR, "redrive: out of memory; dead letter held",
                       "dead_letter=%s/%d@%lld", m->in.topic,
                       (int)m->in.partition, (long long)m->in.offset);
                return;
        }
        d = &snd->d;
        snd->row = rw;
        d->msg = m;
        d->ep = wh_endpoint_ref(h->eps[hook]);
        d->label = m->labels[0];
        m->delivery_count = 1;
        if (wh_pool_submit(w->pool, d->ep, m->id, rd->body, rd->len, 0, sent,
                           snd) == -1)
                hb_log(HB_LOG_ERR, "redrive: not submitted; dead letter held",
                       "dead_letter=%s/%d@%lld", m->in.topic,
                       (int)m->in.partition, (long long)m->in.offset);
}

void wk_redrive_take(wk_worker_t *w, wk_msg_t *m)
{
        wk_redrive_t *r = w->redrive;
        hooks_t *h = w->hooks;
        const rd_kafka_message_t *raw = kc_msg_raw(&m->in);
        const cfg_webhook_t *wh = NULL;
        const char *app, *reason;
        hb_rec_t rec;
        void *mem = NULL;
        char why[512];
        wk_rd_t rd;
        row_t *rw;
        long hook;

        r->st->read++;
        m->owed = 1;
        if (!raw || hb_rec_decode(raw, &rec, &mem, why, sizeof(why)) == -1) {
                free(mem);
                r->st->read--; /* counted as unreadable only */
                report(m, NULL, &r->st->unreadable, HB_LOG_WARN, NULL,
                       raw ? why : "released");
                return;
        }
        reason = rec.reason ? rec.reason : "";
        hook = hook_index(h, rec.webhook);
        if (hook >= 0)
                wh = cfg_webhook(h->cfg, (size_t)hook);
        app = rec.app ? rec.app : wh ? wh->app_token : NULL;
        if (!in_list(r->sel.webhooks, r->sel.webhook_count, rec.webhook) ||
            !in_list(r->sel.reasons, r->sel.reason_count, reason) ||
            (r->sel.app && (!app || strcmp(app, r->sel.app)))) {
                r->st->not_selected++;
                free(mem);
                wk_msg_settle(m);
                return;
        }
        r->st->selected++;
        rw = row(r, rec.webhook ? rec.webhook : "-", reason);
        bump(rw, C_SELECTED);
        if (!rec.webhook || !strcmp(reason, "invalid")) {
                report(m, rw, &r->st->bad_input, HB_LOG_INFO, &rec,
                       "a bad input: fix the producer, or the mapping and "
                       "replay the source");
        } else if (rec.omitted) {
                snprintf(why, sizeof(why),
                         "the value (%zu bytes) was too large for the "
                         "dead-letter topic and was left out",
                         rec.omitted);
                report(m, rw, &r->st->omitted, HB_LOG_WARN, &rec, why);
        } else if (!wh || !h->active[hook]) {
                report(m, rw, &r->st->no_webhook, HB_LOG_WARN, &rec,
                       wh ? "webhook disabled" : "no such webhook");
        } else if (rec.app &&
                   (!wh->app_token || strcmp(rec.app, wh->app_token))) {
                /* the name is another app's (or the operator's) webhook
                 * now: not the one the dead letter is for (a dead letter
                 * without hookbridge-app, from before it existed, goes by
                 * its name) */
                report(m, rw, &r->st->no_webhook, HB_LOG_WARN, &rec,
                       "the webhook of that name is another app's now");
        } else if (wk_redeliver_render(h->cfg, h->mapping, wh, &rec, &rd, why,
                                       sizeof(why)) != WK_RD_OK) {
                report(m, rw, &r->st->unsendable, HB_LOG_WARN, &rec, why);
        } else if (w->opts.dry_run) {
                r->st->sendable++;
                bump(rw, C_SENDABLE);
                wk_redeliver_free(&rd);
                wk_msg_settle(m);
        } else {
                r->st->sendable++;
                bump(rw, C_SENDABLE);
                submit(w, m, hook, rw, &rd);
        }
        free(mem);
}

void wk_redrive_report(const wk_redrive_t *r, FILE *out)
{
        fprintf(out, "by webhook and reason:\n");
        fprintf(out, "  %-24s %-12s %9s %9s %9s %9s %9s\n", "webhook", "reason",
                "selected", "sendable", "delivered", "failed", "not-sent");
        for (const row_t *rw = r->rows; rw; rw = rw->next) {
                fprintf(out, "  %-24s %-12s %9llu %9llu %9llu %9llu %9llu\n",
                        rw->webhook, *rw->reason ? rw->reason : "-",
                        (unsigned long long)rw->n[C_SELECTED],
                        (unsigned long long)rw->n[C_SENDABLE],
                        (unsigned long long)rw->n[C_DELIVERED],
                        (unsigned long long)rw->n[C_FAILED],
                        (unsigned long long)rw->n[C_NOT_SENT]);
        }
}
