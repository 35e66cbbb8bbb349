/* Unit tests: kc_tracker, the commit rule (contiguous finished prefix). */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

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
                cr_assert_eq(kc_tracker_add(tr, "t", 0, 10 + i, -1, &k[i]), 0);
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

        kc_tracker_add(tr, "t", 0, 5, -1, &a);
        kc_tracker_add(tr, "t", 0, 9, -1, &b);
        kc_tracker_done(tr, &a);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 9);
        kc_tracker_done(tr, &b);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 10);
}

Test(tracker, double_done_and_stale_tickets_are_ignored)
{
        kc_ticket_t a, b;

        kc_tracker_add(tr, "t", 0, 0, -1, &a);
        cr_assert_eq(kc_tracker_done(tr, &a), 1);
        cr_assert_eq(kc_tracker_done(tr, &a), 0);
        kc_tracker_add(tr, "t", 0, 1, -1, &b);
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
        cr_assert_eq(kc_tracker_add(tr, "t", 0, 1, -1, &a), -1);
        cr_assert_eq(kc_tracker_add(tr, "u", 3, 1, -1, &a), -1);
}

Test(tracker, window_grows_past_initial_capacity)
{
        enum { N = 10000 };
        static kc_ticket_t k[N];

        for (int i = 0; i < N; i++)
                cr_assert_eq(kc_tracker_add(tr, "t", 0, i, -1, &k[i]), 0);
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
        kc_tracker_info_t in;

        kc_tracker_assign(tr, "u", 1);
        kc_tracker_add(tr, "t", 0, 100, -1, &a);
        kc_tracker_add(tr, "u", 1, 7, -1, &b);
        kc_tracker_done(tr, &b);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 100);
        cr_assert_eq(kc_tracker_committable(tr, "u", 1), 8);
        cr_assert_eq(kc_tracker_count(tr), 2);
        cr_assert_eq(kc_tracker_at(tr, 1, &in), 0);
        cr_assert_str_eq(in.topic, "u");
        cr_assert_eq(in.partition, 1);
        cr_assert_eq(in.committable, 8);
        cr_assert_eq(in.committed, -1);
        cr_assert_eq(kc_tracker_at(tr, 2, &in), -1);
        kc_tracker_set_committed(tr, "u", 1, 8);
        kc_tracker_at(tr, 1, &in);
        cr_assert_eq(in.committed, 8);
}

/* CPU seconds to assign, add to and walk n partitions of a fresh
 * tracker (the least of three runs). */
static double walk_cpu_ms(int n)
{
        double best = -1;

        for (int run = 0; run < 3; run++) {
                kc_tracker_t *t = kc_tracker_new();
                struct timespec a, b;
                size_t total = 0;
                double ms;

                cr_assert_not_null(t);
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
                for (int i = 0; i < n; i++) {
                        kc_ticket_t k;
                        cr_assert_eq(kc_tracker_assign(t, "many", i), 0);
                        cr_assert_eq(kc_tracker_add(t, "many", i, 7, -1, &k),
                                     0);
                }
                for (size_t i = 0; i < kc_tracker_count(t); i++) {
                        kc_tracker_info_t in;
                        cr_assert_eq(kc_tracker_at(t, i, &in), 0);
                        total += in.pending + (size_t)in.paused;
                }
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
                kc_tracker_destroy(t);
                cr_assert_eq(total, (size_t)n);
                ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
                     (double)(b.tv_nsec - a.tv_nsec) / 1e6;
                if (best < 0 || ms < best)
                        best = ms;
        }
        return best;
}

/* Many partitions: assigning, adding to and walking every one stays
 * linear (a walk by index used to rescan the slots for each index, and a
 * lookup to scan them all: seconds at this size). Measured as the growth
 * of CPU time from 10,000 to 40,000 partitions, so a loaded machine does
 * not fail it: linear is about 4x, the quadratic walk was 16x. */
