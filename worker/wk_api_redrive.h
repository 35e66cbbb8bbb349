/* wk_api_redrive: POST /v1/apps/{app}/webhooks/{id}/redrive (SPEC §7):
 * section 4a's redrive for one webhook and a time window, through the
 * same code as `hookbridge redrive` (wk_window over the dead-letter
 * topic, wk_redrive's selection and sending). */
#ifndef HB_WK_API_REDRIVE_H
#define HB_WK_API_REDRIVE_H

#include "wk_api.h"

/**
 * @brief The handler. Body (all optional): {"from": TIME, "to": TIME,
 *        "dry_run": bool}; TIME as the command line's (ISO-8601, epoch
 *        ms as a number or a string, -2h), the dead letters' own
 *        timestamps; from defaults to the topic's start, to to its end
 *        now.
 *
 * A dry run reads the window at once and answers 200 with the counts
 * (what would be sent, bad inputs, value omitted, ...). A real redrive
 * answers 202 with the plan (the window's dead letters and partitions)
 * and runs in the background on this replica, one at a time (409 while
 * one runs); it ends with a "api redrive done" log line carrying the
 * counts. Nothing is written to Kafka: a dead letter stays where it is.
 */
void wk_api_redrive(const wk_api_env_t *env, const wk_api_req_t *req,
                    wk_api_resp_t *resp);

#endif
