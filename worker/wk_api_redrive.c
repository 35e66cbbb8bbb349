/* wk_api_redrive: the API's redrive of one webhook's dead letters in a
 * time window (see wk_api_redrive.h): the plan and the run of
 * `hookbridge redrive` (wk_window, wk_redrive), on a configuration loaded
 * again from the file and the API's store. */
#include "wk_api_redrive.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_log.h"
#include "hb_time.h"
#include "wk_hook.h"
#include "wk_redrive.h"
#include "wk_store.h"
#include "wk_window.h"
#include "wk_worker.h"

/* A dry run reads its window while the request waits: at most this many
 * dead letters (more: narrow from/to, or redrive for real). */
#define DRY_RUN_MAX 200000

/* One redrive at a time per process: wk_window's run keeps process-wide
 * state (the worker a signal stops), and two redrives of one webhook
 * would send its dead letters twice. */
static atomic_int busy;

/* A redrive: its window, counts and what it owns. */
typedef struct job_s {
        wk_window_t win;
        wk_redrive_stats_t st;
        cfg_t *cfg; /* the worker's once it runs (wk_window_run) */
        struct wk_store_s *store;
        char *app, *id, *from, *to;
        int dry_run;
        int64_t window, todo;
} job_t;

static void job_free(job_t *j)
{
        if (!j)
                return;
        wk_window_fini(&j->win);
        cfg_destroy(j->cfg);
        free(j->app);
        free(j->id);
        free(j->from);
        free(j->to);
        free(j);
}

/* The worker over the window. @returns 0 done, 1 failed, 2 stopped. */
static int job_run(job_t *j)
{
        wk_redrive_sel_t sel = {
                .webhooks = j->win.webhooks,
                .webhook_count = j->win.webhook_count,
                .app = j->app,
                .stats = &j->st,
        };
        wk_worker_opts_t opts = {
                .redrive = &sel,
                .dry_run = j->dry_run,
                .no_admin = 1,
                .store = j->store,
        };
        wk_stats_t st;

        return wk_window_run(&j->win, &j->cfg, &opts, &st, NULL);
}

/* The counts as JSON members of \p o. */
static void add_counts(json_object *o, const job_t *j)
{
        const wk_redrive_stats_t *s = &j->st;

        json_object_object_add(o, "read",
                               json_object_new_int64((int64_t)s->read));
        json_object_object_add(o, "selected",
                               json_object_new_int64((int64_t)s->selected));
        if (j->dry_run) {
                json_object_object_add(
                        o, "would_send",
                        json_object_new_int64((int64_t)s->sendable));
        } else {
                json_object_object_add(
                        o, "delivered",
                        json_object_new_int64((int64_t)s->delivered));
                json_object_object_add(
                        o, "failed", json_object_new_int64((int64_t)s->failed));
        }
        json_object_object_add(o, "bad_inputs",
                               json_object_new_int64((int64_t)s->bad_input));
        json_object_object_add(o, "value_omitted",
                               json_object_new_int64((int64_t)s->omitted));
        json_object_object_add(o, "webhook_gone",
                               json_object_new_int64((int64_t)s->no_webhook));
        json_object_object_add(o, "not_valid_now",
                               json_object_new_int64((int64_t)s->unsendable));
}

static void *job_main(void *opaque)
{
        job_t *j = opaque;
        int outcome = job_run(j);

        hb_log(outcome == 0 ? HB_LOG_INFO : HB_LOG_WARN, "api redrive done",
               "app=%s webhook=%s outcome=%s window=%" PRId64 " read=%" PRIu64
               " selected=%" PRIu64 " delivered=%" PRIu64 " failed=%" PRIu64
               " bad_inputs=%" PRIu64 " value_omitted=%" PRIu64
               " webhook_gone=%" PRIu64 " not_valid_now=%" PRIu64,
               j->app, j->id,
               outcome == 0   ? "done"
               : outcome == 1 ? "failed"
                              : "stopped",
               j->window, j->st.read, j->st.selected, j->st.delivered,
               j->st.failed, j->st.bad_input, j->st.omitted, j->st.no_webhook,
               j->st.unsendable);
        job_free(j);
        atomic_store(&busy, 0);
        return NULL;
}