Test(tracker, many_partitions_walk_in_linear_time)
{
        double small = walk_cpu_ms(10000);
        double large = walk_cpu_ms(40000);

        cr_assert_lt(large, 10.0 * (small > 1.0 ? small : 1.0),
                     "10,000 partitions took %.1f CPU-ms, 40,000 took %.1f",
                     small, large);
}

/* Readers on two threads (the delivery loop and a status reader): a
 * const accessor must not write (its lookup cache raced; seen by TSan). */
static void *read_partition(void *arg)
{
        int32_t part = (int32_t)(intptr_t)arg;
        size_t n = 0;

        for (int i = 0; i < 200000; i++)
                n += kc_tracker_pending(tr, "t", part) +
                     (kc_tracker_committable(tr, "t", part) == 3);
        return (void *)(intptr_t)n;
}

Test(tracker, const_accessors_do_not_write)
{
        pthread_t a, b;
        kc_ticket_t k;

        cr_assert_eq(kc_tracker_assign(tr, "t", 1), 0);
        cr_assert_eq(kc_tracker_add(tr, "t", 1, 2, -1, &k), 0);
        pthread_create(&a, NULL, read_partition, (void *)(intptr_t)0);
        pthread_create(&b, NULL, read_partition, (void *)(intptr_t)1);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
}

/* The oldest unfinished message's timestamp, for lag seconds, in O(1). */
Test(tracker, oldest_unfinished_timestamp)
{
        kc_ticket_t k[3];
        kc_tracker_info_t in;

        cr_assert_eq(kc_tracker_at(tr, 0, &in), 0);
        cr_assert_eq(in.oldest_ts_ms, -1);
        kc_tracker_add(tr, "t", 0, 1, 1000, &k[0]);
        kc_tracker_add(tr, "t", 0, 2, 2000, &k[1]);
        kc_tracker_add(tr, "t", 0, 3, 3000, &k[2]);
        kc_tracker_done(tr, &k[1]);
        kc_tracker_at(tr, 0, &in);
        cr_assert_eq(in.oldest_ts_ms, 1000);
        kc_tracker_done(tr, &k[0]);
        kc_tracker_at(tr, 0, &in);
        cr_assert_eq(in.oldest_ts_ms, 3000);
        kc_tracker_done(tr, &k[2]);
        kc_tracker_at(tr, 0, &in);
        cr_assert_eq(in.oldest_ts_ms, -1);
}

/* Revokes free slots for reuse and keep the walk dense and lookups
 * right (hash chains, swapped order). */
Test(tracker, revoke_and_reassign_many)
{
        kc_ticket_t k;
        kc_tracker_info_t in;
        size_t seen = 0;

        for (int i = 1; i < 100; i++)
                cr_assert_eq(kc_tracker_assign(tr, "t", i), 0);
        for (int i = 0; i < 100; i += 2)
                kc_tracker_revoke(tr, "t", i);
        cr_assert_eq(kc_tracker_count(tr), 50);
        for (int i = 0; i < 100; i++)
                cr_assert_eq(kc_tracker_add(tr, "t", i, i, -1, &k),
                             i % 2 ? 0 : -1, "partition %d", i);
        for (int i = 0; i < 100; i += 2)
                cr_assert_eq(kc_tracker_assign(tr, "u", i), 0);
        cr_assert_eq(kc_tracker_count(tr), 100);
        for (size_t i = 0; kc_tracker_at(tr, i, &in) == 0; i++) {
                int32_t part;
                size_t pend;
                int paused;
                cr_assert_str_eq(
                        kc_tracker_slot(tr, in.slot, &part, &pend, &paused),
                        in.topic);
                cr_assert_eq(part, in.partition);
                cr_assert_eq(in.pending, !strcmp(in.topic, "t") ? 1u : 0u);
                seen++;
        }
        cr_assert_eq(seen, 100);
        cr_assert_eq(kc_tracker_committable(tr, "t", 51), 51);
        cr_assert_eq(kc_tracker_committable(tr, "u", 50), -1);
        cr_assert_eq(kc_tracker_pending_total(tr), 50);
}

