/* wk_metrics_names: every metric family hookbridge exports, in one place. */
#ifndef HB_WK_METRICS_NAMES_H
#define HB_WK_METRICS_NAMES_H

#include "wk_metrics.h"

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
#define WK_M_UP              "hookbridge_up"
#define WK_M_BUILD_INFO      "hookbridge_build_info"

/** @brief Declare every family above in \p m.
 *  @returns 0, or -1 on out-of-memory. */
int wk_metrics_declare_all(wk_metrics_t *m);

#endif
