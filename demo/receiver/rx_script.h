/* rx_script: the receiver's fault scripts: the step syntax
 * ("500*3,503:ra=2,200") and, per path, which step the next request
 * takes. Not thread-safe: the receiver holds its lock around each call. */
#ifndef HB_RX_SCRIPT_H
#define HB_RX_SCRIPT_H

#include <stddef.h>

#include "rx_receiver.h"

/** Scripts by path, a list; NULL is the empty one (every answer 200). */
typedef struct rx_script_s rx_script_t;

/**
 * @brief Parse \p script (see rx_set_script()) into a fresh array of
 *        steps, *\p n long; free() it. Blank: one step, 200.
 * @returns the steps, or NULL when malformed (or out of memory).
 */
rx_step_t *rx_script_parse(const char *script, size_t *n);

/**
 * @brief Give \p path (exact, or "*") the \p n steps (copied, texts and
 *        locations too), replacing its script; the first step is next.
 * @returns 0, or -1 out of memory or with \p n 0.
 */
int rx_script_set(rx_script_t **list, const char *path, const rx_step_t *steps,
                  size_t n);

/**
 * @brief The step the next request on \p path takes (its own script, else
 *        "*", else 200), advancing the script. Its text and location
 *        are the script's: copy them before the script may change.
 */
rx_step_t rx_script_take(rx_script_t *list, const char *path);

/** @brief Free every script. */
void rx_script_free_all(rx_script_t *list);

#endif
