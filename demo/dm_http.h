/* dm_http: the demo's HTTP requests to the listeners of the worker it
 * runs (the management API, the admin listener), made with libcurl and
 * printed as the equivalent curl command followed by the answer. */
#ifndef HB_DM_HTTP_H
#define HB_DM_HTTP_H

#include <stddef.h>

/** An answer: the status and the body (malloc()ed, NUL-terminated). */
typedef struct dm_answer_s {
        long status;
        char *body;
        size_t len;
} dm_answer_t;

/** A request. */
typedef struct dm_request_s {
        const char *method; /**< "GET", "POST", ... */
        const char *url;
        const char *body; /**< JSON, or NULL */
        /** the bearer token, or NULL: none; printed as $token_env */
        const char *token;
        const char *token_env;
        int print; /**< 1: print the curl command and the answer */
} dm_request_t;

/**
 * @brief Send \p req and wait (at most 15 s) for its answer.
 * @returns 0 with the answer in \p ans (dm_answer_free() it), or -1 with
 *          the reason in \p errstr (no answer).
 */
int dm_http(const dm_request_t *req, dm_answer_t *ans, char *errstr,
            size_t errstr_size);

/** @brief Free what dm_http() put in \p ans. */
void dm_answer_free(dm_answer_t *ans);

#endif
