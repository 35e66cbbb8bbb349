/* it_util: helpers for tests against a real Kafka broker
 * (HOOKBRIDGE_TEST_BROKERS) and the hookbridge binary. */
#include "it_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

int64_t it_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *it_brokers(void)
{
        const char *b = getenv("HOOKBRIDGE_TEST_BROKERS");

        if (!b || !*b)
                cr_assert_fail(
                        "HOOKBRIDGE_TEST_BROKERS is not set: start a broker "
                        "with tests/kafka/kafka.sh start and export what "
                        "tests/kafka/kafka.sh env prints (or run "
                        "tests/run.sh)");
        return b;
}

void it_unique(const char *prefix, char *out, size_t out_size)
{
        static int counter;

        snprintf(out, out_size, "%s-%d-%lld-%d", prefix, (int)getpid(),
                 (long long)time(NULL), ++counter);
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *group)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;

        rd_kafka_conf_set(conf, "bootstrap.servers", it_brokers(), NULL, 0);
        if (group)
                rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
        if (type == RD_KAFKA_PRODUCER) {
                rd_kafka_conf_set(conf, "enable.idempotence", "true", NULL, 0);
                rd_kafka_conf_set(conf, "linger.ms", "5", NULL, 0);
        }
        rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!rk)
                cr_assert_fail("kafka client: %s", errstr);
        return rk;
}

void it_create_topic(const char *topic, int partitions)
{
        it_create_topic_with(topic, partitions, NULL, NULL);
}

void it_create_topic_with(const char *topic, int partitions, const char *name,
                          const char *value)
{
        rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL);
        rd_kafka_NewTopic_t *nt =
                rd_kafka_NewTopic_new(topic, partitions, 1, NULL, 0);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev;
        const rd_kafka_CreateTopics_result_t *res;
        const rd_kafka_topic_result_t **tr;
        size_t n;
        int64_t deadline = it_now_ms() + 30000;

        cr_assert_not_null(nt, "NewTopic %s", topic);
        if (name)
                cr_assert_eq(rd_kafka_NewTopic_set_config(nt, name, value), 0,
                             "topic config %s=%s", name, value);
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, 30000);
        cr_assert_not_null(ev, "CreateTopics timed out");
        res = rd_kafka_event_CreateTopics_result(ev);
        cr_assert_not_null(res, "CreateTopics: %s",
                           rd_kafka_event_error_string(ev));
        tr = rd_kafka_CreateTopics_result_topics(res, &n);
        cr_assert_eq(n, 1);
        cr_assert(rd_kafka_topic_result_error(tr[0]) == 0 ||
                          rd_kafka_topic_result_error(tr[0]) ==
                                  RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS,
                  "CreateTopics %s: %s", topic,
                  rd_kafka_topic_result_error_string(tr[0]));
        rd_kafka_event_destroy(ev);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);

        /* Wait until every partition has a leader. */
        for (;;) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
                int ready = 0;
                if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == 0) {
                        ready = md->topic_cnt == 1 && !md->topics[0].err &&
                                md->topics[0].partition_cnt == partitions;
                        for (int i = 0; ready && i < partitions; i++)
                                ready = md->topics[0].partitions[i].leader >= 0;
                        rd_kafka_metadata_destroy(md);
                }
                rd_kafka_topic_destroy(rkt);
                if (ready)
                        break;
                cr_assert(it_now_ms() < deadline, "topic %s not ready", topic);
                usleep(100 * 1000);
        }
        rd_kafka_destroy(rk);
}

rd_kafka_t *it_producer(void)
{
        return client(RD_KAFKA_PRODUCER, NULL);
}

void it_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                const char *key, const void *value, size_t len)
{
        rd_kafka_resp_err_t err;

        for (;;) {
                err = rd_kafka_producev(
                        rk, RD_KAFKA_V_TOPIC(topic),
                        RD_KAFKA_V_PARTITION(partition < 0
                                                     ? RD_KAFKA_PARTITION_UA
                                                     : partition),
                        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                        RD_KAFKA_V_VALUE((void *)value, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(rk, 100);
        }
        cr_assert_eq(err, 0, "produce: %s", rd_kafka_err2str(err));
        rd_kafka_poll(rk, 0);
}

void it_log_end(const char *topic, int n, int64_t *out)
{
        rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL);

        for (int i = 0; i < n; i++) {
                int64_t lo, hi;
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                        rk, topic, i, &lo, &hi, 10000);
                cr_assert_eq(err, 0, "watermarks: %s", rd_kafka_err2str(err));
                out[i] = hi;
        }
        rd_kafka_destroy(rk);
}

