/* Tests for hb_hash: the one FNV-1a, against the published 64-bit
 * FNV-1a vectors, and its continuation across parts. */
#include <criterion/criterion.h>

#include <string.h>

#include "hb_hash.h"

/* From the FNV reference test suite (draft-eastlake-fnv, fnv_test.c). */
static const struct {
        const char *in;
        unsigned long long want;
} vectors[] = {
        {"", 0xcbf29ce484222325ULL},
        {"a", 0xaf63dc4c8601ec8cULL},
        {"b", 0xaf63df4c8601f1a5ULL},
        {"c", 0xaf63de4c8601eff2ULL},
        {"foo", 0xdcb27518fed9d577ULL},
        {"foobar", 0x85944171f73967e8ULL},
        {"chongo was here!\n", 0x46810940eff5f915ULL},
};

Test(hash, fnv1a_64_published_vectors)
{
        for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
                uint64_t h = hb_hash_fnv1a(HB_HASH_FNV1A_INIT, vectors[i].in,
                                           strlen(vectors[i].in));
                cr_expect_eq(h, vectors[i].want, "\"%s\": %016llx, not %016llx",
                             vectors[i].in, (unsigned long long)h,
                             vectors[i].want);
        }
}

Test(hash, fnv1a_continues_across_parts)
{
        const char *s = "chongo was here!\n";
        size_t n = strlen(s);

        for (size_t cut = 0; cut <= n; cut++) {
                uint64_t h = hb_hash_fnv1a(HB_HASH_FNV1A_INIT, s, cut);
                h = hb_hash_fnv1a(h, s + cut, n - cut);
                cr_expect_eq(h, 0x46810940eff5f915ULL, "cut at %zu", cut);
        }
        /* "foo" then "bar" is "foobar"; no bytes changes nothing */
        cr_expect_eq(hb_hash_fnv1a(hb_hash_fnv1a(HB_HASH_FNV1A_INIT, "foo", 3),
                                   "bar", 3),
                     0x85944171f73967e8ULL);
        cr_expect_eq(hb_hash_fnv1a(12345, "x", 0), 12345);
}
