/* cfg_check: cross-field validation -- the rules that tie two settings
 * together, checked once every section is parsed. */
#include "cfg_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * initial_ms <= max_ms, reported at whichever of the two \p g sets (\p set
 * bits), \p other saying where the value not set there comes from.
 */
static void cfg_retry_check(cfg_loader_t *ld, const config_setting_t *g,
                            const char *prefix, const cfg_retry_t *r,
                            uint32_t set, uint32_t bad, const char *other)
{
        uint32_t bi = cfg_opt_bit(cfg_retry_opts, "initial_ms");
        uint32_t bm = cfg_opt_bit(cfg_retry_opts, "max_ms");

        if ((bad & (bi | bm)) || r->initial_ms <= r->max_ms)
                return;
        if (set & bm)
                cfg_report(ld, cfg_member(g, "max_ms"),
                           "%smax_ms: %d is below initial_ms (%d%s); raise "
                           "max_ms or lower initial_ms",
                           prefix, r->max_ms, r->initial_ms,
                           (set & bi) ? "" : other);
        else
                cfg_report(ld, (set & bi) ? cfg_member(g, "initial_ms") : g,
                           "%sinitial_ms: %d is above max_ms (%d%s); lower "
                           "initial_ms or raise max_ms",
                           prefix, r->initial_ms, r->max_ms, other);
}

/* dead_letter_topic, on_exhausted and the in-flight bounds. */
static void cfg_check_delivery(cfg_loader_t *ld)
{
        const cfg_delivery_t *d = &ld->cfg->delivery;
        const cfg_kafka_t *k = &ld->cfg->kafka;
        const config_setting_t *g = ld->delivery, *m;

        cfg_retry_check(ld, ld->dretry, "delivery.retry.", &d->retry,
                        ld->dretry_set, ld->dretry_bad, ", the default");
        if (!d->tiers.topic_prefix && k->group_id) {
                /* the group's own tiers: two deployments on one cluster
                 * never share them */
                size_t len = strlen(k->group_id) + sizeof(".retry");
                char *p = ld_alloc(ld, len, 1);
                if (p) {
                        snprintf(p, len, "%s.retry", k->group_id);
                        ld->cfg->delivery.tiers.topic_prefix = p;
                }
        }
        for (size_t i = 0; d->tiers.schedule.n && i < k->topic_count; i++) {
                char t0[256];
                if (hb_sched_tier_of(&d->tiers.schedule, d->tiers.topic_prefix,
                                     k->topics[i].name) >= 0 ||
                    !hb_sched_topic(&d->tiers.schedule, d->tiers.topic_prefix,
                                    0, t0, sizeof(t0)) ||
                    strlen(t0) > 249) {
                        cfg_report(ld, ld->dretry ? ld->dretry : g,
                                   "delivery.retry.topic_prefix: the tier "
                                   "topics ('%.64s-...') must be valid topic "
                                   "names other than kafka.topics",
                                   d->tiers.topic_prefix);
                        break;
                }
        }
        m = cfg_member(g, "dead_letter_topic");
        for (size_t i = 0; d->dead_letter_topic && i < k->topic_count; i++) {
                if (!strcmp(k->topics[i].name, d->dead_letter_topic))
                        cfg_report(ld, m,
                                   "delivery.dead_letter_topic: '%s' is also "
                                   "in kafka.topics; dead letters would be "
                                   "consumed again, use a topic of its own",
                                   d->dead_letter_topic);
        }
        if ((ld->del_set & cfg_opt_bit(cfg_delivery_opts, "on_exhausted")) &&
            d->on_exhausted == CFG_EXHAUSTED_DEAD_LETTER &&
            !d->dead_letter_topic)
                cfg_report(ld, cfg_member(g, "on_exhausted"),
                           "delivery.on_exhausted: \"dead_letter\" needs "
                           "delivery.dead_letter_topic; set one, or choose "
                           "\"retry\" or \"drop\"");
        if (!(ld->del_bad & (cfg_opt_bit(cfg_delivery_opts, "max_in_flight") |
                             cfg_opt_bit(cfg_delivery_opts,
                                         "max_in_flight_per_partition"))) &&
            d->max_in_flight_per_partition > d->max_in_flight) {
                m = cfg_member(g, "max_in_flight_per_partition");
                cfg_report(ld, m ? m : cfg_member(g, "max_in_flight"),
                           "delivery.max_in_flight_per_partition: %d is "
                           "above max_in_flight (%d); lower it or raise "
                           "max_in_flight",
                           d->max_in_flight_per_partition, d->max_in_flight);
        }
}