void it_committed(const char *group, const char *topic, int n, int64_t *out)
{
        rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, group);
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(n);
        rd_kafka_resp_err_t err;
        int64_t deadline = it_now_ms() + 10000;

        for (int i = 0; i < n; i++)
                rd_kafka_topic_partition_list_add(l, topic, i);
        /* a group coordinator that is moving or still loading (a fresh
         * broker) answers with a retriable error: ask again */
        while ((err = rd_kafka_committed(rk, l, 10000)) &&
               (err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
                err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
                err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE) &&
               it_now_ms() < deadline)
                usleep(200 * 1000);
        cr_assert_eq(err, 0, "committed: %s", rd_kafka_err2str(err));
        for (int i = 0; i < n; i++)
                out[i] = l->elems[i].offset;
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(rk);
}

int it_wait_committed_to_end(const char *group, const char *topic, int n,
                             int timeout_ms)
{
        int64_t end[64], com[64];
        int64_t deadline = it_now_ms() + timeout_ms;

        cr_assert(n <= 64);
        it_log_end(topic, n, end);
        for (;;) {
                int all = 1;
                it_committed(group, topic, n, com);
                for (int i = 0; i < n; i++)
                        all &= com[i] == end[i];
                if (all)
                        return 1;
                if (it_now_ms() > deadline)
                        return 0;
                usleep(200 * 1000);
        }
}

int it_behind_end(const char *group, const char *topic, int n, int64_t *behind)
{
        int64_t end[64], com[64];
        int short_of = 0;

        cr_assert(n <= 64);
        it_log_end(topic, n, end);
        it_committed(group, topic, n, com);
        for (int i = 0; i < n; i++) {
                int64_t c = com[i] < 0 ? 0 : com[i];
                if (c < end[i]) {
                        short_of++;
                        *behind += end[i] - c;
                }
        }
        return short_of;
}

void it_write_temp(const char *text, char *path, size_t path_size)
{
        int fd;

        snprintf(path, path_size, "/tmp/hookbridge-it-XXXXXX");
        fd = mkstemp(path);
        cr_assert(fd >= 0, "mkstemp failed");
        cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

const char *it_threads_setting(void)
{
        static char text[40];
        const char *n = getenv("HB_TEST_THREADS");

        if (!n || !*n)
                return "";
        snprintf(text, sizeof(text), "threads = %d;", atoi(n));
        return text;
}

const char *it_hookbridge(void)
{
        const char *bin = getenv("HB_TEST_HOOKBRIDGE");

        return bin && *bin ? bin : HB_BINARY_DIR "/hookbridge";
}

void it_child_dies_with(pid_t parent, int sig)
{
        prctl(PR_SET_PDEATHSIG, sig);
        if (getppid() != parent)
                _exit(127);
}

pid_t it_spawn_worker(const char *cfg_path, const char *log_path)
{
        const char *bin = it_hookbridge();
        pid_t parent = getpid(), pid = fork();

        cr_assert(pid >= 0, "fork failed");
        if (pid == 0) {
                it_child_dies_with(parent, SIGKILL);
                int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0) {
                        dup2(fd, STDERR_FILENO);
                        dup2(fd, STDOUT_FILENO);
                        close(fd);
                }
                execl(bin, "hookbridge", "run", "-c", cfg_path, (char *)NULL);
                _exit(127);
        }
        return pid;
}