/* Offsets the position passed with nothing handed out (transaction
 * markers): committable once nothing before them is unfinished. */
Test(tracker, skip_to_passes_markers_only_when_all_finished)
{
        kc_ticket_t k[2];

        /* nothing consumed yet: a marker at the fetch start */
        cr_assert_eq(kc_tracker_skip_to(tr, "t", 0, 5), 1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 5);
        cr_assert_eq(kc_tracker_add(tr, "t", 0, 5, -1, &k[0]), 0);
        cr_assert_eq(kc_tracker_add(tr, "t", 0, 6, -1, &k[1]), 0);
        /* unfinished messages hold it */
        cr_assert_eq(kc_tracker_skip_to(tr, "t", 0, 8), 0);
        cr_assert_eq(kc_tracker_done(tr, &k[1]), 1);
        cr_assert_eq(kc_tracker_skip_to(tr, "t", 0, 8), 0);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 5);
        cr_assert_eq(kc_tracker_done(tr, &k[0]), 1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 7);
        /* never backwards, never onto what was consumed */
        cr_assert_eq(kc_tracker_skip_to(tr, "t", 0, 7), 0);
        cr_assert_eq(kc_tracker_skip_to(tr, "t", 0, 3), 0);
        cr_assert_eq(kc_tracker_skip_to(tr, "t", 0, 8), 1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 8);
        cr_assert_eq(kc_tracker_pending(tr, "t", 0), 0);
        /* unknown partition */
        cr_assert_eq(kc_tracker_skip_to(tr, "t", 1, 8), 0);
}

/* A message dropped untracked (or handed back by a seek): the position
 * says nothing until it, or a later one, is consumed again. */
Test(tracker, taint_stops_skip_to_until_consumed_again)
{
        kc_ticket_t k;

        cr_assert_eq(kc_tracker_add(tr, "t", 0, 0, -1, &k), 0);
        cr_assert_eq(kc_tracker_done(tr, &k), 1);
        kc_tracker_taint(tr, "t", 0, 2);
        kc_tracker_taint(tr, "t", 0, 1);
        cr_assert_eq(kc_tracker_skip_to(tr, "t", 0, 3), 0);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 1);
        /* offset 1 consumed again: the hole is gone */
        cr_assert_eq(kc_tracker_add(tr, "t", 0, 1, -1, &k), 0);
        cr_assert_eq(kc_tracker_done(tr, &k), 1);
        cr_assert_eq(kc_tracker_skip_to(tr, "t", 0, 3), 1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 3);
        /* a new assignment starts without one */
        kc_tracker_taint(tr, "t", 0, 3);
        cr_assert_eq(kc_tracker_skip_to(tr, "t", 0, 5), 0);
        kc_tracker_revoke(tr, "t", 0);
        cr_assert_eq(kc_tracker_assign(tr, "t", 0), 0);
        cr_assert_eq(kc_tracker_skip_to(tr, "t", 0, 5), 1);
        kc_tracker_taint(tr, "t", 7, 0); /* unknown: no-op */
}

/* A lost assignment keeps its window aside: out of the walk, tickets
 * good; given back with nobody committing further, it is taken up again
 * and fetching resumes after what it consumed. */
Test(tracker, lost_window_is_restored_when_given_back)
{
        kc_ticket_t k[3];
        kc_tracker_info_t in;
        int64_t resume;

        for (int i = 0; i < 3; i++)
                cr_assert_eq(kc_tracker_add(tr, "t", 0, 10 + i, -1, &k[i]), 0);
        cr_assert_eq(kc_tracker_done(tr, &k[0]), 1);
        kc_tracker_lose(tr, "t", 0);
        cr_assert(kc_tracker_is_lost(tr, "t", 0));
        cr_assert_eq(kc_tracker_count(tr), 0);
        cr_assert_eq(kc_tracker_at(tr, 0, &in), -1);
        /* nothing of it is handed out meanwhile; its work carries on */
        cr_assert_eq(kc_tracker_add(tr, "t", 0, 13, -1, &k[0]), -1);
        cr_assert_eq(kc_tracker_done(tr, &k[1]), 1);
        cr_assert_eq(kc_tracker_pending_total(tr), 1);
        /* the group committed 10 (before what it finished): taken up */
        cr_assert_eq(kc_tracker_restore(tr, "t", 0, 10, &resume), 1);
        cr_assert_eq(resume, 13);
        cr_assert(!kc_tracker_is_lost(tr, "t", 0));
        cr_assert_eq(kc_tracker_count(tr), 1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 12);
        cr_assert_eq(kc_tracker_done(tr, &k[2]), 1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 13);
        cr_assert_eq(kc_tracker_add(tr, "t", 0, 13, -1, &k[0]), 0);
}

