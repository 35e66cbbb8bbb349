/* dm_stack: the demo's store, API and worker (see the header). */
#include "dm_stack.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfg.h"
#include "wk_api.h"
#include "wk_portal_api.h"
#include "wk_store.h"
#include "wk_worker.h"

struct dm_stack_s {
        cfg_t *api_cfg; /* the API's copy; the worker owns its own */
        wk_store_t *store;
        wk_api_t *api;
        wk_worker_t *worker;
        pthread_t thread;
        int running;
};

static void *run_worker(void *arg)
{
        wk_worker_run(arg);
        return NULL;
}

dm_stack_t *dm_stack_start(const char *cfgtext, char *errstr,
                           size_t errstr_size)
{
        dm_stack_t *s = calloc(1, sizeof(*s));
        wk_worker_opts_t opts = {0};
        wk_api_conf_t ac = {0};
        wk_store_conf_t sc = {0};
        cfg_t *cfg = NULL;

        if (!s) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        s->api_cfg = cfg_load_string(cfgtext, "demo.cfg", errstr, errstr_size);
        cfg = cfg_load_string(cfgtext, "demo.cfg", errstr, errstr_size);
        if (!s->api_cfg || !cfg)
                goto err;
        sc.brokers = cfg_kafka(cfg)->brokers;
        sc.prop_names = cfg_kafka(cfg)->prop_names;
        sc.prop_values = cfg_kafka(cfg)->prop_values;
        sc.prop_count = cfg_kafka(cfg)->prop_count;
        sc.topic = cfg_api(cfg)->store_topic;
        sc.replication_factor = cfg_api(cfg)->store_replication_factor;
        sc.key = cfg_api(cfg)->secret_key;
        s->store = wk_store_new(&sc, errstr, errstr_size);
        if (!s->store)
                goto err;
        ac.cfg = s->api_cfg;
        ac.store = s->store;
        ac.portal_verify = wk_portal_api_verify;
        ac.portal_opaque = (void *)cfg_api(s->api_cfg);
        s->api = wk_api_start(&ac, errstr, errstr_size);
        if (!s->api)
                goto err;
        opts.store = s->store;
        s->worker = wk_worker_new_ex(cfg, &opts, errstr, errstr_size);
        if (!s->worker)
                goto err;
        /* @remark the worker owns cfg now. */
        cfg = NULL;
        if (pthread_create(&s->thread, NULL, run_worker, s->worker)) {
                snprintf(errstr, errstr_size, "cannot start the worker");
                goto err;
        }
        s->running = 1;
        return s;
err:
        cfg_destroy(cfg);
        dm_stack_stop(s);
        return NULL;
}

uint16_t dm_stack_api_port(const dm_stack_t *s)
{
        return wk_api_port(s->api);
}

uint16_t dm_stack_admin_port(const dm_stack_t *s)
{
        return wk_worker_admin_port(s->worker);
}

void dm_stack_stop(dm_stack_t *s)
{
        if (!s)
                return;
        if (s->running) {
                wk_worker_stop(s->worker);
                pthread_join(s->thread, NULL);
        }
        /* the API answers until the worker is gone, as in `run` */
        wk_worker_destroy(s->worker);
        wk_api_stop(s->api);
        wk_store_destroy(s->store);
        cfg_destroy(s->api_cfg);
        free(s);
}
