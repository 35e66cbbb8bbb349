/* Integration: the whole pipeline against a real Kafka broker, the real
 * `hookbridge` binary and a receiver on loopback. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cfg.h"
#include "it_util.h"
#include "rx_receiver.h"
#include "wk_sample.h"
#include "wk_transform.h"

#define SECRET_A "whsec_aW50ZWdyYXRpb24tdGVzdC1zZWNyZXQtYQ=="
#define SECRET_B "integration-secret-b"

/* One request the receiver saw. */
typedef struct seen_s {
        char path[8];
        char id[64];
        char *body;
        int verified;
        int status;
} seen_t;

static struct {
        pthread_mutex_t lock;
        seen_t *v;
        size_t n, cap;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_request(const rx_request_t *req, void *opaque)
{
        seen_t *s;

        (void)opaque;
        pthread_mutex_lock(&seen.lock);
        if (seen.n == seen.cap) {
                seen.cap = seen.cap ? seen.cap * 2 : 1024;
                seen.v = realloc(seen.v, seen.cap * sizeof(*seen.v));
        }
        s = &seen.v[seen.n++];
        snprintf(s->path, sizeof(s->path), "%s", req->path);
        snprintf(s->id, sizeof(s->id), "%s", req->webhook_id);
        s->body = strndup(req->body, req->body_len);
        s->verified = req->verified;
        s->status = req->status;
        pthread_mutex_unlock(&seen.lock);
}

static size_t seen_count(void)
{
        size_t n;

        pthread_mutex_lock(&seen.lock);
        n = seen.n;
        pthread_mutex_unlock(&seen.lock);
        return n;
}

static rx_t *start_receiver(void)
{
        rx_conf_t c = {.cb = on_request};
        char errstr[256];
        rx_t *rx = rx_start(&c, errstr, sizeof(errstr));

        cr_assert_not_null(rx, "receiver: %s", errstr);
        cr_assert_eq(rx_set_secret(rx, "/a", SECRET_A, 0), 0);
        cr_assert_eq(rx_set_secret(rx, "/b", SECRET_B, 1), 0);
        return rx;
}

static void write_config(char *path, size_t size, const char *topic,
                         const char *group, uint16_t port, const char *delivery)
{
        char text[4096];

        snprintf(text, sizeof(text),
                 "kafka = { brokers = \"%s\"; group_id = \"%s\";\n"
                 "  topics = ( { name = \"%s\"; app_token = \"NX-topic\"; } "
                 ");\n  commit_interval_ms = 100; };\n"
                 "delivery = { allow_networks = [ \"127.0.0.0/8\" ]; %s %s };\n"
                 "webhooks = (\n"
                 "  { name = \"a\"; url = \"http://127.0.0.1:%u/a\";\n"
                 "    events = [ \"flows.seen\", \"flows.completed\", "
                 "\"flows.dismissed\", \"checklist.seen\",\n"
                 "      \"checklist.completed\", \"checklist.dismissed\", "
                 "\"nps.score\", \"nps.feedback\" ];\n"
                 "    user_properties = [ \"plan\", \"seats\" ];\n"
                 "    secret = \"%s\"; },\n"
                 "  { name = \"b\"; url = \"http://127.0.0.1:%u/b\";\n"
                 "    events = [ \"nps.score\", \"nps.dismissed\", "
                 "\"nps.ask_later\", \"feature_tag.clicked\",\n"
                 "      \"feature_tag.hover\", \"feature_tag.text_input\", "
                 "\"forms.submitted\",\n"
                 "      \"button_tracked_event.occurred\" ];\n"
                 "    company_properties = [ \"industry\", \"employees\" ];\n"
                 "    signature = \"userpilot\"; secret = \"%s\"; }\n"
                 ");\nadmin = { listen = \"\"; };\nlog = { level = "
                 "\"info\"; };\n",
                 it_brokers(), group, topic, delivery, it_threads_setting(),
                 port, SECRET_A, port, SECRET_B);
        it_write_temp(text, path, size);
}

/* What one webhook must receive for one event. */
typedef struct expect_s {
        const char *path;
        char id[64];
        char *body;
        int got;
} expect_t;

Test(pipeline, every_webhook_gets_exactly_its_payloads_then_commit,
     .timeout = 240)
{
        enum { N = 3000, PARTS = 4 };
        char topic[96], group[96], cfgpath[256], errstr[4096], raw[2048];
        char id[64], key[32], logpath[300];
        static expect_t exp[2 * N];
        size_t nexp = 0;
        rx_t *rx = start_receiver();
        rd_kafka_t *rk;
        cfg_t *cfg;
        wk_mapping_t *map = wk_mapping_new();
        int bad = 0, skipped = 0;
        pid_t pid;
        int status;

        it_unique("hb-it-pipe", topic, sizeof(topic));
        it_unique("hb-it-group", group, sizeof(group));
        it_create_topic(topic, PARTS);
        write_config(cfgpath, sizeof(cfgpath), topic, group, rx_port(rx),
                     "concurrency = 32; retry = { initial_ms = 50; max_ms = "
                     "500; max_attempts = 5; };");
        cfg = cfg_load(cfgpath, errstr, sizeof(errstr));
        cr_assert_not_null(cfg, "config: %s", errstr);

        /* Produce every kind, plus bad inputs and skipped call types. */
        rk = it_producer();
        for (int i = 0; i < N; i++) {
                wk_msgmeta_t meta = {.topic = topic, .timestamp_ms = 0};
                wk_event_t *ev = NULL;
                char reason[256];
                snprintf(key, sizeof(key), "user-%d", i % 50);
                if (i % 97 == 13) {
                        snprintf(raw, sizeof(raw), "{\"type\":\"track\",");
                        bad++;
                } else if (i % 89 == 7) {
                        snprintf(raw, sizeof(raw),
                                 "{\"type\":\"identify\",\"userId\":\"%d\"}",
                                 i);
                        skipped++;
                } else {
                        snprintf(id, sizeof(id), "it-%d", i);
                        wk_sample_render((size_t)i % wk_sample_count(), id, i,
                                         1700000000000LL + i, raw, sizeof(raw));
                        cr_assert_eq(wk_event_parse(map, raw, strlen(raw),
                                                    &meta, &ev, reason,
                                                    sizeof(reason)),
                                     WK_XF_OK, "%s", reason);
                        for (size_t w = 0; w < 2; w++) {
                                const cfg_webhook_t *wh = cfg_webhook(cfg, w);
                                size_t len;
                                if (!cfg_webhook_wants(wh, wk_event_type(ev)))
                                        continue;
                                exp[nexp].path = w == 0 ? "/a" : "/b";
                                snprintf(exp[nexp].id, sizeof(exp[0].id), "%s",
                                         id);
                                exp[nexp].body = wk_event_render(
                                        ev, wh->user_props, wh->user_prop_count,
                                        wh->company_props,
                                        wh->company_prop_count, &len);
                                nexp++;
                        }
                        wk_event_destroy(ev);
                }
                it_produce(rk, topic, -1, key, raw, strlen(raw));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
        cr_assert(bad > 0 && skipped > 0);

        snprintf(logpath, sizeof(logpath), "%s.log", cfgpath);
        pid = it_spawn_worker(cfgpath, logpath);
        cr_assert(it_wait_committed_to_end(group, topic, PARTS, 120000),
                  "offsets did not reach the log end (worker log: %s)",
                  logpath);

        /* Every commit came after its 2xx, so all must be here now. */
        pthread_mutex_lock(&seen.lock);
        for (size_t r = 0; r < seen.n; r++) {
                seen_t *s = &seen.v[r];
                size_t e;
                cr_assert_eq(s->verified, 1, "%s %s: signature", s->path,
                             s->id);
                for (e = 0; e < nexp; e++)
                        if (!strcmp(exp[e].path, s->path) &&
                            !strcmp(exp[e].id, s->id))
                                break;
                cr_assert(e < nexp, "unexpected delivery %s %s", s->path,
                          s->id);
                cr_assert_str_eq(s->body, exp[e].body, "%s %s: body", s->path,
                                 s->id);
                exp[e].got++;
        }
        pthread_mutex_unlock(&seen.lock);
        for (size_t e = 0; e < nexp; e++)
                cr_assert(exp[e].got >= 1, "%s never received %s", exp[e].path,
                          exp[e].id);
        cr_log_info("%zu deliveries expected, %zu received (bad inputs %d, "
                    "skipped %d)",
                    nexp, seen_count(), bad, skipped);

        status = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "worker did not stop cleanly on SIGTERM (log: %s)", logpath);
        for (size_t e = 0; e < nexp; e++)
                free(exp[e].body);
        wk_mapping_destroy(map);
        cfg_destroy(cfg);
        rx_stop(rx);
}

/* Has webhook-id \p id been answered 2xx? */
static int got_2xx(const char *id)
{
        int ok = 0;

        pthread_mutex_lock(&seen.lock);
        for (size_t r = 0; r < seen.n && !ok; r++)
                ok = !strcmp(seen.v[r].id, id) && seen.v[r].status / 100 == 2;
        pthread_mutex_unlock(&seen.lock);
        return ok;
}

Test(pipeline, failing_webhook_holds_its_offset_until_it_recovers,
     .timeout = 180)
{
        enum { N = 30 };
        char topic[96], group[96], cfgpath[256], raw[2048], id[64];
        char logpath[300];
        rx_t *rx = start_receiver();
        rd_kafka_t *rk;
        int64_t committed, end;
        int first_unfinished = -1;
        int64_t deadline;
        pid_t pid;
        int status;

        it_unique("hb-it-hold", topic, sizeof(topic));
        it_unique("hb-it-hold-group", group, sizeof(group));
        it_create_topic(topic, 1);
        /* No dead-letter topic: failures keep retrying, never dropped;
         * no retry tiers: they retry in the worker, holding the offset
         * (with tiers they would leave the partition, scenario 15 of
         * test_faults) */
        write_config(cfgpath, sizeof(cfgpath), topic, group, rx_port(rx),
                     "concurrency = 4; retry = { initial_ms = 20; max_ms = "
                     "100; max_attempts = 3; schedule = [ ]; }; "
                     "on_exhausted = \"retry\";"
                     " circuit = { failures = 5; open_ms = 100; };");
        cr_assert_eq(rx_set_script(rx, "/a", "200*5,500"), 0);

        rk = it_producer();
        for (int i = 0; i < N; i++) {
                snprintf(id, sizeof(id), "hold-%d", i);
                /* sample 1 = Flow Completed: webhook a only */
                wk_sample_render(1, id, i, 1700000000000LL, raw, sizeof(raw));
                it_produce(rk, topic, 0, id, raw, strlen(raw));
        }
        cr_assert_eq(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);

        snprintf(logpath, sizeof(logpath), "%s.log", cfgpath);
        pid = it_spawn_worker(cfgpath, logpath);
        /* Let the failures go round several times. */
        deadline = it_now_ms() + 60000;
        while (seen_count() < 80 && it_now_ms() < deadline)
                usleep(50 * 1000);
        cr_assert(seen_count() >= 80, "receiver saw only %zu requests",
                  seen_count());
        /* Until the commits caught up with the finished prefix (several
         * commit intervals; longer on a loaded machine), up to 30 s. */
        for (deadline = it_now_ms() + 30000;;) {
                first_unfinished = -1;
                for (int i = 0; i < N && first_unfinished < 0; i++) {
                        snprintf(id, sizeof(id), "hold-%d", i);
                        if (!got_2xx(id))
                                first_unfinished = i;
                }
                it_committed(group, topic, 1, &committed);
                if ((first_unfinished == 0 && committed < 0) ||
                    (first_unfinished > 0 && committed == first_unfinished) ||
                    it_now_ms() > deadline)
                        break;
                usleep(200 * 1000);
        }
        cr_assert(first_unfinished >= 0 && first_unfinished <= 5,
                  "first unfinished %d", first_unfinished);
        it_log_end(topic, 1, &end);
        cr_assert_eq(end, N);
        /* Exactly the finished prefix: never past the failing message. */
        if (first_unfinished == 0)
                cr_assert(committed < 0,
                          "committed %lld with nothing "
                          "finished",
                          (long long)committed);
        else
                cr_assert_eq(committed, first_unfinished,
                             "committed %lld, first unfinished %d",
                             (long long)committed, first_unfinished);

        /* The receiver recovers: everything is delivered and committed. */
        cr_assert_eq(rx_set_script(rx, "/a", "200"), 0);
        cr_assert(it_wait_committed_to_end(group, topic, 1, 60000),
                  "offsets did not catch up after recovery (log: %s)", logpath);
        for (int i = 0; i < N; i++) {
                snprintf(id, sizeof(id), "hold-%d", i);
                cr_assert(got_2xx(id), "%s never delivered", id);
        }
        status = it_stop_worker(pid, SIGTERM, 30000);
        cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "worker did not stop cleanly (log: %s)", logpath);
        rx_stop(rx);
}
