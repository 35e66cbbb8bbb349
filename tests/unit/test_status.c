/* Unit tests: wk_status, what a worker publishes, with no broker: two
 * workers in one process (replay consumers, assigned without a group)
 * publish their own partitions, never each other's (bug 10: the refresh's
 * partition buffer was one static array shared by every worker). */
#define _GNU_SOURCE /* pthread_tryjoin_np */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cfg.h"
#include "kc_consumer.h"
#include "wk_status.h"
#include "hb_time.h"
#include "wk_worker.h"
#include "wk_loops.h"
#include "wk_worker_int.h"

#define PARTS 16
#define TURNS 5000

/* Port 1 on loopback: nothing listens; replay consumers need no broker
 * to be assigned their partitions. */
static const char *status_cfg =
        "kafka = { brokers = \"127.0.0.1:1\"; group_id = \"g\";\n"
        "  topics = ( { name = \"alpha\"; }, { name = \"beta\"; } ); };\n"
        "webhooks = (\n"
        "  { name = \"crm\"; url = \"https://example.com/hook\";\n"
        "    events = [ \"*\" ]; }\n"
        ");\n";

static wk_worker_t *replay_worker_of(const char *text, const char *topic)
{
        char errs[4096];
        cfg_t *cfg = cfg_load_string(text, "t.cfg", errs, sizeof(errs));
        kc_range_t ranges[PARTS];
        wk_worker_opts_t o = {
                .ranges = ranges, .range_count = PARTS, .no_admin = 1};
        wk_worker_t *w;

        cr_assert_not_null(cfg, "%s", errs);
        for (int i = 0; i < PARTS; i++)
                ranges[i] = (kc_range_t){topic, i, 0, 1000};
        w = wk_worker_new_ex(cfg, &o, errs, sizeof(errs));
        cr_assert_not_null(w, "%s", errs);
        return w;
}

static wk_worker_t *replay_worker(const char *topic)
{
        return replay_worker_of(status_cfg, topic);
}

