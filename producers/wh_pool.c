/* wh_pool: the HTTP producer pool (libcurl multi): POST, retry, report. */
#include "wh_pool.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>

#include "wh_guard.h"
#include "wh_pool_sched.h"
#include "wh_retry.h"
#include "hb_http.h"
#include "hb_log.h"
#include "hb_time.h"

#define WH_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define WH_DEFAULT_RESPONSE_BYTES     256
/* first allocation for a response body: most answers fit ("ok", a short
 * JSON error); it doubles up to max_response_bytes when one does not */
#define WH_RESPONSE_FIRST_BYTES    256
#define WH_DEFAULT_CIRCUIT_OPEN_MS 30000
/* Connections curl may keep open, per slot (max_in_flight). Requests go
 * to more hosts (scheme, name, port) than there are slots, so a cache of
 * one connection per slot closed a host's idle connection to open
 * another's: 40 requests over 4 ports with 2 slots took 39 connections,
 * and 10,000 endpoints on 4 TLS ports at concurrency 256 took ~2,100
 * handshakes for 20,000 requests (4x: 320). curl's own default is 4 per
 * easy handle. Bounded by the descriptors the process may open, less
 * WH_FD_RESERVE for everything else. */
#define WH_CONN_CACHE_PER_SLOT 4
#define WH_FD_RESERVE          256
/* socket events taken from epoll per wh_pool_run() round */
#define WH_EPOLL_BATCH 64
/* how often the endpoints nobody else holds are forgotten */
#define WH_SWEEP_MS 1000

/* Which list of the pool an endpoint is on (wh_sched_t.listed). */
#define EP_UNLISTED 0
#define EP_RUNNABLE 1 /* may start a request now: the round-robin */
#define EP_OPEN     2 /* circuit open: waits for open_until */
#define EP_LIMITED  3 /* rate limit reached: waits for a token */
#define EP_SUSPECT  4 /* suspect, the suspects' share is taken: waits */

/* Suspect endpoints (issue 11, SPEC §4a): one whose last attempt timed
 * out or could not connect has at most 1 request in flight, and all of
 * them together at most 1/WH_SUSPECT_SHARE of the slots (at least 1);
 * any HTTP answer clears it. An endpoint with requests in flight of
 * which none ended for WH_STALL_MS (or half its timeout, when shorter)
 * starts no other until one ends. So hanging subscribers cannot hold
 * every slot while the healthy ones wait. A suspect endpoint's
 * WH_SUBMIT_DEFER deliveries (not WH_SUBMIT_ONCE) never wait for a turn
 * either: those queued when one of its attempts ends, and those that
 * become ready while it could not start them (its request on the wire,
 * the share taken), are handed back (WH_OUT_DEFERRED, suspect 1, no
 * attempt), as an open circuit's are: one time-out each for their turn
 * would hold their source messages, and so the partitions' windows,
 * until the circuit opened. */
#define WH_SUSPECT_SHARE 4
#define WH_STALL_MS      2000

typedef struct wh_delivery_s wh_delivery_t;

/*
 * The header list of a request on the wire, built in place: the attempt's
 * own lines (wh_endpoint_attempt_lines) in nodes that end with the
 * endpoint's static list, built once. A pool has max_in_flight of them,
 * so an attempt allocates nothing for its headers.
 */
typedef struct wh_hdrs_s {
        wh_attempt_lines_t lines;
        struct curl_slist node[WH_ATTEMPT_LINES_MAX];
        struct wh_hdrs_s *next_free;
} wh_hdrs_t;

/*
 * One submitted delivery. At any time it is in exactly one place: queued
 * on its endpoint (ready, waiting for a slot), in flight (d->easy set,
 * found again through CURLOPT_PRIVATE), in the retry heap, or on the done
 * list (waiting for its callback). The all-list links every one of them
 * for destroy.
 */
struct wh_delivery_s {
        wh_pool_t *pool;
        wh_sched_t *es;   /* its endpoint (es->ep), outlives the delivery */
        const char *id;   /* in id_line, after WH_ID_LINE_PREFIX */
        const char *body; /* borrowed until the callback */
        size_t body_len;
        int forever;
        int defer;            /* WH_SUBMIT_DEFER */
        int once;             /* WH_SUBMIT_ONCE */
        int circuit_open;     /* deferred for an open circuit */
        int suspect;          /* deferred for a suspect endpoint */
        int64_t rate_wait_ms; /* deferred for the rate limit: the wait
                                 it would have had, else 0 */
        int suspect_slot;     /* on the wire in the suspects' share */
        wh_done_cb_t *cb;
        void *opaque;

        int attempts;
        int probe; /* this attempt is the half-open circuit's probe */
        long status;
        wh_outcome_t outcome;
        int64_t retry_after_ms; /* from this response, -1 when none */
        char error[CURL_ERROR_SIZE + 128];
        char errbuf[CURL_ERROR_SIZE]; /* CURLOPT_ERRORBUFFER */
        char refused[200];            /* why the SSRF guard said no */
        char *resp; /* first max_response_bytes of the last response:
                       allocated when a body arrives, kept across attempts */
        size_t resp_len, resp_cap;
        double last_attempt_s;

        CURL *easy;
        wh_hdrs_t *hdrs; /* while on the wire */
        int64_t due_ms;  /* when in the retry heap */

        wh_delivery_t *next; /* endpoint queue or done list */
        wh_delivery_t *all_prev, *all_next;
        /* "webhook-id: <id>", allocated with the delivery */
        char id_line[];
};

/* A doubly linked list of endpoints through their wh_sched_t. */
typedef struct ep_list_s {
        wh_sched_t *head, *tail;
} ep_list_t;

/*
 * Scheduling is two-level. Each endpoint keeps its ready deliveries in a
 * FIFO; the pool keeps a round-robin of the endpoints that may start a
 * request now (below their own cap, circuit not open, no probe on the
 * wire). A free slot goes to the endpoint at the head, which then goes to
 * the tail if it may start another: endpoints take turns, so one flooded
 * or hanging webhook cannot hold the slots of the others, and starting a
 * request costs O(1) however long the backlog. An endpoint that may not
 * start leaves the round-robin and costs nothing until an attempt of it
 * ends (cap, probe) or its open period is over (open list).
 */
struct wh_pool_s {
        CURLM *multi;
        /* curl's sockets, registered by its socket callback: a round
         * costs O(sockets with events), not O(transfers) as
         * curl_multi_perform() would (it polls every transfer) */
        int epfd;
        int wakefd;       /* eventfd for wh_pool_wakeup() */
        int64_t curl_due; /* curl's timer (monotonic ms), -1: none */
        int max_in_flight;
        int connect_timeout_ms;
        size_t max_response_bytes;
        int https_only;

        /* reusable easy handles, at most max_in_flight, each with the
         * endpoint its options were set for (NULL: unknown, reset before
         * use; cleared when that endpoint is swept) */
        struct idle_s {
                CURL *e;
                wh_sched_t *es;
        } * idle;
        int idle_count;
        wh_hdrs_t *hdrs;      /* max_in_flight header lists */
        wh_hdrs_t *hdrs_free; /* those not on the wire */
        int in_flight;
        size_t pending;
        size_t queued; /* ready in endpoint queues, waiting for a slot */

        /* every endpoint this pool keeps (wh_pool_sched.h), an open
         * addressing hash table on the endpoint's address: a submit finds
         * its endpoint in O(1) */
        wh_sched_t **eps;
        size_t eps_cap, eps_count; /* cap: 0 or a power of two */
        int64_t next_sweep_ms;