Test(tracker, lost_window_is_dropped_when_others_committed_further)
{
        kc_ticket_t k[2];
        int64_t resume;

        cr_assert_eq(kc_tracker_assign(tr, "t", 1), 0);
        for (int i = 0; i < 2; i++)
                cr_assert_eq(kc_tracker_add(tr, "t", 0, 10 + i, -1, &k[i]), 0);
        kc_tracker_lose(tr, "t", 0);
        kc_tracker_lose(tr, "t", 0); /* twice: no-op */
        cr_assert_eq(kc_tracker_count(tr), 1);
        /* someone else committed 20: tracked afresh, tickets stale */
        cr_assert_eq(kc_tracker_restore(tr, "t", 0, 20, &resume), 0);
        cr_assert_eq(resume, -1);
        cr_assert_eq(kc_tracker_count(tr), 2);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), -1);
        cr_assert_eq(kc_tracker_done(tr, &k[0]), 0);
        cr_assert_eq(kc_tracker_pending_total(tr), 0);
        /* no window kept: plainly assigned */
        cr_assert_eq(kc_tracker_restore(tr, "t", 2, -1, &resume), 0);
        cr_assert_eq(kc_tracker_count(tr), 3);
        /* a kept window survives the hash growing and goes with revoke */
        kc_tracker_lose(tr, "t", 1);
        for (int p = 3; p < 40; p++)
                cr_assert_eq(kc_tracker_assign(tr, "t", p), 0);
        cr_assert(kc_tracker_is_lost(tr, "t", 1));
        kc_tracker_revoke(tr, "t", 1);
        cr_assert(!kc_tracker_is_lost(tr, "t", 1));
        cr_assert_eq(kc_tracker_count(tr), 39);
}

/* The end_offset the walk reports for partition \p p of "t" (-2: not
 * assigned). */
static int64_t end_of(int32_t p)
{
        kc_tracker_info_t in;

        for (size_t i = 0; kc_tracker_at(tr, i, &in) == 0; i++)
                if (in.partition == p && !strcmp(in.topic, "t"))
                        return in.end_offset;
        return -2;
}

/* A partition's end reached with nothing consumed since the assignment
 * tells where the group stands (lag displays), and nothing else: it is
 * never committable, and it is forgotten with the assignment. */