/* A TIME member of the body: a string as given, a number as epoch ms.
 * @returns 0 (absent: \p out NULL), or -1 when it is neither. */
static int time_member(json_object *body, const char *name, char **out)
{
        json_object *v;
        char num[32];

        *out = NULL;
        if (!json_object_object_get_ex(body, name, &v) || !v)
                return 0;
        if (json_object_is_type(v, json_type_string)) {
                *out = strdup(json_object_get_string(v));
        } else if (json_object_is_type(v, json_type_int)) {
                snprintf(num, sizeof(num), "%" PRId64,
                         json_object_get_int64(v));
                *out = strdup(num);
        } else {
                return -1;
        }
        return *out ? 0 : -1;
}

/* Read the body into \p j. @returns 0, or -1 with the problem answered:
 * 400 for a body that is not a JSON object, 422 for a bad member (as the
 * webhook handlers answer). */
static int parse_body(const wk_api_req_t *req, wk_api_resp_t *resp, job_t *j)
{
        json_object *body = NULL, *v;
        char bad[160] = "";

        if (req->body_len) {
                body = wk_api_body(req, resp);
                if (!body)
                        return -1;
        }
        if (body) {
                json_object_object_foreach(body, k, val)
                {
                        (void)val;
                        if (strcmp(k, "from") && strcmp(k, "to") &&
                            strcmp(k, "dry_run")) {
                                snprintf(bad, sizeof(bad),
                                         "%.60s: unknown field (from, to, "
                                         "dry_run)",
                                         k);
                                break;
                        }
                }
                if (!*bad && time_member(body, "from", &j->from) == -1)
                        snprintf(bad, sizeof(bad),
                                 "from: a TIME (ISO-8601, epoch ms, -2h)");
                if (!*bad && time_member(body, "to", &j->to) == -1)
                        snprintf(bad, sizeof(bad),
                                 "to: a TIME (ISO-8601, epoch ms, -2h)");
                if (!*bad && json_object_object_get_ex(body, "dry_run", &v)) {
                        if (!json_object_is_type(v, json_type_boolean))
                                snprintf(bad, sizeof(bad),
                                         "dry_run: true or false");
                        else
                                j->dry_run = json_object_get_boolean(v);
                }
        }
        json_object_put(body);
        if (*bad) {
                wk_api_problem(resp, 422, "the redrive is not valid", NULL,
                               bad);
                return -1;
        }
        return 0;
}

/* The window of \p j: its times, the dead-letter topic, the webhook.
 * @returns 0, or -1 with the problem answered. */
static int plan(const wk_api_env_t *env, job_t *j, wk_api_resp_t *resp)
{
        const char *dlt;
        char errs[2048], fields[600];
        uint64_t window = 0, todo = 0;

        j->cfg = cfg_load(cfg_path(env->cfg), errs, sizeof(errs));
        if (!j->cfg) {
                hb_log(HB_LOG_ERR, "api redrive: configuration not loaded",
                       "error=\"%s\"", errs);
                wk_api_problem(resp, 500, NULL,
                               "the configuration file does not load now",
                               NULL);
                return -1;
        }
        dlt = cfg_delivery(j->cfg)->dead_letter_topic;
        if (!dlt || !*dlt) {
                wk_api_problem(resp, 409, NULL,
                               "no delivery.dead_letter_topic: there are no "
                               "dead letters to redrive",
                               NULL);
                return -1;
        }
        j->win.from_arg = j->from;
        j->win.to_arg = j->to;
        j->win.app = j->app;
        if (wk_window_times(&j->win, errs, sizeof(errs)) == -1) {
                snprintf(fields, sizeof(fields), "%s: %.500s",
                         strstr(errs, "--to") ? "to" : "from", errs);
                wk_api_problem(resp, 422, "the redrive is not valid", NULL,
                               fields);
                return -1;
        }
        if (wk_window_add(&j->win.topics, &j->win.topic_count, dlt) == -1 ||
            wk_window_add(&j->win.webhooks, &j->win.webhook_count, j->id) ==
                    -1) {
                wk_api_problem(resp, 500, NULL, "out of memory", NULL);
                return -1;
        }
        if (wk_window_plan(&j->win, j->cfg, errs, sizeof(errs)) == -1) {
                hb_log(HB_LOG_WARN, "api redrive: no plan", "error=\"%s\"",
                       errs);
                wk_api_problem(resp, 503, NULL, errs, NULL);
                return -1;
        }
        wk_window_totals(&j->win, &window, &todo, NULL);
        j->window = (int64_t)window;
        j->todo = (int64_t)todo;
        return 0;
}