        ep_list_t runnable;                 /* EP_RUNNABLE, in turn order */
        ep_list_t open;                     /* EP_OPEN */
        ep_list_t limited;                  /* EP_LIMITED */
        ep_list_t suspect;                  /* EP_SUSPECT, in turn order */
        int suspect_in_flight, suspect_max; /* the suspects' share */
        double rate_share; /* of each endpoint's rate_limit, (0, 1] */
        wh_delivery_t *done_head, *done_tail;
        wh_delivery_t **heap; /* min-heap on due_ms */
        size_t heap_len, heap_cap;
        wh_delivery_t *all;

        uint32_t rnd; /* xorshift32 state for the backoff jitter */

        int circuit_failures; /* <= 0: no circuit breaker */
        int circuit_open_ms;
        wh_guard_t *guard; /* NULL: no SSRF guard */
        wh_attempt_cb_t *attempt_cb;
        void *attempt_opaque;
        wh_attempt_info_cb_t *attempt_info_cb;
        void *attempt_info_opaque;
};

static uint32_t next_rnd(wh_pool_t *p)
{
        uint32_t x = p->rnd;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p->rnd = x;
        return x;
}

/* --- queues ------------------------------------------------------------ */

static void list_push(wh_delivery_t **head, wh_delivery_t **tail,
                      wh_delivery_t *d)
{
        d->next = NULL;
        if (*tail)
                (*tail)->next = d;
        else
                *head = d;
        *tail = d;
}

static wh_delivery_t *list_pop(wh_delivery_t **head, wh_delivery_t **tail)
{
        wh_delivery_t *d = *head;

        if (d) {
                *head = d->next;
                if (!*head)
                        *tail = NULL;
                d->next = NULL;
        }
        return d;
}

/* The endpoint's own FIFO of ready deliveries. */
static void ep_queue_push(wh_sched_t *es, wh_delivery_t *d)
{
        list_push(&es->queue_head, &es->queue_tail, d);
        es->queue_len++;
}

static wh_delivery_t *ep_queue_pop(wh_sched_t *es)
{
        wh_delivery_t *d = list_pop(&es->queue_head, &es->queue_tail);

        if (d)
                es->queue_len--;
        return d;
}

static void ep_list_add(ep_list_t *l, wh_sched_t *es, int which)
{
        es->listed = which;
        es->next = NULL;
        es->prev = l->tail;
        if (l->tail)
                l->tail->next = es;
        else
                l->head = es;
        l->tail = es;
}

static void ep_list_remove(ep_list_t *l, wh_sched_t *es)
{
        if (es->prev)
                es->prev->next = es->next;
        else
                l->head = es->next;
        if (es->next)
                es->next->prev = es->prev;
        else
                l->tail = es->prev;
        es->prev = es->next = NULL;
        es->listed = EP_UNLISTED;
}

static void ep_unlist(wh_pool_t *p, wh_sched_t *es)
{
        if (es->listed == EP_RUNNABLE)
                ep_list_remove(&p->runnable, es);
        else if (es->listed == EP_OPEN)
                ep_list_remove(&p->open, es);
        else if (es->listed == EP_LIMITED)
                ep_list_remove(&p->limited, es);
        else if (es->listed == EP_SUSPECT)
                ep_list_remove(&p->suspect, es);
}

/* --- the endpoints a pool keeps ---------------------------------------- */

static size_t eps_slot(const wh_pool_t *p, const wh_endpoint_t *ep)
{
        /* Fibonacci hashing of the address: its low bits are alignment */
        uint64_t h = (uint64_t)(uintptr_t)ep * 0x9e3779b97f4a7c15ull;

        return (size_t)(h >> 32) & (p->eps_cap - 1);
}

wh_sched_t *wh_pool_sched(const wh_pool_t *p, const wh_endpoint_t *ep)
{
        size_t i;

        if (!p || !ep || p->eps_cap == 0)
                return NULL;
        for (i = eps_slot(p, ep); p->eps[i]; i = (i + 1) & (p->eps_cap - 1))
                if (p->eps[i]->ep == ep)
                        return p->eps[i];
        return NULL;
}

static void eps_put(wh_pool_t *p, wh_sched_t *es)
{
        size_t i = eps_slot(p, es->ep);

        while (p->eps[i])
                i = (i + 1) & (p->eps_cap - 1);
        p->eps[i] = es;
}

/* Room for one more at a load of at most 1/2. @returns -1 on OOM. */
static int eps_reserve(wh_pool_t *p)
{
        wh_sched_t **old = p->eps;
        size_t old_cap = p->eps_cap, cap;

        if ((p->eps_count + 1) * 2 <= p->eps_cap)
                return 0;
        cap = old_cap ? old_cap * 2 : 16;
        p->eps = calloc(cap, sizeof(*p->eps));
        if (!p->eps) {
                p->eps = old;
                return -1;
        }
        p->eps_cap = cap;
        for (size_t i = 0; i < old_cap; i++)
                if (old[i])
                        eps_put(p, old[i]);
        free(old);
        return 0;
}

/* What \p p keeps for \p ep, made on first use. NULL: out of memory. */
static wh_sched_t *sched_get(wh_pool_t *p, wh_endpoint_t *ep)
{
        wh_sched_t *es = wh_pool_sched(p, ep);

        if (es)
                return es;
        if (eps_reserve(p) != 0 || !(es = calloc(1, sizeof(*es))))
                return NULL;
        es->ep = wh_endpoint_ref(ep);
        es->max_in_flight = wh_endpoint_max_in_flight(ep);
        es->rate_limit = wh_endpoint_rate_limit(ep);
        wh_rate_init(&es->rate, es->rate_limit * p->rate_share);
        eps_put(p, es);
        p->eps_count++;
        return es;
}

static void sched_free(wh_pool_t *p, wh_sched_t *es)
{
        /* an idle handle set up for it is reset before its next use */
        for (int i = 0; i < p->idle_count; i++)
                if (p->idle[i].es == es)
                        p->idle[i].es = NULL;
        wh_endpoint_unref(es->ep);
        free(es);
}

/* Remove slot \p i, moving later entries of its probe run back. */
static void eps_remove_at(wh_pool_t *p, size_t i)
{
        size_t mask = p->eps_cap - 1, j = i;

        p->eps[i] = NULL;
        for (;;) {
                size_t home;

                j = (j + 1) & mask;
                if (!p->eps[j])
                        break;
                home = eps_slot(p, p->eps[j]->ep);
                /* the entry at j may fill the hole at i unless its home
                 * lies cyclically in (i, j] */
                if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
                        continue;
                p->eps[i] = p->eps[j];
                p->eps[j] = NULL;
                i = j;
        }
        p->eps_count--;
}

/* Forget the endpoints with no delivery here that nobody else holds:
 * nobody can submit them again (a reload made new ones). */
static void sweep(wh_pool_t *p, int64_t now)
{
        size_t i = 0;

        p->next_sweep_ms = now + WH_SWEEP_MS;
        while (i < p->eps_cap) {
                wh_sched_t *es = p->eps[i];

                if (es && es->deliveries == 0 && es->listed == EP_UNLISTED &&
                    !wh_endpoint_shared(es->ep)) {
                        eps_remove_at(p, i);
                        sched_free(p, es);
                        continue; /* slot i may hold a moved entry now */
                }
                i++;
        }
}

/* Room for \p n deliveries: grown at submit, so a retry can always be
 * scheduled without allocating. */
static int heap_reserve(wh_pool_t *p, size_t n)
{
        wh_delivery_t **h;
        size_t cap;

        if (n <= p->heap_cap)
                return 0;
        cap = p->heap_cap ? p->heap_cap : 16;
        while (cap < n)
                cap *= 2;
        h = realloc(p->heap, cap * sizeof(*h));
        if (!h)
                return -1;
        p->heap = h;
        p->heap_cap = cap;
        return 0;
}

