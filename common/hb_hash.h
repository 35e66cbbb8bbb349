/* hb_hash: the one FNV-1a (64 bits) of the tree: the hash tables' key
 * hash and the portal's ETag. Continuable, so a key of several parts
 * hashes part after part without being joined first. */
#ifndef HB_HASH_H
#define HB_HASH_H

#include <stddef.h>
#include <stdint.h>

/** FNV-1a's 64-bit offset basis: the seed of a new hash. */
#define HB_HASH_FNV1A_INIT 14695981039346656037ULL

/**
 * @brief FNV-1a (64 bits) of \p len bytes of \p p, continued from
 *        \p seed: HB_HASH_FNV1A_INIT for a new hash, or what an earlier
 *        call returned to hash the next part of the same key.
 * @returns the hash (FNV-1a of all parts, as if they were one).
 */
uint64_t hb_hash_fnv1a(uint64_t seed, const void *p, size_t len);

#endif
