/* it_faults: bookkeeping for the fault-injection suite ("nothing lost"):
 * a ledger of the events a scenario produced, what the receiver answered
 * for each, what reached the dead-letter topic, the workers it ran, and
 * the one line of figures it ends with. Also a broker of its own that can
 * be stopped and restarted with its data. */
#ifndef HB_IT_FAULTS_H
#define HB_IT_FAULTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#include "rx_receiver.h"

typedef struct fx_s fx_t;

/** One produced event and what became of it. */
typedef struct fx_event_s {
        int32_t partition; /**< from the delivery report, -1 before */
        int64_t offset;    /**< from the delivery report, -1 before */
        int kind;          /**< wk_sample kind, -1 for a bad input */
        int ok;            /**< 2xx answers the receiver gave for it */
        int fail;          /**< other answers (and dropped connections) */
        int dlq;           /**< records in the dead-letter topic */
        char reason[16];   /**< hookbridge-reason of the last record */
} fx_event_t;

/** The figures of a scenario (see fx_report()). */
typedef struct fx_figures_s {
        size_t produced;
        size_t delivered;     /**< unique ids answered 2xx */
        size_t duplicates;    /**< 2xx answers beyond the first per id */
        size_t dead_lettered; /**< unique ids in the dead-letter topic */
        size_t dropped;       /**< "delivery dropped" in worker logs */
        size_t lost;          /**< neither delivered nor dead-lettered */
        size_t bad;           /**< bad inputs among the produced */
        size_t bad_delivered; /**< bad inputs answered 2xx (never) */
} fx_figures_t;

/** A webhook of a scenario's configuration. */
typedef struct fx_hook_s {
        const char *name;
        const char *path;   /**< on the receiver, e.g. "/a", or a URL */
        const char *events; /**< libconfig list, e.g. "[ \"*\" ]" */
        const char *extra;  /**< more settings for it, or NULL */
} fx_hook_t;

/**
 * @brief A scenario: unique topic, group and dead-letter topic names, a
 *        ledger for up to \p capacity events and a scratch directory for
 *        the configuration and worker logs.
 */
fx_t *fx_new(const char *scenario, size_t capacity);

/** @brief Kill workers still running, stop the receiver, remove the
 *  scratch directory, free. */
void fx_destroy(fx_t *f);

const char *fx_topic(const fx_t *f);
const char *fx_group(const fx_t *f);
const char *fx_dlq(const fx_t *f);
/** @returns the scratch directory (configuration, worker logs). */
const char *fx_dir(const fx_t *f);
/** @returns the configuration file fx_spawn() runs: fx_write_config()
 *  writes it, or a scenario that needs more writes its own there. */
const char *fx_config(const fx_t *f);

/** @brief Create the topic with \p partitions and the dead-letter topic
 *  (one partition), both taking messages up to 4 MiB. */
void fx_create_topics(fx_t *f, int partitions);

/**
 * @brief Start the in-process receiver on \p port (0: ephemeral), every
 *        request recorded in the ledger by its webhook-id.
 * @remark the receiver belongs to \p f (stopped by fx_destroy()).
 */
rx_t *fx_receiver(fx_t *f, uint16_t port);

/** @brief Stop the receiver now (its port is then refused). */
void fx_receiver_stop(fx_t *f);

/**
 * @brief Write the worker configuration: the scenario's topic, group and
 *        dead-letter topic, webhooks on 127.0.0.1:\p rx_port.
 * @param delivery   more delivery settings (after the suite's defaults)
 * @param kafka      more kafka settings (after the suite's defaults)
 */
void fx_write_config(fx_t *f, uint16_t rx_port, const char *delivery,
                     const char *kafka, const fx_hook_t *hooks, size_t n);

/** @brief Serve the worker's admin endpoints on 127.0.0.1:\p port in
 *  the next fx_write_config() (default: off). */
void fx_set_admin(fx_t *f, uint16_t port);

/** @brief delivery.retry's settings in the next fx_write_config(), e.g.
 *  "max_attempts = 2; schedule = [ \"1s\" ];" (default: in-worker
 *  retries only, "initial_ms = 50; max_ms = 500; max_attempts = 50;
 *  schedule = [ ];", as the scenarios before the retry tiers had). */
void fx_set_retry(fx_t *f, const char *retry);

/** @brief delivery.circuit's settings in the next fx_write_config(), e.g.
 *  "failures = 5; open_ms = 30000;" (the product's defaults; default:
 *  "failures = 5; open_ms = 1000;", the suite's short open period). */
void fx_set_circuit(fx_t *f, const char *circuit);

/** @returns lines holding \p text in the logs of every worker so far. */
size_t fx_log_count(fx_t *f, const char *text);

/** @brief The id ("<prefix>-<index>") the next produced event gets. */
void fx_next_id(fx_t *f, char *out, size_t size);

/** @brief Start `hookbridge run` on the configuration (killed with the
 *  test process should that die first); returns once it logged "worker
 *  started", so its signal handlers are in place (asserts it does within
 *  30 s: a sanitizer build on a busy machine starts slowly). */
