/* wk_lru: an intrusive list from the least to the most recently used
 * entry, for a bounded table's eviction (wk_health_acc, wk_health_view):
 * the entry holds a wk_lru_link_t, the list allocates nothing. */
#ifndef HB_WK_LRU_H
#define HB_WK_LRU_H

#include <stddef.h>

/** The links an entry embeds; zeroed (not in a list) before first use. */
typedef struct wk_lru_link_s {
        struct wk_lru_link_s *older, *newer;
} wk_lru_link_t;

/** The list; zeroed is empty. */
typedef struct wk_lru_s {
        wk_lru_link_t *oldest, *newest;
} wk_lru_t;

/** The entry of type \p type whose member \p member is \p link (NULL for
 *  NULL). */
#define WK_LRU_ENTRY(link, type, member)                                  \
        ((link) ? (type *)(void *)((char *)(link)-offsetof(type, member)) \
                : (type *)NULL)

/** @brief Make \p e the newest of \p l, whether it was in \p l or in no
 *         list. */
void wk_lru_touch(wk_lru_t *l, wk_lru_link_t *e);

/** @brief Take \p e out of \p l (it is then in no list). */
void wk_lru_remove(wk_lru_t *l, wk_lru_link_t *e);

#endif