static void heap_push(wh_pool_t *p, wh_delivery_t *d)
{
        size_t i = p->heap_len++;

        while (i > 0) {
                size_t parent = (i - 1) / 2;

                if (p->heap[parent]->due_ms <= d->due_ms)
                        break;
                p->heap[i] = p->heap[parent];
                i = parent;
        }
        p->heap[i] = d;
}

/* Move the entry at \p i down to its place. */
static void heap_sift_down(wh_pool_t *p, size_t i)
{
        wh_delivery_t *d = p->heap[i];

        for (;;) {
                size_t child = 2 * i + 1;

                if (child >= p->heap_len)
                        break;
                if (child + 1 < p->heap_len &&
                    p->heap[child + 1]->due_ms < p->heap[child]->due_ms)
                        child++;
                if (d->due_ms <= p->heap[child]->due_ms)
                        break;
                p->heap[i] = p->heap[child];
                i = child;
        }
        p->heap[i] = d;
}

static wh_delivery_t *heap_pop(wh_pool_t *p)
{
        wh_delivery_t *top;

        if (p->heap_len == 0)
                return NULL;
        top = p->heap[0];
        p->heap[0] = p->heap[--p->heap_len];
        if (p->heap_len > 0)
                heap_sift_down(p, 0);
        return top;
}

/* --- deliveries -------------------------------------------------------- */

static void delivery_free(wh_delivery_t *d)
{
        wh_pool_t *p = d->pool;

        if (d->all_prev)
                d->all_prev->all_next = d->all_next;
        else
                p->all = d->all_next;
        if (d->all_next)
                d->all_next->all_prev = d->all_prev;
        d->es->deliveries--;
        free(d->resp);
        free(d);
}

/* The delivery is over: its callback runs at the end of wh_pool_run(). */
static void complete(wh_delivery_t *d, wh_outcome_t outcome)
{
        d->outcome = outcome;
        list_push(&d->pool->done_head, &d->pool->done_tail, d);
}

/* The endpoint is disabled: \p d ends without (another) request. */
static void complete_disabled(wh_delivery_t *d)
{
        if (d->es->cancelled) {
                snprintf(d->error, sizeof(d->error),
                         "webhook disabled or removed by a reload; not sent");
                complete(d, WH_OUT_CANCELLED);
                return;
        }
        snprintf(d->error, sizeof(d->error),
                 "webhook disabled after 410 Gone; not sent");
        complete(d, WH_OUT_DISABLED);
}

/* The circuit of \p es as the scheduler sees it at \p now: an open
 * circuit whose time is up is half-open (its next attempt probes). */
static int circuit_at(const wh_pool_t *p, const wh_sched_t *es, int64_t now)
{
        if (p->circuit_failures <= 0)
                return 0;
        if (es->circuit == 2 && now >= es->open_until)
                return 1;
        return es->circuit;
}

/* 1 when none of the requests \p es has in flight ended for its stall
 * bound: it starts no other (WH_STALL_MS). */
static int stalled(const wh_sched_t *es, int64_t now)
{
        int64_t bound = wh_endpoint_timeout_ms(es->ep) / 2;

        if (bound <= 0 || bound > WH_STALL_MS)
                bound = WH_STALL_MS;
        return es->in_flight > 0 && now - es->busy_since >= bound;
}

/* 1 when \p es is suspect and the suspects' share is taken. */
static int suspect_full(const wh_pool_t *p, const wh_sched_t *es)
{
        return es->suspect && p->suspect_in_flight >= p->suspect_max;
}

/* 1 when \p es is below its own cap (1 when suspect), not stalled, and,
 * half-open, has no probe out. */
static int has_room(const wh_pool_t *p, const wh_sched_t *es, int64_t now)
{
        if (es->max_in_flight > 0 && es->in_flight >= es->max_in_flight)
                return 0;
        if ((es->suspect && es->in_flight > 0) || stalled(es, now) ||
            suspect_full(p, es))
                return 0;
        return !(circuit_at(p, es, now) == 1 && es->probing);
}

/*
 * Put \p ep where its queue will be served: nothing to do when it is
 * already listed or has nothing queued; a disabled endpoint's queue ends
 * at once; an open circuit waits on the open list; with room, the tail of
 * the round-robin; suspect with nothing in flight while the suspects'
 * share is taken, the suspect list. Otherwise (cap reached, probe out,
 * stalled) the end of one of its attempts calls this again.
 */
static void ep_wake(wh_pool_t *p, wh_sched_t *es, int64_t now)
{
        wh_delivery_t *d;

        if (es->listed != EP_UNLISTED || !es->queue_head)
                return;
        if (es->disabled) {
                while ((d = ep_queue_pop(es))) {
                        p->queued--;
                        complete_disabled(d);
                }
        } else if (circuit_at(p, es, now) == 2) {
                ep_list_add(&p->open, es, EP_OPEN);
        } else if (es->in_flight == 0 && suspect_full(p, es)) {
                ep_list_add(&p->suspect, es, EP_SUSPECT);
        } else if (has_room(p, es, now)) {
                if (wh_rate_wait(&es->rate, now, 1) > 0)
                        ep_list_add(&p->limited, es, EP_LIMITED);
                else
                        ep_list_add(&p->runnable, es, EP_RUNNABLE);
        }
}

/* \p d (WH_SUBMIT_DEFER) does not wait for an open circuit. */
static void complete_circuit_open(wh_delivery_t *d)
{
        snprintf(d->error, sizeof(d->error),
                 "circuit open; handed back without an attempt");
        d->circuit_open = 1;
        complete(d, WH_OUT_DEFERRED);
}

/* 1 when a delivery of suspect \p es that became ready now would wait
 * (its one request on the wire, or the suspects' share taken). */
static int suspect_waits(const wh_pool_t *p, const wh_sched_t *es)
{
        return es->suspect && (es->in_flight > 0 || suspect_full(p, es));
}

/* \p d (WH_SUBMIT_DEFER, not WH_SUBMIT_ONCE) does not wait for a turn
 * of a suspect endpoint (WH_SUSPECT_SHARE). */
static void complete_suspect(wh_delivery_t *d)
{
        snprintf(d->error, sizeof(d->error),
                 "webhook suspect (timed out or could not connect); "
                 "handed back without an attempt");
        d->suspect = 1;
        complete(d, WH_OUT_DEFERRED);
}

/*
 * \p es's queued WH_SUBMIT_DEFER deliveries (with \p once_too, also those
 * with WH_SUBMIT_ONCE) end through \p end (complete_circuit_open(),
 * complete_suspect()); the others stay, in order.
 */
static void hand_back_queue(wh_pool_t *p, wh_sched_t *es, int once_too,
                            void (*end)(wh_delivery_t *))
{
        wh_delivery_t *d, *keep_head = NULL, *keep_tail = NULL;
        size_t kept = 0;

        while ((d = ep_queue_pop(es))) {
                if (d->defer && (once_too || !d->once)) {
                        p->queued--;
                        end(d);
                } else {
                        list_push(&keep_head, &keep_tail, d);
                        kept++;
                }
        }
        es->queue_head = keep_head;
        es->queue_tail = keep_tail;
        es->queue_len = kept;
        /* the round-robin holds only endpoints with a queue */
        if (!es->queue_head)
                ep_unlist(p, es);
}

/* \p d (WH_SUBMIT_DEFER) would wait for the rate limit longer than the
 * endpoint's quick retries wait (retry.max_ms): it goes elsewhere (the
 * first retry tier) with that wait. @returns 1 when deferred. */
