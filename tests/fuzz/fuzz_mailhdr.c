/*
 * fuzz_mailhdr -- libFuzzer target for the header parser on its own:
 * mailhdr_prepare() (lenient header block: whitespace-only lines, lost
 * folding, bare CR, mbox From_ lines, the size limit), mailhdr_parse_block(),
 * the address and Message-ID readers on every value, and the decoders that
 * turn a value into text (RFC 2047 words, raw 8-bit and ISO-2022 bytes).
 *
 * Checks, besides ASan/UBSan: every header has a name, the buffer for the
 * MIME parser ends its header block, and every decoded value is valid
 * UTF-8 without NUL.  The input is copied into a buffer of exactly its
 * size, so a read past the end is caught.  Seeds: tests/fuzz/corpus/mailhdr
 * (folding cases).  Built and run by tests/fuzz/fuzz.sh.
 */
#include "config.h"
#include "mail/charset.h"
#include "mail/mailhdr.h"
#include "mail/rfc2047.h"
#include "lib/util.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void utf8_clean(const struct strbuf *b)
{
    assert(b->len == 0 || str_utf8_valid(b->s, b->len));
    assert(b->len == 0 || memchr(b->s, '\0', b->len) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = malloc(size ? size : 1);
    if (size)
        memcpy(raw, data, size);
    /* a small limit too, so the cut is reached by small inputs */
    size_t limit = size > 0 && (data[0] & 1) ? 256 : 1024 * 1024;
    static const char *const hints[] = { NULL, "iso-2022-jp", "iso-8859-1", "us-ascii", "utf-7", "koi8-r" };
    const char *hint = hints[size > 1 ? data[1] % 6 : 0];

    struct strbuf parsebuf = STRBUF_INIT, problems = STRBUF_INIT;
    struct mail_headers h = { NULL, 0 };
    mailhdr_prepare(raw, size, limit, &parsebuf, &h, &problems);
    assert(parsebuf.s != NULL && parsebuf.len > 0);
    for (size_t i = 0; i < h.n; i++) {
        const char *v = h.v[i].value;
        assert(h.v[i].name != NULL && h.v[i].name[0] != '\0');
        assert(v != NULL);
        struct strbuf a = STRBUF_INIT, d = STRBUF_INIT, lines = STRBUF_INIT, out = STRBUF_INIT;
        mailhdr_first_address(v, &a, &d);
        mailhdr_first_address(v, &a, NULL);
        mailhdr_addresses(v, &lines);
        mailhdr_msgids(v, &lines);
        mailhdr_collapse_ws(v, &lines);
        struct rfc2047_report rep;
        rfc2047_decode_report(v, strlen(v), hint, &out, &rep);
        utf8_clean(&out);
        strbuf_reset(&out);
        struct charset_result r;
        charset_header_to_utf8(v, strlen(v), hint, &out, &r);
        utf8_clean(&out);
        strbuf_free(&a);
        strbuf_free(&d);
        strbuf_free(&lines);
        strbuf_free(&out);
    }
    mailhdr_free(&h);
    assert(h.v == NULL && h.n == 0);

    /* the same bytes as a nested header block (message/rfc822 parts) */
    mailhdr_parse_block(raw, size, limit, &h, &problems);
    mailhdr_free(&h);
    strbuf_free(&parsebuf);
    strbuf_free(&problems);
    free(raw);
    return 0;
}
