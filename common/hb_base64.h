/* hb_base64: standard base64 (RFC 4648 section 4), the one codec: the
 * signing keys written `whsec_<base64>`, the configuration's check of
 * them, and the signatures. */
#ifndef HB_BASE64_H
#define HB_BASE64_H

#include <stddef.h>

/** The most bytes that decoding \p n characters can give. */
#define HB_BASE64_DECODED_MAX(n) ((n) / 4 * 3 + 2)

/** The characters (without the NUL) that encoding \p n bytes writes. */
#define HB_BASE64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)

/**
 * @brief Decode standard base64 \p in[0, n) (no NUL needed).
 *
 * The alphabet is A-Z a-z 0-9 + /; '=' padding is optional, and when
 * present stands only at the end, at most twice. Nothing else is skipped
 * or allowed: no blanks, no line breaks, no URL-safe '-' and '_'. An
 * input that decodes to nothing (empty, or padding alone) is refused, and
 * so is a length that no byte count encodes to (4k+1 characters).
 *
 * @param out where the bytes go, or NULL to check \p in only.
 * @param out_size room at \p out (HB_BASE64_DECODED_MAX(n) is enough).
 * @returns 0 with the number of bytes in \p *out_len, or -1 (also when
 *          \p out is too small; nothing past \p out_size is written).
 */
int hb_base64_decode(const char *in, size_t n, unsigned char *out,
                     size_t out_size, size_t *out_len);

/**
 * @brief Encode \p in[0, n) as padded standard base64 with a NUL.
 * @returns the length written (HB_BASE64_ENCODED_LEN(n)), or 0 when
 *          \p out_size has no room for it and its NUL (\p out is then
 *          left empty when \p out_size > 0).
 */
size_t hb_base64_encode(const unsigned char *in, size_t n, char *out,
                        size_t out_size);

#endif