static int rate_deferred(wh_delivery_t *d, int64_t now)
{
        wh_sched_t *es = d->es;
        int64_t wait;

        if (es->rate_limit <= 0)
                return 0;
        wait = wh_rate_wait(&es->rate, now, es->queue_len + 1);
        if (wait <= wh_endpoint_retry(es->ep)->max_ms)
                return 0;
        snprintf(d->error, sizeof(d->error),
                 "rate limit: would wait %lld ms; handed back",
                 (long long)wait);
        d->rate_wait_ms = wait;
        complete(d, WH_OUT_DEFERRED);
        return 1;
}

/* \p d is ready for its next attempt: it joins its endpoint's queue. */
static void enqueue(wh_pool_t *p, wh_delivery_t *d, int64_t now)
{
        wh_sched_t *es = d->es;

        if (d->defer && !es->disabled && circuit_at(p, es, now) == 2) {
                complete_circuit_open(d);
                return;
        }
        if (d->defer && !d->once && !es->disabled && suspect_waits(p, es)) {
                complete_suspect(d);
                return;
        }
        if (d->defer && !d->once && !es->disabled && rate_deferred(d, now))
                return;
        ep_queue_push(es, d);
        p->queued++;
        ep_wake(p, d->es, now);
}

/*
 * A 410 Gone: disable \p ep (once, loudly) and end every delivery of it
 * that is waiting, queued or for a retry, without another request.
 * O(waiting deliveries), once per endpoint.
 */
/* End every delivery of \p es that waits (queued, for a retry) without
 * another request (complete_disabled()). */
static void end_waiting(wh_pool_t *p, wh_sched_t *es, int64_t now)
{
        size_t j = 0;

        ep_unlist(p, es);
        ep_wake(p, es, now); /* ends the queue */
        for (size_t i = 0; i < p->heap_len; i++) {
                wh_delivery_t *d = p->heap[i];

                if (d->es == es)
                        complete_disabled(d);
                else
                        p->heap[j++] = d;
        }
        if (j < p->heap_len) {
                p->heap_len = j;
                for (size_t i = p->heap_len / 2; i-- > 0;)
                        heap_sift_down(p, i);
        }
}

static void disable(wh_pool_t *p, wh_sched_t *es, int64_t now)
{
        if (es->disabled)
                return;
        es->disabled = 1;
        hb_log(HB_LOG_ERR,
               "webhook disabled after 410 Gone; reload the configuration "
               "to re-enable",
               "webhook=%s", wh_endpoint_name(es->ep));
        end_waiting(p, es, now);
}

/*
 * What the attempt that just ended means: done, or when to try again.
 * @returns 1 when another attempt is scheduled.
 */
static int apply_class(wh_delivery_t *d, wh_class_t cls)
{
        wh_pool_t *p = d->pool;
        const cfg_retry_t *r = wh_endpoint_retry(d->es->ep);
        int64_t delay;

        switch (cls) {
        case WH_CLASS_OK:
                complete(d, WH_OUT_OK);
                return 0;
        case WH_CLASS_PERMANENT:
                if (!d->forever) {
                        complete(d, WH_OUT_PERMANENT);
                        return 0;
                }
                delay = r->max_ms;
                break;
        case WH_CLASS_RETRY:
        default:
                /* asked to wait longer than this pool waits: elsewhere */
                if (d->defer && !d->once && d->retry_after_ms > r->max_ms &&
                    (d->status == 429 || d->status == 503)) {
                        complete(d, WH_OUT_DEFERRED);
                        return 0;
                }
                if (d->attempts >= r->max_attempts || d->once) {
                        if (!d->forever) {
                                complete(d, WH_OUT_EXHAUSTED);
                                return 0;
                        }
                        delay = r->max_ms;
                } else {
                        delay = wh_retry_backoff_ms(d->attempts, r->initial_ms,
                                                    r->max_ms, next_rnd(p));
                }
                /* the server said when (SPEC §4): honoured up to max_ms,
                 * and never sooner than initial_ms so "Retry-After: 0"
                 * cannot make a hot loop */
                if (d->retry_after_ms >= 0 &&
                    (d->status == 429 || d->status == 503)) {
                        delay = d->retry_after_ms;
                        if (delay < r->initial_ms)
                                delay = r->initial_ms;
                        if (delay > r->max_ms)
                                delay = r->max_ms;
                }
                break;
        }
        if (d->es->disabled) {
                /* a retry would never be sent */
                complete_disabled(d);
                return 0;
        }
        d->due_ms = hb_time_mono_ms() + delay;
        heap_push(p, d);
        return 1;
}

/* The attempt of \p d is over: if it was the probe, the next may go. */
static void probe_over(wh_delivery_t *d)
{
        if (d->probe) {
                d->es->probing = 0;
                d->probe = 0;
        }
}

static void note_attempt(wh_pool_t *p, wh_delivery_t *d, long status,
                         int will_retry)
{
        if (p->attempt_cb)
                p->attempt_cb(d->es->ep, status, d->last_attempt_s, will_retry,
                              p->attempt_opaque);
        if (p->attempt_info_cb) {
                wh_attempt_t a = {
                        .status = status,
                        .seconds = d->last_attempt_s,
                        .will_retry = will_retry,
                        .error = d->error,
                        .body_start = d->resp ? d->resp : "",
                        .body_start_len = d->resp ? d->resp_len : 0,
                };
                p->attempt_info_cb(d->es->ep, &a, p->attempt_info_opaque);
        }
}

/* An attempt that failed before reaching the network (out of memory,
 * curl refusing an option): retried like a transport error, but no
 * evidence against the endpoint for its circuit. */
static void fail_local(wh_pool_t *p, wh_delivery_t *d, const char *why)
{
        d->attempts++;
        d->status = 0;
        d->resp_len = 0;
        d->retry_after_ms = -1;
        d->last_attempt_s = 0;
        snprintf(d->error, sizeof(d->error), "%s", why);
        probe_over(d);
        note_attempt(p, d, 0, apply_class(d, WH_CLASS_RETRY));
}

/* --- curl callbacks ---------------------------------------------------- */

/* Room for \p need bytes in the response buffer, grown by doubling up to
 * max_response_bytes. @returns the room there is (less on out-of-memory:
 * the body only serves reports). */
static size_t resp_room(wh_delivery_t *d, size_t need)
{
        size_t max = d->pool->max_response_bytes, cap;
        char *r;

        if (need <= d->resp_cap)
                return d->resp_cap;
        cap = d->resp_cap ? d->resp_cap : WH_RESPONSE_FIRST_BYTES;
        while (cap < need)
                cap *= 2;
        if (cap > max)
                cap = max;
        r = realloc(d->resp, cap);
        if (r) {
                d->resp = r;
                d->resp_cap = cap;
        }
        return d->resp_cap;
}

/* Keep the first max_response_bytes, swallow the rest. */
static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
        wh_delivery_t *d = ud;
        size_t len = size * n, max = d->pool->max_response_bytes, take, room;

        if (len == 0 || d->resp_len >= max)
                return len;
        take = len < max - d->resp_len ? len : max - d->resp_len;
        room = resp_room(d, d->resp_len + take) - d->resp_len;
        if (take > room)
                take = room;
        if (take > 0) {
                memcpy(d->resp + d->resp_len, buf, take);
                d->resp_len += take;
        }
        return len;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
        static const char name[] = "Retry-After:";
        wh_delivery_t *d = ud;
        size_t len = size * n, nlen = sizeof(name) - 1;
        char value[128];
        int64_t ms;

        if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
                /* a new response begins (after a 1xx): forget the last */
                d->retry_after_ms = -1;
                return len;
        }
        if (len > nlen && len - nlen < sizeof(value) &&
            strncasecmp(buf, name, nlen) == 0) {
                memcpy(value, buf + nlen, len - nlen);
                value[len - nlen] = '\0';
                if (wh_retry_after_parse(value, time(NULL), &ms) == 0)
                        d->retry_after_ms = ms;
        }
        return len;
}

/* --- attempts ---------------------------------------------------------- */

