/* Unit tests: kc_consumer without a broker (shutdown must not wait for a
 * group join that cannot happen). */
#include <criterion/criterion.h>

#include "cfg.h"
#include "hb_time.h"
#include "kc_consumer.h"

/* Port 1 on loopback: nothing listens, every connection is refused. */
static const char *no_broker_cfg =
        "kafka = { brokers = \"127.0.0.1:1\"; group_id = \"g\";\n"
        "  topics = ( { name = \"events\"; app_token = \"NX-t\"; } ); };\n"
        "webhooks = (\n"
        "  { name = \"crm\"; url = \"https://example.com/hook\";\n"
        "    events = [ \"*\" ]; }\n"
        ");\n";

Test(consumer, destroy_without_broker_does_not_wait_for_a_join)
{
        char errs[4096];
        cfg_t *cfg =
                cfg_load_string(no_broker_cfg, "t.cfg", errs, sizeof(errs));
        kc_consumer_t *c;
        kc_msg_t in;
        int64_t start, took;

        cr_assert_not_null(cfg, "%s", errs);
        c = kc_consumer_new(cfg, -1, errs, sizeof(errs));
        cr_assert_not_null(c, "%s", errs);
        /* a worker that ran a moment and never reached a broker */
        start = hb_time_mono_ms();
        while (hb_time_mono_ms() - start < 500) {
                if (kc_consumer_poll(c, &in))
                        kc_msg_release(&in);
                kc_consumer_wait(c, 50);
        }
        start = hb_time_mono_ms();
        kc_consumer_destroy(c);
        took = hb_time_mono_ms() - start;
        cr_assert_lt(took, 3000, "kc_consumer_destroy took %lld ms",
                     (long long)took);
        cfg_destroy(cfg);
}