Test(tracker, end_reached_before_any_message_is_display_only)
{
        kc_ticket_t k;
        int64_t resume;

        cr_assert_eq(end_of(0), -1);
        cr_assert_eq(kc_tracker_at_end(tr, "t", 0, 40), 1);
        cr_assert_eq(end_of(0), 40);
        /* not a commit: the finished prefix is still unknown */
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), -1);
        /* a later end (the fetch went on over markers) replaces it */
        cr_assert_eq(kc_tracker_at_end(tr, "t", 0, 42), 1);
        cr_assert_eq(end_of(0), 42);
        cr_assert_eq(kc_tracker_at_end(tr, "t", 0, -1), 0);
        cr_assert_eq(end_of(0), 42);
        /* unknown partition */
        cr_assert_eq(kc_tracker_at_end(tr, "t", 9, 5), 0);

        /* revoke, assign: forgotten */
        kc_tracker_revoke(tr, "t", 0);
        cr_assert_eq(kc_tracker_at_end(tr, "t", 0, 42), 0);
        cr_assert_eq(kc_tracker_assign(tr, "t", 0), 0);
        cr_assert_eq(end_of(0), -1);
        cr_assert_eq(kc_tracker_at_end(tr, "t", 0, 42), 1);
        cr_assert_eq(kc_tracker_assign(tr, "t", 0), 0);
        cr_assert_eq(end_of(0), -1);

        /* lost: forgotten, and not taken while lost */
        cr_assert_eq(kc_tracker_at_end(tr, "t", 0, 42), 1);
        kc_tracker_lose(tr, "t", 0);
        cr_assert_eq(kc_tracker_at_end(tr, "t", 0, 42), 0);
        cr_assert_eq(kc_tracker_restore(tr, "t", 0, 42, &resume), 0);
        cr_assert_eq(end_of(0), -1);

        /* something consumed: the committable offset tells, the end
         * reached is not taken (and what was known stays as it was) */
        cr_assert_eq(kc_tracker_at_end(tr, "t", 0, 42), 1);
        cr_assert_eq(kc_tracker_add(tr, "t", 0, 42, -1, &k), 0);
        cr_assert_eq(kc_tracker_at_end(tr, "t", 0, 43), 0);
        cr_assert_eq(end_of(0), 42);
        cr_assert_eq(kc_tracker_done(tr, &k), 1);
        cr_assert_eq(kc_tracker_committable(tr, "t", 0), 43);

        /* a message dropped untracked before anything was consumed: the
         * end says nothing of it (it waits to be consumed again) */
        cr_assert_eq(kc_tracker_assign(tr, "t", 1), 0);
        kc_tracker_taint(tr, "t", 1, 7);
        cr_assert_eq(kc_tracker_at_end(tr, "t", 1, 9), 0);
        cr_assert_eq(end_of(1), -1);
}

/* kc_tracker_current: what a revoked partition's work must not act on
 * (its next owner reads the message again). */
Test(tracker, a_ticket_is_current_until_its_partition_is_revoked)
{
        kc_ticket_t a, b, bogus = {.slot = 9999};
        int64_t resume;

        cr_assert_eq(kc_tracker_add(tr, "t", 0, 1, -1, &a), 0);
        cr_assert_eq(kc_tracker_current(tr, &a), 1);
        cr_assert_eq(kc_tracker_done(tr, &a), 1);
        cr_assert_eq(kc_tracker_current(tr, &a), 1, "finished, still ours");
        cr_assert_eq(kc_tracker_add(tr, "t", 0, 2, -1, &b), 0);
        /* lost: its work carries on in case the group gives it back */
        kc_tracker_lose(tr, "t", 0);
        cr_assert_eq(kc_tracker_current(tr, &b), 1);
        cr_assert_eq(kc_tracker_restore(tr, "t", 0, 2, &resume), 1);
        cr_assert_eq(kc_tracker_current(tr, &b), 1);
        kc_tracker_revoke(tr, "t", 0);
        cr_assert_eq(kc_tracker_current(tr, &b), 0);
        /* given back later: a new window, the old ticket is not of it
         */
        cr_assert_eq(kc_tracker_assign(tr, "t", 0), 0);
        cr_assert_eq(kc_tracker_current(tr, &b), 0);
        cr_assert_eq(kc_tracker_current(tr, &bogus), 0);
        /* nor of another partition taking the freed slot (kc_tier_owns
         * relies on it for a tier record out across a revoke) */
        kc_tracker_revoke(tr, "t", 0);
        cr_assert_eq(kc_tracker_assign(tr, "u", 5), 0);
        cr_assert_eq(kc_tracker_add(tr, "u", 5, 1, -1, &a), 0);
        cr_assert_eq(a.slot, b.slot, "the freed slot is reused");
        cr_assert_eq(kc_tracker_current(tr, &a), 1);
        cr_assert_eq(kc_tracker_current(tr, &b), 0);
}