/* Keep \p e for the next attempt (its connection stays in the multi's
 * cache either way): one to the same endpoint (\p es, set up for it; NULL
 * when its options are in an unknown state) reuses it without a reset. */
static void release_easy(wh_pool_t *p, CURL *e, wh_sched_t *es)
{
        if (p->idle_count < p->max_in_flight) {
                p->idle[p->idle_count].e = e;
                p->idle[p->idle_count].es = es;
                p->idle_count++;
        } else {
                curl_easy_cleanup(e);
        }
}

/* An idle handle for \p ep: *\p fresh tells whether its endpoint options
 * must be set (a new or reset handle). NULL: out of memory. */
static CURL *take_easy(wh_pool_t *p, wh_sched_t *es, int *fresh)
{
        struct idle_s it;
        int i;

        *fresh = 1;
        if (p->idle_count == 0)
                return curl_easy_init();
        for (i = p->idle_count - 1; i > 0 && p->idle[i].es != es; i--)
                ;
        it = p->idle[i];
        p->idle[i] = p->idle[--p->idle_count];
        if (it.es == es)
                *fresh = 0;
        else
                curl_easy_reset(it.e);
        return it.e;
}

/* CURLOPT_OPENSOCKETFUNCTION: the SSRF guard sees the address curl is
 * about to connect to (after DNS), so rebinding cannot get around it.
 * A refused address makes curl try the name's next one, if any. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
        wh_delivery_t *d = ud;

        (void)purpose;
        if (wh_guard_check(d->pool->guard, &a->addr, a->addrlen, d->refused,
                           sizeof(d->refused)) == -1)
                return CURL_SOCKET_BAD;
        return socket(a->family, a->socktype, a->protocol);
}

/* What changes from one delivery to the next on a handle. */
static int set_delivery_options(wh_delivery_t *d, CURL *e)
{
        int bad = 0;

        /* the body is borrowed, not copied: the caller keeps it alive */
        bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                                (curl_off_t)d->body_len) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->body) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, &d->hdrs->node[0]) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, d) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, d) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, d) != 0;
        if (d->pool->guard)
                bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, d) != 0;
        return bad ? -1 : 0;
}

/* What every request to \p ep has, set once per handle. */
static int set_endpoint_options(wh_pool_t *p, const wh_endpoint_t *ep, CURL *e)
{
        const cfg_tls_t *tls = wh_endpoint_tls(ep);
        int bad = 0;

        bad |= curl_easy_setopt(e, CURLOPT_URL, wh_endpoint_url(ep)) != 0;
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
        bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                                p->https_only ? "https" : "http,https") != 0;
#else
        bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS,
                                p->https_only ? (long)CURLPROTO_HTTPS
                                              : (long)(CURLPROTO_HTTP |
                                                       CURLPROTO_HTTPS)) != 0;
#endif
        bad |= curl_easy_setopt(e, CURLOPT_POST, 1L) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                                (long)wh_endpoint_timeout_ms(ep)) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                                (long)p->connect_timeout_ms) != 0;
        /* SPEC §4: a 3xx is a failure, never followed */
        bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != 0;
        /* the guard must see the real peer: no proxy from the
         * environment */
        bad |= curl_easy_setopt(e, CURLOPT_PROXY, "") != 0;
        if (p->guard)
                bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION,
                                        open_socket) != 0;
        /* TLS: the peer is always verified, name included, TLS >= 1.2 */
        bad |= curl_easy_setopt(e, CURLOPT_SSLVERSION,
                                (long)CURL_SSLVERSION_TLSv1_2) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != 0;
        bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != 0;
        if (tls->ca_file) {
                /* the configured CA bundle is the only trust anchor: no
                 * system CA directory besides it */
                bad |= curl_easy_setopt(e, CURLOPT_CAINFO, tls->ca_file) != 0;
                bad |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != 0;
        }
        if (tls->client_cert)
                bad |= curl_easy_setopt(e, CURLOPT_SSLCERT, tls->client_cert) !=
                       0;
        if (tls->client_key)
                bad |= curl_easy_setopt(e, CURLOPT_SSLKEY, tls->client_key) !=
                       0;
        return bad ? -1 : 0;
}

/* \p d's request headers for an attempt now, in a free wh_hdrs_t (there
 * is one per slot); -1 when the endpoint cannot build them. */
static int hdrs_take(wh_pool_t *p, wh_delivery_t *d)
{
        wh_hdrs_t *h = p->hdrs_free;
        size_t i;

        /* re-signed for every attempt: the timestamp is this attempt's */
        if (!h || wh_endpoint_attempt_lines(d->es->ep, d->id_line,
                                            (int64_t)time(NULL), d->body,
                                            d->body_len, &h->lines) != 0)
                return -1;
        for (i = 0; i < h->lines.count; i++) {
                h->node[i].data = (char *)h->lines.line[i];
                h->node[i].next = &h->node[i + 1];
        }
        /* curl only reads the list: the endpoint's own is shared */
        h->node[i - 1].next = wh_endpoint_static_headers(d->es->ep);
        p->hdrs_free = h->next_free;
        d->hdrs = h;
        return 0;
}

static void hdrs_put(wh_pool_t *p, wh_delivery_t *d)
{
        if (d->hdrs) {
                d->hdrs->next_free = p->hdrs_free;
                p->hdrs_free = d->hdrs;
                d->hdrs = NULL;
        }
}

/* Start the next attempt of \p d (a slot is free). */
static void start_attempt(wh_pool_t *p, wh_delivery_t *d)
{
        CURL *e;
        int fresh;

        e = take_easy(p, d->es, &fresh);
        if (!e) {
                fail_local(p, d, "curl_easy_init failed");
                return;
        }
        if (hdrs_take(p, d) != 0) {
                release_easy(p, e, fresh ? NULL : d->es);
                fail_local(p, d, "out of memory building the request headers");
                return;
        }
        d->errbuf[0] = '\0';
        d->error[0] = '\0';
        d->refused[0] = '\0';
        d->resp_len = 0;
        d->retry_after_ms = -1;
        d->status = 0;
        if ((fresh && set_endpoint_options(p, d->es->ep, e) != 0) ||
            set_delivery_options(d, e) != 0) {
                release_easy(p, e, NULL);
                hdrs_put(p, d);
                fail_local(p, d, "curl_easy_setopt failed");
                return;
        }
        if (curl_multi_add_handle(p->multi, e) != CURLM_OK) {
                release_easy(p, e, d->es);
                hdrs_put(p, d);
                fail_local(p, d, "curl_multi_add_handle failed");
                return;
        }
        d->attempts++;
        d->easy = e;
        p->in_flight++;
        if (d->es->in_flight++ == 0)
                d->es->busy_since = hb_time_mono_ms();
        if (d->es->suspect) {
                d->suspect_slot = 1;
                p->suspect_in_flight++;
        }
}

/* What the end of an attempt of \p es with \p rc says of its health
 * (WH_SUSPECT_SHARE): no connection or no answer in time makes it
 * suspect, any answer clears it. */
static void suspect_note(wh_sched_t *es, CURLcode rc)
{
        int was = es->suspect;

        if (rc == CURLE_OK)
                es->suspect = 0;
        else if (rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT)
                es->suspect = 1;
        if (was != es->suspect)
                hb_log(es->suspect ? HB_LOG_WARN : HB_LOG_INFO,
                       es->suspect ? "webhook suspect: one request at a time"
                                   : "webhook answers again",
                       "webhook=%s", wh_endpoint_name(es->ep));
}

