/* Unit tests: kc_tracker, the commit rule (contiguous finished prefix). */
#include <criterion/criterion.h>

#include "kc_tracker.h"

static kc_tracker_t *tr;

static void setup(void)
{
        tr = kc_tracker_new();
        cr_assert_not_null(tr);
        cr_assert_eq(kc_tracker_assign(tr, "t", 0), 0);
}

static void teardown(void)
{
        kc_tracker_destroy(tr);
}

TestSuite(tracker, .init = setup, .fini = teardown);

Test(tracker, nothing_consumed_is_not_committable)
{
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), -1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 9), -1);
}

Test(tracker, out_of_order_finish_commits_only_the_prefix)
{
        kc_ticket_t k[5];

        for (int i = 0; i < 5; i++)
                cr_assert_eq(kc_tracker_add(tr, "t", 0, 10 + i, &k[i]), 0);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 10);
        cr_assert_eq(kc_tracker_done(tr, &k[1]), 1);
        cr_assert_eq(kc_tracker_done(tr, &k[3]), 1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 10);
        cr_assert_eq(kc_tracker_done(tr, &k[0]), 1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 12);
        cr_assert_eq(kc_tracker_done(tr, &k[2]), 1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 14);
        cr_assert_eq(kc_tracker_pending(tr, "t", 0), 1);
        cr_assert_eq(kc_tracker_done(tr, &k[4]), 1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 15);
        cr_assert_eq(kc_tracker_pending_total(tr), 0);
}

Test(tracker, offset_gaps_from_compaction)
{
        kc_ticket_t a, b;

        kc_tracker_add(tr, "t", 0, 5, &a);
        kc_tracker_add(tr, "t", 0, 9, &b);
        kc_tracker_done(tr, &a);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 9);
        kc_tracker_done(tr, &b);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 10);
}

Test(tracker, double_done_and_stale_tickets_are_ignored)
{
        kc_ticket_t a, b;

        kc_tracker_add(tr, "t", 0, 0, &a);
        cr_assert_eq(kc_tracker_done(tr, &a), 1);
        cr_assert_eq(kc_tracker_done(tr, &a), 0);
        kc_tracker_add(tr, "t", 0, 1, &b);
        kc_tracker_revoke(tr, "t", 0);
        cr_assert_eq(kc_tracker_done(tr, &b), 0);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), -1);
        /* Reassigned: the old ticket stays stale. */
        kc_tracker_assign(tr, "t", 0);
        cr_assert_eq(kc_tracker_done(tr, &b), 0);
        cr_assert_eq(kc_tracker_pending_total(tr), 0);
}

Test(tracker, revoked_partition_rejects_adds)
{
        kc_ticket_t a;

        kc_tracker_revoke(tr, "t", 0);
        cr_assert_eq(kc_tracker_add(tr, "t", 0, 1, &a), -1);
        cr_assert_eq(kc_tracker_add(tr, "u", 3, 1, &a), -1);
}

Test(tracker, window_grows_past_initial_capacity)
{
        enum { N = 10000 };
        static kc_ticket_t k[N];

        for (int i = 0; i < N; i++)
                cr_assert_eq(kc_tracker_add(tr, "t", 0, i, &k[i]), 0);
        /* Finish in reverse: nothing committable until the first. */
        for (int i = N - 1; i > 0; i--)
                kc_tracker_done(tr, &k[i]);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 0);
        kc_tracker_done(tr, &k[0]);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), N);
}

Test(tracker, partitions_are_independent)
{
        kc_ticket_t a, b;
        int32_t part;
        int64_t off, committed;
        size_t pend;

        kc_tracker_assign(tr, "u", 1);
        kc_tracker_add(tr, "t", 0, 100, &a);
        kc_tracker_add(tr, "u", 1, 7, &b);
        kc_tracker_done(tr, &b);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 100);
        cr_assert_eq(kc_tracker_committable(tr, "u", 1), 8);
        cr_assert_eq(kc_tracker_count(tr), 2);
        cr_assert_str_eq(kc_tracker_at(tr, 1, &part, &off, &committed, &pend),
                         "u");
        cr_assert_eq(part, 1);
        cr_assert_eq(off, 8);
        cr_assert_eq(committed, -1);
        kc_tracker_set_committed(tr, "u", 1, 8);
        kc_tracker_at(tr, 1, &part, &off, &committed, &pend);
        cr_assert_eq(committed, 8);
}
