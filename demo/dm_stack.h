/* dm_stack: the hookbridge the demo runs in-process, started as
 * `hookbridge run` starts it with api.listen set: the webhook store (on
 * the mock cluster), the management API on its own copy of the
 * configuration, the worker (with its admin listener) on a thread. */
#ifndef HB_DM_STACK_H
#define HB_DM_STACK_H

#include <stddef.h>
#include <stdint.h>

typedef struct dm_stack_s dm_stack_t;

/**
 * @brief Start everything from configuration text \p cfgtext (api.listen
 *        and admin.listen may ask for port 0).
 * @returns it, or NULL with the reason in \p errstr.
 */
dm_stack_t *dm_stack_start(const char *cfgtext, char *errstr,
                           size_t errstr_size);

/** @returns the management API's port. */
uint16_t dm_stack_api_port(const dm_stack_t *s);

/** @returns the admin listener's port. */
uint16_t dm_stack_admin_port(const dm_stack_t *s);

/** @brief Stop the worker (it commits what finished), then the API and
 *  the store; free. NULL is a no-op. */
void dm_stack_stop(dm_stack_t *s);

#endif