static void circuit_open(wh_pool_t *p, wh_sched_t *es, int64_t now)
{
        es->circuit = 2;
        es->open_until = now + p->circuit_open_ms;
        hb_log(HB_LOG_WARN, "circuit opened",
               "webhook=%s failures=%d open_ms=%d", wh_endpoint_name(es->ep),
               es->failures, p->circuit_open_ms);
        /* the queue's WH_SUBMIT_DEFER deliveries do not wait for it */
        hand_back_queue(p, es, 1, complete_circuit_open);
}

/*
 * Circuit breaker bookkeeping after an attempt of \p d classified \p cls.
 * Closed: consecutive failures open it at circuit_failures. Half-open:
 * only the probe decides, a failure opens it again. Any answer that is
 * not a failure of the endpoint closes it, even from an attempt that
 * started before it opened: the endpoint answers.
 */
static void circuit_note(wh_pool_t *p, wh_delivery_t *d, wh_class_t cls,
                         int64_t now)
{
        wh_sched_t *es = d->es;
        int was_probe = d->probe, state;

        probe_over(d);
        if (p->circuit_failures <= 0)
                return;
        if (cls != WH_CLASS_RETRY) {
                if (es->circuit != 0)
                        hb_log(HB_LOG_INFO, "circuit closed",
                               "webhook=%s probe=%d", wh_endpoint_name(es->ep),
                               was_probe);
                es->circuit = 0;
                es->failures = 0;
                return;
        }
        es->failures++;
        state = circuit_at(p, es, now);
        if ((state == 0 && es->failures >= p->circuit_failures) ||
            (state == 1 && was_probe))
                circuit_open(p, es, now);
}

/* A transfer ended with \p rc. */
static void finish_attempt(wh_pool_t *p, wh_delivery_t *d, CURLcode rc)
{
        CURL *e = d->easy;
        curl_off_t total_us = 0;
        long code = 0;
        int64_t now = hb_time_mono_ms();
        wh_class_t cls;

        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        if (curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total_us) == CURLE_OK)
                d->last_attempt_s = (double)total_us / 1e6;
        curl_multi_remove_handle(p->multi, e);
        release_easy(p, e, d->es);
        d->easy = NULL;
        hdrs_put(p, d);
        p->in_flight--;
        d->es->in_flight--;
        d->es->busy_since = now;
        if (d->suspect_slot) {
                d->suspect_slot = 0;
                p->suspect_in_flight--;
        }
        d->status = code;

        if (rc == CURLE_COULDNT_CONNECT && d->refused[0]) {
                /* the SSRF guard refused every address: permanent, never
                 * retried (not even "forever"), and no evidence against
                 * the endpoint for its circuit */
                snprintf(d->error, sizeof(d->error),
                         "refused by the SSRF guard: %s", d->refused);
                probe_over(d);
                complete(d, WH_OUT_PERMANENT);
                note_attempt(p, d, 0, 0);
                ep_wake(p, d->es, now);
                return;
        }
        if (rc != CURLE_OK) {
                if (d->errbuf[0])
                        snprintf(d->error, sizeof(d->error), "%s: %s",
                                 curl_easy_strerror(rc), d->errbuf);
                else
                        snprintf(d->error, sizeof(d->error), "%s",
                                 curl_easy_strerror(rc));
                /* a URL this pool will never request (https_only, bad
                 * syntax) is permanent; connect errors, timeouts, resets,
                 * TLS failures are retryable whatever part of a response
                 * may have arrived */
                cls = rc == CURLE_UNSUPPORTED_PROTOCOL ||
                                      rc == CURLE_URL_MALFORMAT
                              ? WH_CLASS_PERMANENT
                              : WH_CLASS_RETRY;
                if (cls == WH_CLASS_PERMANENT)
                        d->forever = 0;
        } else {
                cls = wh_retry_classify(code);
                if (code == 410)
                        disable(p, d->es, now);
        }
        suspect_note(d->es, rc);
        circuit_note(p, d, cls, now);
        note_attempt(p, d, rc == CURLE_OK ? code : 0, apply_class(d, cls));
        if (d->es->suspect && !d->es->disabled)
                hand_back_queue(p, d->es, 0, complete_suspect);
        ep_wake(p, d->es, now);
}

/* Due retries and endpoints whose open period is over join their queues;
 * then free slots go round the runnable endpoints. */
static void schedule(wh_pool_t *p)
{
        int64_t now = hb_time_mono_ms();
        wh_sched_t *es, *next;

        while (p->heap_len > 0 && p->heap[0]->due_ms <= now)
                enqueue(p, heap_pop(p), now);
        for (es = p->open.head; es; es = next) {
                next = es->next;
                if (circuit_at(p, es, now) != 2) {
                        ep_list_remove(&p->open, es);
                        ep_wake(p, es, now);
                }
        }
        for (es = p->limited.head; es; es = next) {
                next = es->next;
                if (wh_rate_wait(&es->rate, now, 1) == 0) {
                        ep_list_remove(&p->limited, es);
                        ep_wake(p, es, now);
                }
        }
        /* as many suspects back to the turn as their share has room for */
        for (int room = p->suspect_max - p->suspect_in_flight;
             room > 0 && (es = p->suspect.head); room--) {
                ep_list_remove(&p->suspect, es);
                ep_wake(p, es, now);
        }
        while (p->in_flight < p->max_in_flight && (es = p->runnable.head)) {
                wh_delivery_t *d;

                ep_list_remove(&p->runnable, es);
                if (es->disabled || circuit_at(p, es, now) == 2 ||
                    !has_room(p, es, now) ||
                    wh_rate_wait(&es->rate, now, 1) > 0) {
                        /* changed since it was listed (a circuit opened
                         * by a late answer, wh_pool_set_disabled()): to
                         * where it belongs now, not back here */
                        ep_wake(p, es, now);
                        continue;
                }
                d = ep_queue_pop(es);
                p->queued--;
                if (circuit_at(p, es, now) == 1) {
                        /* half-open: this attempt is the one probe */
                        d->probe = 1;
                        es->probing = 1;
                        if (es->circuit == 2) {
                                es->circuit = 1;
                                hb_log(HB_LOG_INFO, "circuit half-open",
                                       "webhook=%s probing=1",
                                       wh_endpoint_name(es->ep));
                        }
                }
                wh_rate_take(&es->rate, now);
                start_attempt(p, d);
                ep_wake(p, es, now); /* back to the tail if it may */
        }
}

/* The earliest timer: a due retry or an open period ending, -1: none. */
static int64_t next_timer(const wh_pool_t *p)
{
        int64_t t = p->heap_len > 0 ? p->heap[0]->due_ms : -1;

        for (const wh_sched_t *es = p->open.head; es; es = es->next)
                if (t < 0 || es->open_until < t)
                        t = es->open_until;
        if (p->limited.head) {
                int64_t now = hb_time_mono_ms();
                for (const wh_sched_t *es = p->limited.head; es;
                     es = es->next) {
                        int64_t due = now + wh_rate_wait(&es->rate, now, 1);
                        if (t < 0 || due < t)
                                t = due;
                }
        }
        return t;
}

static void collect_finished(wh_pool_t *p)
{
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(p->multi, &left))) {
                /* msg dies with curl_multi_remove_handle(): copy first */
                CURL *e = msg->easy_handle;
                CURLcode rc = msg->data.result;
                char *priv = NULL;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
                finish_attempt(p, (wh_delivery_t *)(void *)priv, rc);
        }
}