/* How many assignment entries of \p doc name \p topic. */
static int count_topic(const char *doc, const char *topic)
{
        char needle[64];
        int n = 0;

        snprintf(needle, sizeof(needle), "\"topic\":\"%s\"", topic);
        for (const char *p = doc; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

typedef struct {
        wk_worker_t *w;
        const char *own, *other;
        int wrong;  /* documents that named the other worker's topic */
        int short_; /* documents without all of its own partitions */
} turn_t;

static void *refresh_often(void *arg)
{
        turn_t *t = arg;

        for (int i = 0; i < TURNS; i++) {
                char *doc;
                wk_status_refresh(t->w);
                doc = wk_status_document(t->w);
                if (!doc)
                        continue;
                t->wrong += count_topic(doc, t->other) > 0;
                t->short_ += count_topic(doc, t->own) != PARTS;
                free(doc);
        }
        return NULL;
}

Test(status, document_before_the_first_refresh)
{
        wk_worker_t *w = replay_worker("alpha");
        char *doc = wk_status_document(w);
        wk_stats_t st;

        cr_assert_not_null(doc);
        cr_expect_str_eq(doc, "{}");
        free(doc);
        wk_status_publish(w); /* the first turn refreshes too */
        doc = wk_status_document(w);
        cr_expect_eq(count_topic(doc, "alpha"), PARTS, "%s", doc);
        free(doc);
        wk_worker_stats(w, &st);
        cr_expect_eq(st.consumed, 0);
        wk_worker_destroy(w);
}

/* Bug 10: with one static buffer, the refreshes of two workers on two
 * threads wrote each other's partitions into their /status documents. */
Test(status, two_workers_publish_only_their_own_partitions)
{
        turn_t a = {.own = "alpha", .other = "beta"};
        turn_t b = {.own = "beta", .other = "alpha"};
        pthread_t ta, tb;

        a.w = replay_worker("alpha");
        b.w = replay_worker("beta");
        pthread_create(&ta, NULL, refresh_often, &a);
        pthread_create(&tb, NULL, refresh_often, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        cr_expect_eq(a.wrong + a.short_, 0,
                     "alpha's /status named beta %d times, lacked its own "
                     "partitions %d times in %d refreshes",
                     a.wrong, a.short_, TURNS);
        cr_expect_eq(b.wrong + b.short_, 0,
                     "beta's /status named alpha %d times, lacked its own "
                     "partitions %d times in %d refreshes",
                     b.wrong, b.short_, TURNS);
        wk_worker_destroy(a.w);
        wk_worker_destroy(b.w);
}

/* Tenants (SPEC §5): /status and the per-webhook series name a webhook's
 * app; an operator webhook has none. */
Test(status, webhooks_name_their_app)
{
        wk_worker_t *w = replay_worker_of(
                "kafka = { brokers = \"127.0.0.1:1\"; group_id = \"g\";\n"
                "  topics = ( \"alpha\" ); };\n"
                "webhooks = (\n"
                "  { name = \"crm\"; app_token = \"NX-a\"; url = "
                "\"https://example.com/a\"; events = [ \"*\" ]; },\n"
                "  { name = \"sink\"; url = \"https://example.com/s\";\n"
                "    events = [ \"*\" ]; }\n"
                ");\n",
                "alpha");
        char l[WK_STATUS_LABEL_MAX], *doc;

        wk_status_publish(w);
        doc = wk_status_document(w);
        cr_assert_not_null(doc);
        cr_expect(strstr(doc, "\"name\":\"crm\",\"app_token\":\"NX-a\","), "%s",
                  doc);
        cr_expect(strstr(doc, "\"name\":\"sink\",\"app_token\":null,"), "%s",
                  doc);
        free(doc);
        wk_worker_destroy(w);

        wk_status_hook_label(l, sizeof(l), "crm", "NX-a");
        cr_expect_str_eq(l, "webhook=\"crm\",app=\"NX-a\"");
        wk_status_hook_label(l, sizeof(l), "sink", NULL);
        cr_expect_str_eq(l, "webhook=\"sink\"");
}

/* /status with 10,000 webhooks was ~15% of the loop's CPU, rebuilt every
 * second whether read or not: now it is built only while it is read, and
 * a reader of a stale one waits for the loop's next turn to build it. */
static void *read_document(void *arg)
{
        return wk_status_document(arg);
}

Test(status, document_built_only_while_read)
{
        wk_worker_t *w = replay_worker("alpha");
        wk_status_t *st = &w->status;
        pthread_t reader;
        void *doc = NULL;
        int64_t built, t0;
        int joined = 0;

        wk_status_publish(w); /* the first document */
        cr_assert_not_null(st->document);
        /* as if built long ago and never read since */
        st->document_ms -= 60000;
        st->refresh_ms = st->document_ms;
        atomic_store(&st->asked_ms,
                     hb_time_mono_ms() - 2 * WK_STATUS_WATCHED_MS);
        built = st->document_ms;
        wk_status_refresh(w);
        cr_expect_eq(st->document_ms, built,
                     "the document was rebuilt with nobody reading it");

        /* a reader waits; the loop's next turn builds a fresh one */
        t0 = hb_time_mono_ms();
        cr_assert_eq(pthread_create(&reader, NULL, read_document, w), 0);
        while (hb_time_mono_ms() - t0 < 10000) {
                struct timespec tick = {.tv_nsec = 5 * 1000 * 1000};

                wk_status_publish(w);
                if (pthread_tryjoin_np(reader, &doc) == 0) {
                        joined = 1;
                        break;
                }
                nanosleep(&tick, NULL);
        }
        if (!joined)
                pthread_join(reader, &doc);
        cr_assert_not_null(doc);
        cr_expect_eq(count_topic(doc, "alpha"), PARTS, "%s", (char *)doc);
        cr_expect_gt(st->document_ms, built, "no fresh document was built");
        cr_expect_lt(hb_time_mono_ms() - t0, WK_STATUS_WAIT_MS,
                     "the reader waited out its bound");
        free(doc);
        /* read just now: the next refreshes build it again */
        built = st->document_ms;
        st->document_ms -= 1;
        built -= 1;
        wk_status_refresh(w);
        cr_expect_gt(st->document_ms, built);
        wk_worker_destroy(w);
}

/* /status of several delivery loops (wk_loops): every loop is asked
 * before any is waited for. Asked in turn, 4 loops whose documents were
 * stale and whose loops did not turn kept the reader 4 x
 * WK_STATUS_WAIT_MS (8 s); now the wait is WK_STATUS_WAIT_MS in all. */
#define LOOPS 4

static wk_loops_t *replay_loops(int n)
{
        char errs[4096];
        cfg_t *cfg = cfg_load_string(status_cfg, "t.cfg", errs, sizeof(errs));
        kc_range_t ranges[PARTS];
        wk_worker_opts_t o = {
                .ranges = ranges, .range_count = PARTS, .no_admin = 1};
        wk_loops_t *l;

        cr_assert_not_null(cfg, "%s", errs);
        for (int i = 0; i < PARTS; i++)
                ranges[i] = (kc_range_t){"alpha", i, 0, 1000};
        l = wk_loops_new(cfg, &o, n, errs, sizeof(errs));
        cr_assert_not_null(l, "%s", errs);
        return l;
}

/* Every loop's document built long ago, and a refresh since: a reader
 * waits for the loop's next turn. */
static void make_stale(wk_worker_t *w)
{
        wk_status_t *st = &w->status;

        wk_status_publish(w);
        cr_assert_not_null(st->document);
        st->document_ms -= 60000;
        st->refresh_ms = st->document_ms + 1;
}

Test(status, loops_read_at_once_when_none_turns)
{
        wk_loops_t *l = replay_loops(LOOPS);
        int64_t t0, took;
        char *doc;

        for (int i = 0; i < LOOPS; i++)
                make_stale(wk_loops_worker(l, i));
        t0 = hb_time_mono_ms();
        doc = wk_loops_status(l);
        took = hb_time_mono_ms() - t0;
        cr_assert_not_null(doc);
        cr_expect_geq(took, WK_STATUS_WAIT_MS - 50,
                      "the reader did not wait for the loops (%lld ms)",
                      (long long)took);
        cr_expect_lt(took, WK_STATUS_WAIT_MS + 1000,
                     "%d loops kept the reader %lld ms (each waited in "
                     "turn?)",
                     LOOPS, (long long)took);
        cr_expect_eq(count_topic(doc, "alpha"), LOOPS * PARTS, "%s", doc);
        cr_expect(strstr(doc, "\"threads\":4") != NULL, "%s", doc);
        free(doc);
        for (int i = 0; i < LOOPS; i++)
                cr_expect_eq(
                        atomic_load(&wk_loops_worker(l, i)->status.waiting), 0,
                        "loop %d still counts a reader", i);
        wk_loops_destroy(l);
}

/* The loops turning (each on its own thread here, as in wk_loops_run):
 * a stale read gets every loop's fresh document, well within the bound. */
typedef struct {
        wk_worker_t *w;
        atomic_int *stop;
} turner_t;

static void *turn_until_stopped(void *arg)
{
        turner_t *t = arg;

        while (!atomic_load(t->stop)) {
                struct timespec tick = {.tv_nsec = 5 * 1000 * 1000};

                wk_status_publish(t->w);
                nanosleep(&tick, NULL);
        }
        return NULL;
}

Test(status, loops_read_fresh_within_the_bound)
{
        wk_loops_t *l = replay_loops(LOOPS);
        turner_t t[LOOPS];
        pthread_t th[LOOPS];
        atomic_int stop;
        int64_t stale[LOOPS], t0, took;
        char *doc;

        atomic_init(&stop, 0);
        for (int i = 0; i < LOOPS; i++) {
                make_stale(wk_loops_worker(l, i));
                stale[i] = wk_loops_worker(l, i)->status.document_ms;
        }
        t0 = hb_time_mono_ms();
        for (int i = 0; i < LOOPS; i++) {
                t[i] = (turner_t){wk_loops_worker(l, i), &stop};
                cr_assert_eq(
                        pthread_create(&th[i], NULL, turn_until_stopped, &t[i]),
                        0);
        }
        doc = wk_loops_status(l);
        took = hb_time_mono_ms() - t0;
        atomic_store(&stop, 1);
        for (int i = 0; i < LOOPS; i++)
                pthread_join(th[i], NULL);
        cr_assert_not_null(doc);
        cr_expect_lt(took, WK_STATUS_WAIT_MS, "took %lld ms", (long long)took);
        cr_expect_eq(count_topic(doc, "alpha"), LOOPS * PARTS, "%s", doc);
        for (int i = 0; i < LOOPS; i++)
                cr_expect_gt(wk_loops_worker(l, i)->status.document_ms,
                             stale[i], "loop %d built no fresh document", i);
        free(doc);
        wk_loops_destroy(l);
}
