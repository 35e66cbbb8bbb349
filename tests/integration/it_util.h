/* it_util: helpers for tests against a real Kafka broker
 * (HOOKBRIDGE_TEST_BROKERS) and the hookbridge binary. */
#ifndef HB_IT_UTIL_H
#define HB_IT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

/** @returns the brokers to test against; fails the test when unset. */
const char *it_brokers(void);

/** @brief A name unique to this run: "<prefix>-<pid>-<counter>". */
void it_unique(const char *prefix, char *out, size_t out_size);

/** @brief Create \p topic with \p partitions (replication 1); waits
 *  until its metadata shows every partition. Fails the test on error. */
void it_create_topic(const char *topic, int partitions);

/** @brief it_create_topic() with one topic config (\p name = \p value)
 *  set at creation; \p name NULL: none. */
void it_create_topic_with(const char *topic, int partitions, const char *name,
                          const char *value);

/** @returns an idempotent producer on it_brokers(). */
rd_kafka_t *it_producer(void);

/** @brief Produce one message (copied) to \p partition (-1: by key).
 *  Fails the test on error; flush with rd_kafka_flush(). */
void it_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                const char *key, const void *value, size_t len);

/** @brief Log-end offsets of partitions 0..n-1 of \p topic. */
void it_log_end(const char *topic, int n, int64_t *out);

/** @brief Committed offsets of \p group for partitions 0..n-1 of \p topic
 *  (-1001 = none). */
void it_committed(const char *group, const char *topic, int n, int64_t *out);

/**
 * @brief Wait up to \p timeout_ms until every partition's committed
 *        offset equals its log end. @returns 1 when it did.
 */
int it_wait_committed_to_end(const char *group, const char *topic, int n,
                             int timeout_ms);

/** @brief Partitions 0..n-1 of \p topic whose committed offset in
 *  \p group (none: 0, so an empty partition never read is not short) is
 *  short of the log end; the records between are added to \p behind.
 *  @returns how many are short. */
int it_behind_end(const char *group, const char *topic, int n, int64_t *behind);

/** @brief Write \p text to a new temporary file; path into \p path. */
void it_write_temp(const char *text, char *path, size_t path_size);

/** @returns the hookbridge binary the tests run: $HB_TEST_HOOKBRIDGE
 *  when set (e.g. a ThreadSanitizer build's, tests/run.sh), else this
 *  build's. */
const char *it_hookbridge(void);

/** @returns "threads = N;" for a delivery section when HB_TEST_THREADS
 *  is set (the suites run with that many delivery loops), "" otherwise. */
const char *it_threads_setting(void);

/**
 * @brief In a child between fork() and exec(): have the kernel send it
 *        \p sig when the test process \p parent (getpid() before the
 *        fork) ends, so that a test ended by an assertion or Criterion's
 *        time-out leaves no hookbridge (or broker) running; a child whose
 *        parent is already gone exits at once.
 */
void it_child_dies_with(pid_t parent, int sig);

/** @brief Start it_hookbridge() `run -c CFG`, stderr to \p log_path. */
pid_t it_spawn_worker(const char *cfg_path, const char *log_path);

/** @brief Send \p sig and wait up to \p timeout_ms.
 *  @returns the exit status (as from waitpid), or -1 on time-out (the
 *  process is then killed). */
int it_stop_worker(pid_t pid, int sig, int timeout_ms);

/** @returns monotonic milliseconds. */
int64_t it_now_ms(void);

/** @returns a TCP port on 127.0.0.1 that was free a moment ago. */
uint16_t it_free_port(void);

/** @brief GET http://127.0.0.1:PORT/PATH into \p body (NUL-terminated,
 *  cut at \p size). @returns the HTTP status, 0 when no answer. */
long it_http_get(uint16_t port, const char *path, char *body, size_t size);

/** @brief The sum of the log-end offsets of partitions 0..n-1 of
 *  \p topic: the messages it holds (none deleted yet). */
uint64_t it_log_total(const char *topic, int n);

/** @brief Sleep \p ms milliseconds. */
void it_sleep_ms(int ms);

/** @brief Wait up to \p ms for /readyz on \p port to answer 200.
 *  @returns the ms it took, or -1. */
int64_t it_wait_ready(uint16_t port, int ms);

/** One answer of it_call(). */
typedef struct it_ans_s {
        long status;        /**< the HTTP status, 0 when no answer */
        char body[65536];   /**< NUL-terminated, cut there */
        char headers[8192]; /**< the header lines as they came, cut there */
        char etag[64];      /**< the ETag's value, quotes included */
        json_object *json;  /**< the body parsed, or NULL */
} it_ans_t;

/**
 * @brief \p method \p path on http://127.0.0.1:\p port with \p body_len
 *        bytes of \p body as JSON (\p body NULL: none), the bearer
 *        \p token (NULL: none) and one more header line \p hdr (NULL:
 *        none), answer into \p a. Bounded at 120 s.
 * @remark \p a must be zeroed before its first call: a later call puts
 *         the JSON of the one before (it_ans_free() puts the last).
 */
void it_call(it_ans_t *a, uint16_t port, const char *token, const char *method,
             const char *path, const char *body, size_t body_len,
             const char *hdr);

/** @brief Put \p a's JSON (the answer can be used again). */
void it_ans_free(it_ans_t *a);

/** @returns string member \p k of \p o, NULL when absent or null. */
const char *it_jstr(json_object *o, const char *k);

/** @returns member \p k of \p o as an integer, -1 when absent or null. */
int64_t it_jint(json_object *o, const char *k);

/** @returns the value of the series \p series ("name{labels}") in a
 *  Prometheus exposition \p text, or -1 when absent. */
double it_metric(const char *text, const char *series);

/** @returns the largest value among the series of family \p name (any
 *  labels) in \p text, or with \p sum their sum; -1 when there are
 *  none. */
double it_metric_family(const char *text, const char *name, int sum);

#endif
