/* hb_sched: the retry schedule (delivery.retry.schedule, SPEC §4a): delays
 * parsed from "5s"/"30m"/"10h", which tier a delivery goes to next, and
 * when a tier record is due. */
#ifndef HB_SCHED_H
#define HB_SCHED_H

#include <stddef.h>
#include <stdint.h>

/** At most this many tiers. */
#define HB_SCHED_MAX 16

/** Svix's schedule: a subscriber may be down for about a day. */
#define HB_SCHED_DEFAULT                                    \
        {                                                   \
                "5s", "5m", "30m", "2h", "5h", "10h", "10h" \
        }

/** A parsed schedule: tier i waits delay_ms[i] after its hand-off. */
typedef struct hb_sched_s {
        int64_t delay_ms[HB_SCHED_MAX];
        char label[HB_SCHED_MAX][16]; /**< as written, normalised ("5m") */
        size_t n;
} hb_sched_t;

/**
 * @brief Parse a delay: a sum of a number and a unit, `ms`, `s`, `m`, `h`
 *        or `d` (`5s`, `30m`, `1h30m`, `250ms`), at least 1 ms and at
 *        most 30 days.
 * @returns 0 with the delay in \p ms, or -1 with the reason in \p errstr.
 */
int hb_sched_parse_delay(const char *s, int64_t *ms, char *errstr,
                         size_t errstr_size);

/**
 * @brief Parse \p n delays (1 .. HB_SCHED_MAX) into \p out.
 * @returns 0, or -1 with "schedule[i]: reason" in \p errstr (\p out then
 *          unspecified).
 */
int hb_sched_parse(hb_sched_t *out, const char *const *items, size_t n,
                   char *errstr, size_t errstr_size);

/** @brief \p out = the default schedule (HB_SCHED_DEFAULT). */
void hb_sched_default(hb_sched_t *out);

/**
 * @brief The tier a delivery goes to after a failure.
 *
 * @param from  the first tier it may go to: 0 after the quick in-worker
 *              attempts, tier + 1 after a failed attempt from tier
 * @param wait_ms  the least the subscriber asked to wait (Retry-After),
 *                 0: none; the first tier from \p from whose delay is at
 *                 least that is chosen (the one due no earlier), or the
 *                 last tier when none waits that long
 * @returns the tier index, or -1 when \p from is past the last tier (the
 *          delivery goes to the dead-letter topic).
 */
int hb_sched_next(const hb_sched_t *s, int from, int64_t wait_ms);

/** @returns when a record handed to \p tier at \p now_ms is due. */
int64_t hb_sched_due(const hb_sched_t *s, int tier, int64_t now_ms);

/** @returns how long a record due at \p due_ms must still wait at
 *  \p now_ms (0: due). */
int64_t hb_sched_wait(int64_t due_ms, int64_t now_ms);

/**
 * @brief The tier topic's name: "<prefix>-<tier>-<label>"
 *        (e.g. "orders.retry-2-30m"), so two tiers of the same delay get
 *        two topics and the name says what it holds.
 * @returns \p out, or NULL when it does not fit in \p size.
 */
char *hb_sched_topic(const hb_sched_t *s, const char *prefix, int tier,
                     char *out, size_t size);

/**
 * @brief The tier of a topic name of hb_sched_topic() for \p prefix.
 * @returns the tier index, or -1 when \p topic is not one of them.
 */
int hb_sched_tier_of(const hb_sched_t *s, const char *prefix,
                     const char *topic);

#endif
