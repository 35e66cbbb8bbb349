/* wk_watch: a start-up step's watchman: while a step has not ended, a
 * line every few seconds says which one and for how long, so a start-up
 * that stalls says where. */
#ifndef HB_WK_WATCH_H
#define HB_WK_WATCH_H

typedef struct wk_watch_s wk_watch_t;

/**
 * @brief Watch the steps of \p what (a name for the lines, copied): a
 *        thread logs "start-up: still waiting" each \p every_ms that the
 *        current step goes on.
 * @returns the watch, or NULL (out of memory, no thread): the steps then
 *          go unwatched, wk_watch_step() and wk_watch_stop() take NULL.
 */
wk_watch_t *wk_watch_start(const char *what, int every_ms);

/** @brief The step now under way (\p step must outlive it: a literal). */
void wk_watch_step(wk_watch_t *w, const char *step);

/** @brief The steps are over: stop the thread, free \p w.
 *  @returns the lines it logged (0 for NULL). */
unsigned wk_watch_stop(wk_watch_t *w);

#endif
