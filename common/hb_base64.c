/* hb_base64: standard base64 encoding and strict decoding (RFC 4648). */
#include "hb_base64.h"

static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* @returns the 6-bit value of \p c, or -1 when it is not in the
 * alphabet. */
static int sextet(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int hb_base64_decode(const char *in, size_t n, unsigned char *out,
                     size_t out_size, size_t *out_len)
{
        size_t pad = 0, len, o = 0;
        unsigned long acc = 0;
        int bits = 0;

        while (n > 0 && in[n - 1] == '=') {
                n--;
                pad++;
        }
        if (n == 0 || pad > 2 || n % 4 == 1)
                return -1;
        len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
        if (out && len > out_size)
                return -1;
        for (size_t i = 0; i < n; i++) {
                int v = sextet((unsigned char)in[i]);
                if (v < 0)
                        return -1;
                acc = (acc << 6 | (unsigned long)v) & 0xffffff;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (out)
                                out[o] = (unsigned char)(acc >> bits);
                        o++;
                }
        }
        *out_len = len; /* == o: the bits left over are dropped */
        return 0;
}

size_t hb_base64_encode(const unsigned char *in, size_t n, char *out,
                        size_t out_size)
{
        size_t len, o = 0, i = 0;

        len = n / 3 < ((size_t)-1) / 4 - 1 ? HB_BASE64_ENCODED_LEN(n) : 0;
        if (!len && n) /* too long to count */
                len = (size_t)-1;
        if (out_size <= len) {
                if (out_size > 0)
                        out[0] = '\0';
                return 0;
        }
        for (; i + 2 < n; i += 3) {
                unsigned long v = (unsigned long)in[i] << 16 |
                                  (unsigned long)in[i + 1] << 8 | in[i + 2];
                out[o++] = alphabet[v >> 18 & 63];
                out[o++] = alphabet[v >> 12 & 63];
                out[o++] = alphabet[v >> 6 & 63];
                out[o++] = alphabet[v & 63];
        }
        if (i < n) {
                unsigned long v = (unsigned long)in[i] << 16;
                if (i + 1 < n)
                        v |= (unsigned long)in[i + 1] << 8;
                out[o++] = alphabet[v >> 18 & 63];
                out[o++] = alphabet[v >> 12 & 63];
                out[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
                out[o++] = '=';
        }
        out[o] = '\0';
        return o;
}
