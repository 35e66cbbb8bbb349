/* wk_metrics_names: every metric family hookbridge exports, in one place. */
#ifndef HB_WK_METRICS_NAMES_H
#define HB_WK_METRICS_NAMES_H

#include "wk_metrics.h"

/*
 * Families. Labels: deliveries {webhook,outcome}; attempts {webhook,result};
 * attempt seconds, circuit, disabled {webhook}; dead-letter writes and
 * commits {result}; lag and lag seconds {topic,partition}; retry tier
 * records and overdue seconds {topic}; build info
 * {version}; the others none.
 */
#define WK_M_CONSUMED        "hookbridge_events_consumed_total"
#define WK_M_SKIPPED         "hookbridge_events_skipped_total"
#define WK_M_INVALID         "hookbridge_events_invalid_total"
#define WK_M_DELIVERIES      "hookbridge_deliveries_total"
#define WK_M_ATTEMPTS        "hookbridge_delivery_attempts_total"
#define WK_M_ATTEMPT_SECONDS "hookbridge_attempt_duration_seconds"
#define WK_M_END_TO_END      "hookbridge_end_to_end_seconds"
#define WK_M_IN_FLIGHT_MSGS  "hookbridge_in_flight_messages"
#define WK_M_IN_FLIGHT_REQS  "hookbridge_in_flight_requests"
#define WK_M_PAUSED          "hookbridge_paused_partitions"
#define WK_M_ASSIGNED        "hookbridge_assigned_partitions"
#define WK_M_DLQ_WRITES      "hookbridge_dead_letter_writes_total"
#define WK_M_COMMITS         "hookbridge_commits_total"
#define WK_M_REBALANCES      "hookbridge_rebalances_total"
#define WK_M_CIRCUIT         "hookbridge_circuit_state"
#define WK_M_DISABLED        "hookbridge_webhook_disabled"
#define WK_M_LAG             "hookbridge_consumer_lag"
#define WK_M_LAG_SECONDS     "hookbridge_consumer_lag_seconds"
#define WK_M_TIER_WAITING    "hookbridge_retry_tier_records"
#define WK_M_TIER_OVERDUE    "hookbridge_retry_tier_overdue_seconds"
#define WK_M_HEALTH_ENTRIES  "hookbridge_health_entries"
#define WK_M_HEALTH_EVICTED  "hookbridge_health_evictions_total"
#define WK_M_HEALTH_ERRORS   "hookbridge_health_publish_errors_total"
#define WK_M_UP              "hookbridge_up"
#define WK_M_BUILD_INFO      "hookbridge_build_info"

/* Label values of hookbridge_deliveries_total{outcome}. */
#define WK_M_OUTCOME_OK            "ok"
#define WK_M_OUTCOME_PERMANENT     "permanent"
#define WK_M_OUTCOME_EXHAUSTED     "exhausted"
#define WK_M_OUTCOME_DROPPED       "dropped"
#define WK_M_OUTCOME_DEAD_LETTERED "dead_lettered"
#define WK_M_OUTCOME_DISABLED      "disabled"

/* Label values of {result} on dead-letter writes and commits. */
#define WK_M_RESULT_OK    "ok"
#define WK_M_RESULT_ERROR "error"

/* hookbridge_circuit_state values. */
#define WK_M_CIRCUIT_CLOSED    0
#define WK_M_CIRCUIT_HALF_OPEN 1
#define WK_M_CIRCUIT_OPEN      2

/** @brief Declare every family above in \p m, with its help text and,
 *         for histograms, its buckets.
 *  @returns 0, or -1 (out of memory, or a family already declared). */
int wk_metrics_declare_all(wk_metrics_t *m);

/** @brief The {result} label of hookbridge_delivery_attempts_total for an
 *         HTTP status: "1xx".."5xx", or "error" for no response (0) or
 *         anything out of range.
 *  @returns a static string. */
const char *wk_metrics_status_class(long status);

#endif
