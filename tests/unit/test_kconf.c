/* Unit tests: hb_kconf, the one way hookbridge builds a librdkafka
 * configuration (order of the lists, errors, no list cut short). */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hb_kconf.h"

static const char *get(rd_kafka_conf_t *conf, const char *name)
{
        static char v[512];
        size_t n = sizeof(v);

        cr_assert_eq(rd_kafka_conf_get(conf, name, v, &n), RD_KAFKA_CONF_OK,
                     "%s", name);
        return v;
}

Test(kconf, defaults_then_properties_then_fixed_then_more)
{
        static const hb_kconf_kv_t defaults[] = {
                {"client.id", "hookbridge-default"},
                {"queued.min.messages", "1000"},
        };
        static const hb_kconf_kv_t fixed[] = {
                {"enable.auto.commit", "false"},
                {"fetch.wait.max.ms", "200"},
        };
        static const hb_kconf_kv_t more[] = {
                {"fetch.wait.max.ms", "100"},
        };
        const char *names[] = {"client.id", "enable.auto.commit"};
        const char *values[] = {"operator", "true"};
        const hb_kconf_set_t set = {.defaults = defaults,
                                    .ndefaults = 2,
                                    .fixed = fixed,
                                    .nfixed = 2,
                                    .more = more,
                                    .nmore = 1};
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[256] = "";

        cr_assert_eq(
                hb_kconf_apply(conf, &set, names, values, 2, err, sizeof(err)),
                0, "%s", err);
        cr_expect_str_eq(get(conf, "client.id"), "operator");
        cr_expect_str_eq(get(conf, "queued.min.messages"), "1000");
        /* a guarantee is not weakened by kafka.properties */
        cr_expect_str_eq(get(conf, "enable.auto.commit"), "false");
        /* more comes last */
        cr_expect_str_eq(get(conf, "fetch.wait.max.ms"), "100");
        rd_kafka_conf_destroy(conf);
}

/* The lag reader once copied its lists into a fixed[16] and silently left
 * out what did not fit: every entry of a long list is applied. */
Test(kconf, long_lists_are_applied_whole)
{
        static const hb_kconf_kv_t fixed[] = {
                {"enable.auto.commit", "false"},
                {"enable.auto.offset.store", "false"},
                {"allow.auto.create.topics", "false"},
                {"bootstrap.servers", "127.0.0.1:1"},
                {"group.id", "g"},
        };
        static const hb_kconf_kv_t more[] = {
                {"enable.partition.eof", "true"},
                {"auto.offset.reset", "smallest"}, /* as it reads back */
                {"fetch.wait.max.ms", "101"},
                {"max.partition.fetch.bytes", "1025"},
                {"queued.min.messages", "2"},
                {"session.timeout.ms", "45001"},
                {"heartbeat.interval.ms", "3001"},
                {"socket.timeout.ms", "60001"},
                {"metadata.max.age.ms", "900001"},
                {"topic.metadata.refresh.interval.ms", "300001"},
                {"reconnect.backoff.ms", "101"},
                {"reconnect.backoff.max.ms", "10001"},
                {"fetch.min.bytes", "2"},
                {"fetch.error.backoff.ms", "501"},
                {"statistics.interval.ms", "1001"},
                {"receive.message.max.bytes", "100000001"},
                {"coordinator.query.interval.ms", "600001"},
                {"max.poll.interval.ms", "300001"},
                {"auto.commit.interval.ms", "5001"},
                {"client.id", "last-of-twenty"},
        };
        const size_t nmore = sizeof(more) / sizeof(more[0]);
        const hb_kconf_set_t set = {
                .fixed = fixed, .nfixed = 5, .more = more, .nmore = nmore};
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[256] = "";

        cr_assert_eq(nmore, 20);
        cr_assert_eq(
                hb_kconf_apply(conf, &set, NULL, NULL, 0, err, sizeof(err)), 0,
                "%s", err);
        for (size_t i = 0; i < 5; i++)
                cr_expect_str_eq(get(conf, fixed[i].name), fixed[i].value);
        for (size_t i = 0; i < nmore; i++)
                cr_expect_str_eq(get(conf, more[i].name), more[i].value);
        rd_kafka_conf_destroy(conf);
}

Test(kconf, a_refusal_names_its_list_and_key)
{
        static const hb_kconf_kv_t bad[] = {{"fetch.wait.max.ms", "x"}};
        const char *names[] = {"no.such.setting"};
        const char *values[] = {"1"};
        hb_kconf_set_t set = {.more = bad, .nmore = 1};
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[256] = "";

        cr_expect_eq(
                hb_kconf_apply(conf, &set, NULL, NULL, 0, err, sizeof(err)),
                -1);
        cr_expect_eq(strncmp(err, "kafka: fetch.wait.max.ms: ", 26), 0, "%s",
                     err);
        set.nmore = 0;
        cr_expect_eq(
                hb_kconf_apply(conf, &set, names, values, 1, err, sizeof(err)),
                -1);
        cr_expect_eq(strncmp(err, "kafka.properties: no.such.setting: ", 35), 0,
                     "%s", err);
        rd_kafka_conf_destroy(conf);
}
