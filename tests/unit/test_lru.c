/* Tests for wk_lru: the intrusive least-recently-used list of the health
 * tables. */
#include <criterion/criterion.h>

#include "wk_lru.h"

typedef struct item_s {
        int id;
        wk_lru_link_t link;
} item_t;

/* The ids from the oldest, as a number (1, 2, 3 -> 123), checked against
 * the walk from the newest. */
static int order(const wk_lru_t *l)
{
        int fwd = 0, back = 0, mul = 1;

        for (wk_lru_link_t *e = l->oldest; e; e = e->newer)
                fwd = fwd * 10 + WK_LRU_ENTRY(e, item_t, link)->id;
        for (wk_lru_link_t *e = l->newest; e; e = e->older, mul *= 10)
                back += WK_LRU_ENTRY(e, item_t, link)->id * mul;
        cr_assert_eq(fwd, back, "links disagree: %d vs %d", fwd, back);
        return fwd;
}

Test(lru, touch_orders_from_the_least_recent)
{
        item_t it[4] = {{1}, {2}, {3}, {4}};
        wk_lru_t l = {0};

        cr_expect_null(WK_LRU_ENTRY(l.oldest, item_t, link));
        for (int i = 0; i < 4; i++)
                wk_lru_touch(&l, &it[i].link);
        cr_expect_eq(order(&l), 1234);
        wk_lru_touch(&l, &it[1].link); /* a middle one */
        cr_expect_eq(order(&l), 1342);
        wk_lru_touch(&l, &it[0].link); /* the oldest */
        cr_expect_eq(order(&l), 3421);
        wk_lru_touch(&l, &it[0].link); /* the newest already */
        cr_expect_eq(order(&l), 3421);
        cr_expect_eq(WK_LRU_ENTRY(l.oldest, item_t, link)->id, 3);
}

Test(lru, remove_anywhere_then_back)
{
        item_t it[3] = {{1}, {2}, {3}};
        wk_lru_t l = {0};

        for (int i = 0; i < 3; i++)
                wk_lru_touch(&l, &it[i].link);
        wk_lru_remove(&l, &it[1].link);
        cr_expect_eq(order(&l), 13);
        cr_expect_null(it[1].link.older);
        cr_expect_null(it[1].link.newer);
        wk_lru_remove(&l, &it[0].link);
        cr_expect_eq(order(&l), 3);
        wk_lru_touch(&l, &it[1].link); /* in no list: appended */
        cr_expect_eq(order(&l), 32);
        wk_lru_remove(&l, &it[2].link);
        wk_lru_remove(&l, &it[1].link);
        cr_expect_null(l.oldest);
        cr_expect_null(l.newest);
        wk_lru_touch(&l, &it[0].link); /* a lone one */
        cr_expect_eq(order(&l), 1);
}