static int run_callbacks(wh_pool_t *p)
{
        /* detach first: a callback may submit (and so add to the list) */
        wh_delivery_t *d = p->done_head;
        int n = 0;

        p->done_head = p->done_tail = NULL;
        while (d) {
                wh_delivery_t *next = d->next;
                wh_result_t res = {
                        .outcome = d->outcome,
                        .status = d->status,
                        .error = d->error,
                        .attempts = d->attempts,
                        .retry_after_ms = d->rate_wait_ms > 0 ? d->rate_wait_ms
                                          : d->status == 429 || d->status == 503
                                                  ? d->retry_after_ms
                                                  : -1,
                        .circuit_open = d->circuit_open,
                        .suspect = d->suspect,
                        .rate_limited = d->rate_wait_ms > 0,
                        .last_attempt_s = d->last_attempt_s,
                        .body_start = d->resp ? d->resp : "",
                        .body_start_len = d->resp_len,
                };

                p->pending--;
                d->cb(&res, d->opaque);
                delivery_free(d);
                n++;
                d = next;
        }
        return n;
}

/* --- curl's sockets and timer ------------------------------------------ */

/* CURLMOPT_SOCKETFUNCTION: curl says which events it wants on \p s. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp,
                     void *socketp)
{
        wh_pool_t *p = userp;
        struct epoll_event ev;

        (void)e;
        if (what == CURL_POLL_REMOVE) {
                /* may fail harmlessly when curl closed it already */
                epoll_ctl(p->epfd, EPOLL_CTL_DEL, s, NULL);
                curl_multi_assign(p->multi, s, NULL);
                return 0;
        }
        memset(&ev, 0, sizeof(ev));
        ev.data.fd = s;
        if (what & CURL_POLL_IN)
                ev.events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                ev.events |= EPOLLOUT;
        if (epoll_ctl(p->epfd, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s,
                      &ev) == -1) {
                /* a reused descriptor number, or one closed behind our
                 * back: the other operation is right */
                if (errno != EEXIST && errno != ENOENT)
                        return -1;
                if (epoll_ctl(p->epfd,
                              errno == EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                              s, &ev) == -1)
                        return -1;
        }
        if (!socketp)
                curl_multi_assign(p->multi, s, p); /* any non-NULL mark */
        return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl wants CURL_SOCKET_TIMEOUT in \p ms. */
static int on_timer(CURLM *m, long ms, void *userp)
{
        wh_pool_t *p = userp;

        (void)m;
        p->curl_due = ms < 0 ? -1 : hb_time_mono_ms() + ms;
        return 0;
}

/* Let curl act on what is ready: the sockets epoll reports now, then its
 * timer when due. @returns -1 on a fatal curl error. */
static int drive(wh_pool_t *p)
{
        struct epoll_event evs[WH_EPOLL_BATCH];
        int running, n;

        n = epoll_wait(p->epfd, evs, WH_EPOLL_BATCH, 0);
        for (int i = 0; i < n; i++) {
                int mask = 0;

                if (evs[i].events & EPOLLIN)
                        mask |= CURL_CSELECT_IN;
                if (evs[i].events & EPOLLOUT)
                        mask |= CURL_CSELECT_OUT;
                if (evs[i].events & (EPOLLERR | EPOLLHUP))
                        mask |= CURL_CSELECT_ERR;
                if (curl_multi_socket_action(p->multi, evs[i].data.fd, mask,
                                             &running) != CURLM_OK)
                        return -1;
        }
        if (p->curl_due >= 0 && p->curl_due <= hb_time_mono_ms()) {
                p->curl_due = -1;
                if (curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0,
                                             &running) != CURLM_OK)
                        return -1;
        }
        return 0;
}

/* How many connections the multi keeps open (CURLMOPT_MAXCONNECTS). */
static long conn_cache_size(int max_in_flight)
{
        long want = (long)max_in_flight * WH_CONN_CACHE_PER_SLOT;
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
            rl.rlim_cur != RLIM_INFINITY &&
            (long)rl.rlim_cur - WH_FD_RESERVE < want)
                want = (long)rl.rlim_cur - WH_FD_RESERVE;
        return want > max_in_flight ? want : max_in_flight;
}

/* --- public ------------------------------------------------------------ */

wh_pool_t *wh_pool_new(const wh_pool_conf_t *conf, char *errstr,
                       size_t errstr_size)
{
        wh_pool_t *p = NULL;
        int global = 0;

        if (!conf || conf->max_in_flight < 1) {
                snprintf(errstr, errstr_size, "max_in_flight must be >= 1");
                return NULL;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                snprintf(errstr, errstr_size, "curl_global_init failed");
                goto err;
        }
        global = 1;
        p = calloc(1, sizeof(*p));
        if (!p)
                goto oom;
        p->epfd = p->wakefd = -1;
        p->curl_due = -1;
        p->max_in_flight = conf->max_in_flight;
        p->suspect_max = conf->max_in_flight / WH_SUSPECT_SHARE;
        if (p->suspect_max < 1)
                p->suspect_max = 1;
        p->rate_share = 1.0;
        p->connect_timeout_ms = conf->connect_timeout_ms > 0
                                        ? conf->connect_timeout_ms
                                        : WH_DEFAULT_CONNECT_TIMEOUT_MS;
        p->max_response_bytes = conf->max_response_bytes > 0
                                        ? (size_t)conf->max_response_bytes
                                        : WH_DEFAULT_RESPONSE_BYTES;
        p->https_only = conf->https_only != 0;
        p->circuit_failures = conf->circuit_failures;
        p->circuit_open_ms = conf->circuit_open_ms > 0
                                     ? conf->circuit_open_ms
                                     : WH_DEFAULT_CIRCUIT_OPEN_MS;
        if (conf->ssrf_guard) {
                p->guard = wh_guard_new(conf->allow_networks,
                                        conf->allow_network_count, errstr,
                                        errstr_size);
                if (!p->guard)
                        goto err;
        }
        p->rnd = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16) ^
                 (uint32_t)(uintptr_t)p;
        if (p->rnd == 0)
                p->rnd = 0x9e3779b9u;
        p->idle = calloc((size_t)p->max_in_flight, sizeof(*p->idle));
        p->hdrs = calloc((size_t)p->max_in_flight, sizeof(*p->hdrs));
        if (!p->idle || !p->hdrs)
                goto oom;
        for (int i = p->max_in_flight - 1; i >= 0; i--) {
                p->hdrs[i].next_free = p->hdrs_free;
                p->hdrs_free = &p->hdrs[i];
        }
        p->epfd = epoll_create1(EPOLL_CLOEXEC);
        p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (p->epfd == -1 || p->wakefd == -1) {
                snprintf(errstr, errstr_size, "epoll/eventfd: %s",
                         strerror(errno));
                goto err;
        }
        p->multi = curl_multi_init();
        if (!p->multi) {
                snprintf(errstr, errstr_size, "curl_multi_init failed");
                goto err;
        }
        /* keep-alive connections reused across requests: up to one per
         * slot to a host, and idle ones kept for the other hosts */
        if (curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                              (long)p->max_in_flight) != CURLM_OK ||
            curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS,
                              conn_cache_size(p->max_in_flight)) != CURLM_OK ||
            curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, on_socket) !=
                    CURLM_OK ||
            curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p) != CURLM_OK ||
            curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, on_timer) !=
                    CURLM_OK ||
            curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p) != CURLM_OK) {
                snprintf(errstr, errstr_size, "curl_multi_setopt failed");
                goto err;
        }
        return p;
oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        if (p) {
                if (p->multi)
                        curl_multi_cleanup(p->multi);
                if (p->epfd != -1)
                        close(p->epfd);
                if (p->wakefd != -1)
                        close(p->wakefd);
                wh_guard_destroy(p->guard);
                free(p->idle);
                free(p->hdrs);
                free(p);
        }
        if (global)
                curl_global_cleanup();
        return NULL;
}