pid_t fx_spawn(fx_t *f);

/** @brief SIGKILL a worker and reap it. */
void fx_kill(fx_t *f, pid_t pid);

/** @brief Stop a worker with SIGTERM (SIGKILL after \p timeout_ms).
 *  @returns its wait status, -1 when it had to be killed. */
int fx_stop_status(fx_t *f, pid_t pid, int timeout_ms);

/** @brief Stop a worker with SIGTERM; asserts it exits 0 in time. */
void fx_stop(fx_t *f, pid_t pid, int timeout_ms);

/** @returns 1 while \p pid has not exited. */
int fx_alive(pid_t pid);

/** @returns VmHWM (peak resident set) of \p pid in KiB, -1 if unknown. */
long fx_peak_rss_kib(pid_t pid);

/** @brief Produce one sample event of \p kind, id "<prefix>-<index>",
 *  keyed by its id. @returns its index. */
size_t fx_produce_good(fx_t *f, int kind);

/** @brief Produce a bad input (not an event) with \p key (or none).
 *  @returns its index. */
size_t fx_produce_bad(fx_t *f, const char *key, const void *value, size_t len);

/** @brief Wait for every delivery report; asserts none failed. */
void fx_flush(fx_t *f);

/** @brief Produce \p n sample events, the kinds in turn, and wait for
 *  their delivery reports (fx_flush). */
void fx_produce_mix(fx_t *f, int n);

/**
 * @brief Produce \p count sample events in a thread, \p per_second of
 *        them a second, kinds taken in turn from \p kinds (NULL: every
 *        kind).
 */
void fx_stream_start(fx_t *f, size_t count, int per_second, const int *kinds,
                     size_t nkinds);

/** @brief Wait for the stream's end and its delivery reports. */
void fx_stream_join(fx_t *f);

/** @returns events produced so far (reported or not). */
size_t fx_produced(fx_t *f);

/** @returns unique ids answered 2xx so far. */
size_t fx_delivered(fx_t *f);

/** @returns requests the receiver answered so far. */
size_t fx_requests(fx_t *f);

/** @brief Answers given on \p path so far: 2xx into \p ok, others into
 *  \p fail. */
void fx_path_counts(fx_t *f, const char *path, size_t *ok, size_t *fail);

/** @brief Wait until \p n unique ids were answered 2xx; asserts. */
void fx_wait_delivered(fx_t *f, size_t n, int timeout_ms);

/** @returns a copy of event \p i of the ledger. */
fx_event_t fx_event(fx_t *f, size_t i);

/** @brief Wait until the group committed every partition to its log end;
 *  asserts, naming the worker logs. */
void fx_wait_committed(fx_t *f, int partitions, int timeout_ms);

/** @brief Read the dead-letter topic from the beginning to its end into
 *  the ledger (by source offset, else by messageId). */
void fx_scan_dlq(fx_t *f);

/** @brief Wait until \p n records are in the dead-letter topic (or the
 *  time-out passed). @returns the count seen. */
int64_t fx_wait_dlq(fx_t *f, int64_t n, int timeout_ms);

/**
 * @brief Compute the figures, print the line
 *        "scenario=... produced=... delivered=... duplicates=...
 *        dead_lettered=... dropped=... lost=...[ extra]" and append it to
 *        $HB_FAULT_REPORT when set. Call after fx_scan_dlq().
 */
fx_figures_t fx_report(fx_t *f, const char *extra);

/** @brief Assert lost == 0 and dropped == 0 (and no bad input was
 *  delivered), naming the first ids lost. */
void fx_assert_nothing_lost(fx_t *f, const fx_figures_t *fig);

/**
 * @brief A free port on 127.0.0.1 below the kernel's ephemeral range
 *        (net.ipv4.ip_local_port_range), picked at random: for a listener
 *        that stops and starts again on the same port, which no outgoing
 *        connection can then take while it is down. (Free when picked:
 *        the caller binds it soon after.)
 */
uint16_t fx_stable_port(void);

/*
 * A broker of one's own (tests/kafka/kafka.sh with ports of its own and
 * another state directory), for scenarios that stop and restart it.
 */

/** @brief `kafka.sh start` with HB_KAFKA_STATE=\p state (fresh data) on
 *  two ports fx_stable_port() picks (broker, controller); asserts it
 *  serves.
 *  @returns the broker's port. */
uint16_t fx_broker_start(const char *kafka_sh, const char *state);

/** @brief SIGTERM the broker, wait for it to exit; its data stays. */
void fx_broker_halt(const char *state);

/** @brief Start the halted broker again on the same data (the same java
 *  command line, the pid file updated); asserts it serves. */
void fx_broker_resume(const char *state);

/** @brief Stop the broker fx_broker_start() started and remove its data
 *  (`kafka.sh stop`); no assertion: also for clean-up after a failure. */
void fx_broker_remove(const char *kafka_sh, const char *state);

#endif
