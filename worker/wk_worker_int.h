/* wk_worker_int: a worker's state, shared by its delivery loop
 * (wk_worker.c) and its publisher (wk_status.c) and seen by nobody else:
 * the webhooks in force, the messages owed work, the worker itself. */
#ifndef HB_WK_WORKER_INT_H
#define HB_WK_WORKER_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "kc_consumer.h"
#include "wh_dlq.h"
#include "wh_endpoint.h"
#include "wh_pool.h"
#include "wk_admin.h"
#include "wk_metrics.h"
#include "wk_rate.h"
#include "wk_routes.h"
#include "wk_share.h"
#include "wk_status.h"
#include "wk_tier.h"
#include "wk_transform.h"
#include "wk_worker.h"

/* The webhooks in force, compiled once per configuration (wk_hooks.c):
 * replaced whole on a reload (SIGHUP) and when the store changes. The
 * per-message path asks these, never cfg. */
typedef struct hooks_s {
        cfg_t *file;           /* owned reference: the file's configuration */
        cfg_t *cfg;            /* file, or an overlay of it with the store's */
        wk_mapping_t *mapping; /* owned */
        wk_routes_t *routes;   /* owned; type -> subscribed webhooks */
        wh_endpoint_t **eps;   /* one per webhook of cfg, owned refs */
        int *active;           /* selected (--webhook) and enabled */
        char **labels;         /* metric labels: webhook="name" */
        size_t n;
        cfg_exhausted_t on_exhausted; /* delivery.on_exhausted */
        /* the first file_n webhooks are the file's, the others the
         * store's (cfg_webhook_t.from_api), whose versions are here */
        size_t file_n;
        int64_t *versions;
        struct wk_store_held_s **held; /* what the store's point into */
        size_t held_n;
        int from_store;     /* built with the store's webhooks */
        uint64_t store_gen; /* the store's generation then */
        int64_t expires_ms; /* a rotation's end (unix ms) to rebuild at */
        uint32_t *by_name;  /* name -> index + 1 (open addressing) */
        size_t by_name_n;   /* power of two, > 2 * n */
} hooks_t;

/* The metric labels of every webhook of the store: webhook="(api)". */
extern const char wk_hooks_api_label[];

/* What a set is built with, besides the file's configuration. */
typedef struct wk_hooks_ctx_s {
        const wk_worker_opts_t *opts;
        const hooks_t *old; /* the set it replaces (endpoints kept), or NULL */
        const wh_pool_t *pool; /* what it learnt of them (410s), or NULL */
        int reload;            /* a SIGHUP: endpoints disabled by 410 renewed */
        int with_store;        /* add opts->store's webhooks */
} wk_hooks_ctx_t;

/* Build the set of \p file (plus the store's: see \p x).
 * @remark takes the caller's reference to \p file on success only. */
hooks_t *wk_hooks_new(cfg_t *file, const wk_hooks_ctx_t *x, char *errstr,
                      size_t errstr_size);
void wk_hooks_free(hooks_t *h);
/* @returns the index of the webhook called \p name in \p h, or -1. */
long wk_hooks_find(const hooks_t *h, const char *name);
/* SIGHUP: the file again (keeping the store's webhooks). */
void wk_hooks_reload(struct wk_worker_s *w);
/* Every loop turn: once the store is ready, and then when it changed
 * (coalesced), the set rebuilt. @returns 1 when it was. */
int wk_hooks_follow(struct wk_worker_s *w);

/* One delivery of a message to one webhook. */
typedef struct wk_delivery_s {
        struct wk_msg_s *msg;
        wh_endpoint_t *ep; /* own reference: survives a reload */
        const char *label; /* metric label of ep (owned by msg) */
} wk_delivery_t;

/* One consumed message and what it still owes. Live messages are linked
 * so that abandoned ones can be freed at the end. */
typedef struct wk_msg_s {
        struct wk_worker_s *w;
        struct wk_msg_s *prev, *next;
        kc_msg_t in;   /* owned; the raw value for dead letters */
        char *id;      /* webhook-id */
        char **bodies; /* one per distinct property set */
        size_t body_count;
        wk_delivery_t *deliveries; /* one per subscribed webhook */
        char **labels;             /* copies of the deliveries' labels */
        size_t delivery_count;
        /* 1: the fan-out's one allocation at deliveries also holds the
         * id, the body and label pointers and the labels (msg_pack);
         * 0: each is its own allocation */
        int packed;
        char *label_next; /* packed: where submit() copies a label */
        int owed;         /* deliveries (or dead-letter writes) not finished */
        wk_delivery_t whole; /* the message itself, as a dead letter */
} wk_msg_t;

/* Dry-run / report counts per webhook type. */
typedef struct type_count_s {
        char *type;
        uint64_t n;
} type_count_t;

struct wk_worker_s {
        hooks_t *hooks;
        /* The configuration the worker started with, owned here and freed
         * last: its restart-only settings stay what the Kafka clients were
         * built from, and the retry tier builds its consumer from them
         * later, also after a reload replaced the hooks' cfg. */
        cfg_t *start_cfg;
        wk_worker_opts_t opts;
        kc_consumer_t *consumer;
        wh_pool_t *pool;
        wh_dlq_t *dlq;         /* dead letters and tier records, or NULL */
        wk_tier_t *tier;       /* retry tiers (wk_tier.c), or NULL */
        wk_share_t share;      /* of the rate limits (wk_share.c) */
        wk_metrics_t *metrics; /* opts.metrics, or the worker's own */
        int own_metrics;
        wk_admin_t *admin;
        wk_msg_t *live; /* consumed, not finished */
        int wake[2];    /* self-pipe: Kafka queues, signals */
        /* set from signal handlers and other threads (lock-free atomics
         * are async-signal-safe) */
        atomic_int stop;
        atomic_int reload;
        wk_stats_t stats;
        wk_rate_t rate; /* replay --rate */
        /* counts for wk_worker_report() */
        uint64_t *per_webhook; /* indexed like the first hooks_t */
        char **per_webhook_name;
        size_t per_webhook_n;
        type_count_t *per_type;
        size_t per_type_n;
        struct wk_redrive_s *redrive; /* redrive's counts, or NULL */
        _Atomic int64_t loop_ms;      /* last loop turn, for /healthz */
        wk_status_t status;    /* what the loop publishes (wk_status.c) */
        int64_t hooks_next_ms; /* the next store rebuild, not before */
};

/* One delivery (or dead-letter write) of \p m ended: when it was the
 * last owed, the message is finished and its offset may be committed
 * (wk_worker.c). */
void wk_msg_settle(wk_msg_t *m);

#endif