int it_stop_worker(pid_t pid, int sig, int timeout_ms)
{
        int64_t deadline = it_now_ms() + timeout_ms;
        int status;

        kill(pid, sig);
        while (it_now_ms() < deadline) {
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return status;
                usleep(20 * 1000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
}

uint16_t it_free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        uint16_t port;

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
        getsockname(fd, (struct sockaddr *)&a, &len);
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

typedef struct body_s {
        char *p;
        size_t len, size;
} body_t;

static size_t body_sink(char *p, size_t s, size_t n, void *ud)
{
        body_t *b = ud;
        size_t len = s * n, room = b->size - 1 - b->len;

        memcpy(b->p + b->len, p, len < room ? len : room);
        b->len += len < room ? len : room;
        b->p[b->len] = '\0';
        return len;
}

long it_http_get(uint16_t port, const char *path, char *body, size_t size)
{
        CURL *c = curl_easy_init();
        body_t b = {body, 0, size};
        char url[256];
        long code = 0;

        body[0] = '\0';
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_sink);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
        return code;
}

double it_metric(const char *text, const char *series)
{
        size_t n = strlen(series);

        for (const char *l = text; l && *l; l = strchr(l, '\n')) {
                if (*l == '\n')
                        l++;
                if (!strncmp(l, series, n) && l[n] == ' ')
                        return strtod(l + n + 1, NULL);
        }
        return -1;
}

double it_metric_family(const char *text, const char *name, int sum)
{
        size_t n = strlen(name);
        double best = -1, total = 0;
        int seen = 0;

        for (const char *l = text; l && *l; l = strchr(l, '\n')) {
                const char *v;
                if (*l == '\n')
                        l++;
                if (strncmp(l, name, n) || (l[n] != '{' && l[n] != ' '))
                        continue;
                v = strchr(l, '}');
                v = v ? v + 1 : l + n;
                {
                        double x = strtod(v, NULL);
                        total += x;
                        if (!seen || x > best)
                                best = x;
                        seen = 1;
                }
        }
        return !seen ? -1 : sum ? total : best;
}

uint64_t it_log_total(const char *topic, int n)
{
        int64_t end[256];
        uint64_t total = 0;

        cr_assert(n > 0 && n <= 256, "it_log_total: %d partitions", n);
        it_log_end(topic, n, end);
        for (int i = 0; i < n; i++)
                total += (uint64_t)end[i];
        return total;
}

void it_sleep_ms(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

int64_t it_wait_ready(uint16_t port, int ms)
{
        int64_t t0 = it_now_ms();
        char body[512];

        while (it_now_ms() - t0 < ms) {
                if (it_http_get(port, "/readyz", body, sizeof(body)) == 200)
                        return it_now_ms() - t0;
                it_sleep_ms(10);
        }
        return -1;
}

/* it_call()'s header sink: the lines kept, the ETag's value noted. */
static size_t header_sink(char *p, size_t s, size_t n, void *ud)
{
        it_ans_t *a = ud;
        body_t b = {a->headers, strlen(a->headers), sizeof(a->headers)};
        size_t len = s * n;

        if (len > 6 && !strncasecmp(p, "ETag: ", 6)) {
                size_t l = len - 6;
                while (l && (p[6 + l - 1] == '\r' || p[6 + l - 1] == '\n'))
                        l--;
                snprintf(a->etag, sizeof(a->etag), "%.*s", (int)l, p + 6);
        }
        return body_sink(p, s, n, &b);
}

void it_call(it_ans_t *a, uint16_t port, const char *token, const char *method,
             const char *path, const char *body, size_t body_len,
             const char *hdr)
{
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        body_t b = {a->body, 0, sizeof(a->body)};
        char url[512], auth[256];

        it_ans_free(a);
        memset(a, 0, sizeof(*a));
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_sink);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_sink);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
        if (token) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
                h = curl_slist_append(h, auth);
        }
        if (hdr)
                h = curl_slist_append(h, hdr);
        h = curl_slist_append(h, "Expect:");
        if (body) {
                h = curl_slist_append(h, "Content-Type: application/json");
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                 (curl_off_t)body_len);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        a->json = json_tokener_parse(a->body);
}

void it_ans_free(it_ans_t *a)
{
        json_object_put(a->json);
        a->json = NULL;
}

const char *it_jstr(json_object *o, const char *k)
{
        json_object *v = NULL;

        return o && json_object_object_get_ex(o, k, &v) && v
                       ? json_object_get_string(v)
                       : NULL;
}

int64_t it_jint(json_object *o, const char *k)
{
        json_object *v = NULL;

        return o && json_object_object_get_ex(o, k, &v) && v
                       ? json_object_get_int64(v)
                       : -1;
}
