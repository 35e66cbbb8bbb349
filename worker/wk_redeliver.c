/* wk_redeliver: a hand-off record sent again as a delivery (see
 * wk_redeliver.h). */
#include "wk_redeliver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wk_routes.h"

wk_rd_status_t wk_redeliver_render(const cfg_t *cfg, const wk_mapping_t *mp,
                                   const cfg_webhook_t *wh, const hb_rec_t *rec,
                                   wk_rd_t *out, char *why, size_t why_size)
{
        wk_msgmeta_t meta = {
                .topic = rec->topic,
                .partition = rec->partition,
                .offset = rec->offset,
                .timestamp_ms = rec->timestamp_ms,
                .topic_app_token = cfg_topic_app_token(cfg, rec->topic),
        };
        wk_event_t *ev = NULL;
        wk_rd_status_t rc = WK_RD_OK;
        const char *app;
        size_t app_len;

        memset(out, 0, sizeof(*out));
        if (why_size)
                why[0] = '\0';
        if (wk_event_parse(mp, rec->value ? rec->value : "", rec->value_len,
                           &meta, &ev, why, why_size) != WK_XF_OK)
                return WK_RD_INVALID;
        if (!cfg_webhook_wants(wh, wk_event_type(ev))) {
                snprintf(why, why_size, "event type %s switched off",
                         wk_event_type(ev));
                wk_event_destroy(ev);
                return WK_RD_TYPE_OFF;
        }
        app = wk_event_app(ev, &app_len);
        if (!wk_routes_app_ok(wh->app_token, app, app_len)) {
                snprintf(why, why_size, "the webhook is another app's now");
                wk_event_destroy(ev);
                return WK_RD_OTHER_APP;
        }
        out->body = wk_event_render(ev, wh->user_props, wh->user_prop_count,
                                    wh->company_props, wh->company_prop_count,
                                    &out->len);
        out->id = strdup(rec->id && *rec->id ? rec->id : wk_event_id(ev));
        if (!out->body || !out->id) {
                wk_redeliver_free(out);
                snprintf(why, why_size, "out of memory");
                rc = WK_RD_NOMEM;
        }
        wk_event_destroy(ev);
        return rc;
}

void wk_redeliver_free(wk_rd_t *d)
{
        free(d->body);
        free(d->id);
        memset(d, 0, sizeof(*d));
}