static json_object *plan_json(const job_t *j)
{
        json_object *o = json_object_new_object();
        char t[64];

        json_object_object_add(o, "webhook", json_object_new_string(j->id));
        json_object_object_add(o, "dry_run",
                               json_object_new_boolean(j->dry_run));
        json_object_object_add(o, "from",
                               json_object_new_string(hb_time_format(
                                       j->win.from_ms, t, sizeof(t))));
        json_object_object_add(o, "to",
                               j->win.to_ms >= 0
                                       ? json_object_new_string(hb_time_format(
                                                 j->win.to_ms, t, sizeof(t)))
                                       : NULL);
        json_object_object_add(o, "partitions",
                               json_object_new_int64((int64_t)j->win.n));
        json_object_object_add(o, "window", json_object_new_int64(j->window));
        return o;
}

void wk_api_redrive(const wk_api_env_t *env, const wk_api_req_t *req,
                    wk_api_resp_t *resp)
{
        job_t *j = calloc(1, sizeof(*j));
        wk_hook_t *h;
        json_object *o;
        pthread_attr_t attr;
        pthread_t th;
        int64_t window;
        int expected = 0;

        if (!j) {
                wk_api_problem(resp, 500, NULL, "out of memory", NULL);
                return;
        }
        j->win = (wk_window_t)WK_WINDOW_INIT("redrive");
        j->store = env->store;
        /* a webhook of this app only (another app's id: 404, SPEC §7) */
        h = wk_store_get(env->store, req->id, NULL);
        if (!h || !h->app_token || strcmp(h->app_token, req->app)) {
                wk_hook_free(h);
                job_free(j);
                wk_api_problem(resp, 404, NULL, "no such webhook in this app",
                               NULL);
                return;
        }
        wk_hook_free(h);
        j->app = strdup(req->app);
        j->id = strdup(req->id);
        if (!j->app || !j->id) {
                job_free(j);
                wk_api_problem(resp, 500, NULL, "out of memory", NULL);
                return;
        }
        if (parse_body(req, resp, j) == -1) {
                job_free(j);
                return;
        }
        if (!atomic_compare_exchange_strong(&busy, &expected, 1)) {
                job_free(j);
                wk_api_header(resp, "Retry-After", "10");
                wk_api_problem(resp, 409, NULL,
                               "a redrive is running on this replica; try "
                               "again when it is done",
                               NULL);
                return;
        }
        if (plan(env, j, resp) == -1)
                goto release;
        if (j->dry_run) {
                if (j->window > DRY_RUN_MAX) {
                        wk_api_problem(resp, 422, NULL,
                                       "the window holds more dead letters "
                                       "than a dry run reads while the "
                                       "request waits (200000): narrow "
                                       "from/to",
                                       NULL);
                        goto release;
                }
                if (j->todo > 0 && job_run(j) == 1) {
                        wk_api_problem(resp, 500, NULL,
                                       "the dry run failed (see the log)",
                                       NULL);
                        goto release;
                }
                o = plan_json(j);
                add_counts(o, j);
                wk_api_json(resp, 200, o);
                goto release;
        }
        o = plan_json(j);
        json_object_object_add(o, "state", json_object_new_string("started"));
        if (j->todo == 0) {
                json_object_object_add(o, "state",
                                       json_object_new_string("done"));
                wk_api_json(resp, 200, o);
                goto release;
        }
        /* read before the thread starts: it may free j at once */
        window = j->window;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, job_main, j) != 0) {
                pthread_attr_destroy(&attr);
                json_object_put(o);
                wk_api_problem(resp, 500, NULL, "cannot start the redrive",
                               NULL);
                goto release;
        }
        pthread_attr_destroy(&attr);
        hb_log(HB_LOG_INFO, "api redrive started",
               "app=%s webhook=%s window=%" PRId64, req->app, req->id, window);
        /* @remark the thread owns j (and clears busy) from here on */
        wk_api_json(resp, 202, o);
        return;
release:
        job_free(j);
        atomic_store(&busy, 0);
}