int wh_pool_submit(wh_pool_t *p, wh_endpoint_t *ep, const char *id,
                   const char *body, size_t body_len, int flags,
                   wh_done_cb_t *cb, void *opaque)
{
        wh_sched_t *es;
        wh_delivery_t *d;
        size_t id_len;

        if (!p || !ep || !id || !cb || (!body && body_len > 0))
                return -1;
        if (!(es = sched_get(p, ep)) || heap_reserve(p, p->pending + 1) != 0)
                return -1;
        id_len = strlen(id);
        /* one allocation with its id; no response buffer yet: a delivery
         * that waits costs only this (on_body() allocates one when a body
         * arrives) */
        d = calloc(1, sizeof(*d) + sizeof(WH_ID_LINE_PREFIX) + id_len);
        if (!d)
                return -1;
        memcpy(d->id_line, WH_ID_LINE_PREFIX, sizeof(WH_ID_LINE_PREFIX) - 1);
        memcpy(d->id_line + sizeof(WH_ID_LINE_PREFIX) - 1, id, id_len + 1);
        d->id = d->id_line + sizeof(WH_ID_LINE_PREFIX) - 1;
        d->pool = p;
        d->es = es;
        d->body = body ? body : "";
        d->body_len = body_len;
        d->forever = (flags & WH_SUBMIT_FOREVER) != 0;
        d->defer = (flags & WH_SUBMIT_DEFER) != 0;
        d->once = (flags & WH_SUBMIT_ONCE) != 0;
        d->cb = cb;
        d->opaque = opaque;
        d->retry_after_ms = -1;

        d->all_next = p->all;
        if (p->all)
                p->all->all_prev = d;
        p->all = d;
        p->pending++;
        es->deliveries++;

        if (id_len == 0 || !hb_http_value_ok(id, id_len)) {
                /* can never be sent (header injection, or blanks a
                 * receiver would strip from what was signed): permanent
                 * even with forever, reported from the next wh_pool_run() */
                snprintf(d->error, sizeof(d->error),
                         "webhook-id is empty or not a header value "
                         "(control characters, blanks at an end)");
                complete(d, WH_OUT_PERMANENT);
                return 0;
        }
        /* queued only: requests start, and a disabled endpoint's
         * deliveries end, from wh_pool_run() (the callback never runs
         * inside submit) */
        enqueue(p, d, hb_time_mono_ms());
        return 0;
}

int wh_pool_run(wh_pool_t *p, int timeout_ms, int extra_fd)
{
        int64_t wait, now, timer;

        if (!p)
                return -1;
        now = hb_time_mono_ms();
        if (now >= p->next_sweep_ms)
                sweep(p, now);
        schedule(p);
        if (drive(p) == -1) /* sends what schedule() just started */
                return -1;
        collect_finished(p);

        wait = timeout_ms > 0 ? timeout_ms : 0;
        if (p->done_head)
                wait = 0;
        now = hb_time_mono_ms();
        timer = next_timer(p);
        if (timer >= 0 && timer - now < wait)
                wait = timer - now;
        if (p->curl_due >= 0 && p->curl_due - now < wait)
                wait = p->curl_due - now;
        if (wait > 0) {
                struct pollfd pfd[3] = {
                        {.fd = p->epfd, .events = POLLIN},
                        {.fd = p->wakefd, .events = POLLIN},
                        {.fd = extra_fd, .events = POLLIN},
                };
                uint64_t v;

                if (poll(pfd, extra_fd >= 0 ? 3 : 2, (int)wait) == -1 &&
                    errno != EINTR)
                        return -1;
                if (pfd[1].revents & POLLIN)
                        (void)!read(p->wakefd, &v, sizeof(v));
        }
        if (drive(p) == -1)
                return -1;
        collect_finished(p);
        schedule(p);
        if (drive(p) == -1) /* the requests started just now go out */
                return -1;
        return run_callbacks(p);
}

void wh_pool_wakeup(wh_pool_t *p)
{
        uint64_t one = 1;

        /* async-signal-safe: one write(2) */
        if (p)
                (void)!write(p->wakefd, &one, sizeof(one));
}

size_t wh_pool_queued(const wh_pool_t *p)
{
        return p ? p->queued : 0;
}

int wh_pool_saturated(const wh_pool_t *p, size_t per_slot)
{
        size_t slots;

        if (!p)
                return 0;
        slots = (size_t)p->max_in_flight;
        return p->in_flight >= p->max_in_flight &&
               p->queued >= per_slot * slots;
}

void wh_pool_set_rate_share(wh_pool_t *p, double share)
{
        int64_t now = hb_time_mono_ms();

        if (!p || !(share > 0) || share > 1)
                return;
        p->rate_share = share;
        for (size_t i = 0; i < p->eps_cap; i++) {
                wh_sched_t *es = p->eps[i];
                if (es && es->rate_limit > 0)
                        wh_rate_set(&es->rate, es->rate_limit * share, now);
        }
        wh_pool_wakeup(p);
}

void wh_pool_set_attempt_cb(wh_pool_t *p, wh_attempt_cb_t *cb, void *opaque)
{
        if (!p)
                return;
        p->attempt_cb = cb;
        p->attempt_opaque = opaque;
}

void wh_pool_set_attempt_info_cb(wh_pool_t *p, wh_attempt_info_cb_t *cb,
                                 void *opaque)
{
        if (!p)
                return;
        p->attempt_info_cb = cb;
        p->attempt_info_opaque = opaque;
}

size_t wh_pool_running(const wh_pool_t *p)
{
        return p ? (size_t)p->in_flight : 0;
}

size_t wh_pool_pending(const wh_pool_t *p)
{
        return p ? p->pending : 0;
}

int wh_pool_circuit(const wh_pool_t *p, const wh_endpoint_t *ep)
{
        const wh_sched_t *es = wh_pool_sched(p, ep);

        /* open until open_until, half-open from then on even before the
         * probe starts: what a status page should say */
        return es ? circuit_at(p, es, hb_time_mono_ms()) : 0;
}

int wh_pool_disabled(const wh_pool_t *p, const wh_endpoint_t *ep)
{
        const wh_sched_t *es = wh_pool_sched(p, ep);

        return es ? es->disabled : 0;
}

size_t wh_pool_running_to(const wh_pool_t *p, const wh_endpoint_t *ep)
{
        const wh_sched_t *es = wh_pool_sched(p, ep);

        return es ? (size_t)es->in_flight : 0;
}

size_t wh_pool_cancel(wh_pool_t *p, const wh_endpoint_t *ep)
{
        wh_sched_t *es = wh_pool_sched(p, ep);
        size_t before;

        if (!es || es->cancelled)
                return 0;
        before = es->deliveries;
        es->cancelled = 1;
        es->disabled = 1;
        end_waiting(p, es, hb_time_mono_ms());
        return before;
}

int wh_pool_set_disabled(wh_pool_t *p, wh_endpoint_t *ep, int disabled)
{
        wh_sched_t *es = p && ep ? sched_get(p, ep) : NULL;

        if (!es)
                return -1;
        es->disabled = disabled != 0;
        return 0;
}

void wh_pool_destroy(wh_pool_t *p)
{
        if (!p)
                return;
        while (p->all) {
                wh_delivery_t *d = p->all;

                if (d->easy) {
                        curl_multi_remove_handle(p->multi, d->easy);
                        curl_easy_cleanup(d->easy);
                        d->easy = NULL;
                }
                delivery_free(d);
        }
        for (int i = 0; i < p->idle_count; i++)
                curl_easy_cleanup(p->idle[i].e);
        p->idle_count = 0;
        for (size_t i = 0; i < p->eps_cap; i++)
                if (p->eps[i])
                        sched_free(p, p->eps[i]);
        free(p->eps);
        curl_multi_cleanup(p->multi); /* may still call on_socket() */
        close(p->epfd);
        close(p->wakefd);
        wh_guard_destroy(p->guard);
        free(p->idle);
        free(p->hdrs);
        free(p->heap);
        free(p);
        curl_global_cleanup();
}
