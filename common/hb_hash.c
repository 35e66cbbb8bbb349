/* hb_hash: the one FNV-1a (64 bits) of the tree (see the header). */
#include "hb_hash.h"

#define FNV1A_PRIME 1099511628211ULL

uint64_t hb_hash_fnv1a(uint64_t seed, const void *p, size_t len)
{
        const unsigned char *s = p;
        uint64_t h = seed;

        for (size_t i = 0; i < len; i++)
                h = (h ^ s[i]) * FNV1A_PRIME;
        return h;
}
