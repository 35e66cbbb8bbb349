/* wk_metrics_names: every metric family hookbridge exports, in one place. */
#include "wk_metrics_names.h"

static const double attempt_buckets[] = {.005, .01, .025, .05, .1, .25,
                                         .5,   1,   2.5,  5,   10, 30};
static const double e2e_buckets[] = {.01, .025, .05, .1, .25, .5, 1,
                                     2.5, 5,    10,  30, 60,  300};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
        const char *name;
        wk_metric_type_t type;
        const char *help;
        const double *buckets;
        size_t bucket_count;
} families[] = {
        {WK_M_CONSUMED, WK_METRIC_COUNTER, "Raw events consumed from Kafka.",
         NULL, 0},
        {WK_M_SKIPPED, WK_METRIC_COUNTER,
         "Events skipped: not a track call, or an unmapped event name.", NULL,
         0},
        {WK_M_INVALID, WK_METRIC_COUNTER,
         "Bad inputs: not JSON, not an object, or missing what the mapping "
         "needs.",
         NULL, 0},
        {WK_M_DELIVERIES, WK_METRIC_COUNTER,
         "Deliveries by webhook and how they ended: ok (2xx), permanent "
         "(non-retryable failure), exhausted (retries used up), dropped "
         "(on_exhausted = drop), disabled (webhook disabled by 410 Gone). "
         "Failed ones go to the dead-letter topic: see "
         "hookbridge_dead_letter_writes_total.",
         NULL, 0},
        {WK_M_ATTEMPTS, WK_METRIC_COUNTER,
         "HTTP attempts by webhook and result: the status class (2xx, 3xx, "
         "4xx, 5xx) or error (no response).",
         NULL, 0},
        {WK_M_ATTEMPT_SECONDS, WK_METRIC_HISTOGRAM,
         "Duration of one HTTP attempt, by webhook.", attempt_buckets,
         N(attempt_buckets)},
        {WK_M_END_TO_END, WK_METRIC_HISTOGRAM,
         "From the event's Kafka message timestamp to the webhook's 2xx.",
         e2e_buckets, N(e2e_buckets)},
        {WK_M_IN_FLIGHT_MSGS, WK_METRIC_GAUGE,
         "Messages consumed and not yet finished.", NULL, 0},
        {WK_M_IN_FLIGHT_REQS, WK_METRIC_GAUGE, "HTTP requests in flight.", NULL,
         0},
        {WK_M_PAUSED, WK_METRIC_GAUGE,
         "Partitions whose fetching is paused by the in-flight limits.", NULL,
         0},
        {WK_M_ASSIGNED, WK_METRIC_GAUGE, "Partitions assigned to this worker.",
         NULL, 0},
        {WK_M_DLQ_WRITES, WK_METRIC_COUNTER,
         "Dead-letter writes by result (ok = acknowledged by the broker).",
         NULL, 0},
        {WK_M_COMMITS, WK_METRIC_COUNTER, "Offset commits by result.", NULL, 0},
        {WK_M_REBALANCES, WK_METRIC_COUNTER,
         "Consumer group rebalances (assignments and revocations).", NULL, 0},
        {WK_M_CIRCUIT, WK_METRIC_GAUGE,
         "Circuit breaker per webhook: 0 closed, 1 half-open, 2 open.", NULL,
         0},
        {WK_M_DISABLED, WK_METRIC_GAUGE,
         "1 when a webhook is disabled by a 410 Gone (until a reload).", NULL,
         0},
        {WK_M_LAG, WK_METRIC_GAUGE,
         "Messages between the committed offset and the log end, per "
         "assigned partition.",
         NULL, 0},
        {WK_M_LAG_SECONDS, WK_METRIC_GAUGE,
         "Age in seconds of the oldest unfinished message, per assigned "
         "partition (0 when caught up).",
         NULL, 0},
        {WK_M_TIER_WAITING, WK_METRIC_GAUGE,
         "Records waiting in a retry tier topic (its partitions assigned "
         "to this replica: log end minus committed).",
         NULL, 0},
        {WK_M_TIER_OVERDUE, WK_METRIC_GAUGE,
         "How long the oldest due record of a retry tier (on this "
         "replica) has been due, in seconds; 0: none overdue.",
         NULL, 0},
        {WK_M_HEALTH_ENTRIES, WK_METRIC_GAUGE,
         "Delivery health entries held (the API's GET .../health): "
         "table=own, this replica's webhooks; table=view, every "
         "replica's (replica, webhook) records.",
         NULL, 0},
        {WK_M_HEALTH_EVICTED, WK_METRIC_COUNTER,
         "Delivery health entries evicted at a table's bound.", NULL, 0},
        {WK_M_HEALTH_ERRORS, WK_METRIC_COUNTER,
         "Delivery health records the broker did not acknowledge (written "
         "again at the next publish).",
         NULL, 0},
        {WK_M_UP, WK_METRIC_GAUGE, "1 while the worker runs.", NULL, 0},
        {WK_M_BUILD_INFO, WK_METRIC_GAUGE,
         "Always 1; the version is in the label.", NULL, 0},
};

int wk_metrics_declare_all(wk_metrics_t *m)
{
        for (size_t i = 0; i < N(families); i++)
                if (wk_metrics_declare(m, families[i].name, families[i].type,
                                       families[i].help, families[i].buckets,
                                       families[i].bucket_count) == -1)
                        return -1;
        return 0;
}

const char *wk_metrics_status_class(long status)
{
        static const char *const cls[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

        if (status < 100 || status > 599)
                return "error";
        return cls[status / 100 - 1];
}