/* The rules inside one webhook, and those it shares with delivery. */
static void cfg_check_webhook(cfg_loader_t *ld, size_t idx)
{
        const cfg_delivery_t *d = &ld->cfg->delivery;
        const cfg_webhook_t *wh = &ld->cfg->webhooks[idx];
        const cfg_wh_marks_t *mk = &ld->marks[idx];
        const cfg_wh_ctx_t *w = &mk->w;
        const config_setting_t *g = w->g, *m, *tls;
        size_t nprops = wh->user_prop_count + wh->company_prop_count;
        char msg[CFG_MSG_MAX / 2];
        const char *why;

        for (size_t j = 0; wh->name && j < idx; j++) {
                if (ld->cfg->webhooks[j].name &&
                    !strcmp(ld->cfg->webhooks[j].name, wh->name)) {
                        cfg_report(ld, cfg_member(g, "name"),
                                   "%sname: already used by the webhook at "
                                   "line %d; webhook names must be unique "
                                   "in the file, across apps too",
                                   w->prefix, ld->cfg->webhooks[j].line);
                        break;
                }
        }
        if ((why = cfg_rule_props(nprops, msg, sizeof(msg))) != NULL) {
                m = cfg_member(g, "company_properties");
                if (!m || wh->company_prop_count == 0)
                        m = cfg_member(g, "user_properties");
                cfg_report(ld, m, "%s %s", w->who, why);
        }
        if (mk->prev_at && !mk->cur_at)
                cfg_report(ld, mk->prev_at,
                           "%s%s: a previous secret needs a current one; add "
                           "secret, secret_env or secret_file",
                           w->prefix, config_setting_name(mk->prev_at));
        if ((mk->set & cfg_opt_bit(cfg_webhook_opts, "signature")) &&
            wh->signature == CFG_SIG_USERPILOT && !wh->secret &&
            !cfg_member(g, "secret") && !cfg_member(g, "secret_env") &&
            !cfg_member(g, "secret_file"))
                cfg_report(ld, cfg_member(g, "signature"),
                           "%ssignature: \"userpilot\" needs a secret; add "
                           "secret, secret_env or secret_file",
                           w->prefix);
        tls = cfg_member(g, "tls");
        if (tls && config_setting_is_group(tls)) {
                if (!wh->tls.client_cert != !wh->tls.client_key)
                        cfg_report(ld, tls,
                                   "%stls: client_cert and client_key go "
                                   "together; set both or neither",
                                   w->prefix);
                if (wh->url && strncasecmp(wh->url, "https://", 8))
                        cfg_report(ld, tls,
                                   "%stls: TLS settings on an http:// url; "
                                   "use https://",
                                   w->prefix);
        }
        if (d->https_only && wh->url && strncasecmp(wh->url, "https://", 8))
                cfg_report(ld, cfg_member(g, "url"),
                           "%surl: must be https:// (delivery.https_only = "
                           "true)",
                           w->prefix);
        if ((mk->set & cfg_opt_bit(cfg_webhook_opts, "max_in_flight")) &&
            wh->max_in_flight > d->concurrency)
                cfg_report(ld, cfg_member(g, "max_in_flight"),
                           "%smax_in_flight: %d is above "
                           "delivery.concurrency (%d); lower it or raise "
                           "concurrency",
                           w->prefix, wh->max_in_flight, d->concurrency);
        if (mk->retry &&
            (mk->rset & (cfg_opt_bit(cfg_retry_opts, "initial_ms") |
                         cfg_opt_bit(cfg_retry_opts, "max_ms")))) {
                char rprefix[CFG_PATH_MAX];

                snprintf(rprefix, sizeof(rprefix), "%sretry.", w->prefix);
                cfg_retry_check(ld, mk->retry, rprefix, &wh->retry, mk->rset,
                                mk->rbad, ", from delivery.retry");
        }
}

void cfg_check_all(cfg_loader_t *ld)
{
        if (ld->oom)
                return;
        cfg_check_delivery(ld);
        for (size_t i = 0; ld->marks && i < ld->cfg->webhook_count; i++)
                cfg_check_webhook(ld, i);
}
