/*
 * fuzz_imap -- libFuzzer target for the check of an IMAP server's bytes
 * (mail/imap_scan.h): the input is scanned whole and in pieces cut where
 * its first bytes say; the verdict and the refused size must not depend
 * on how the stream was cut, and a refused literal must be over the
 * limit.  Each piece is handed over in a buffer of exactly its size.
 */
#include "config.h"
#include "mail/imap_scan.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LITERAL 4096
#define MAX_LINE 512
#define MAX_DEPTH 16

static enum imap_scan_verdict scan(const uint8_t *data, size_t size, size_t step, struct imap_scan *sc)
{
    imap_scan_init(sc, MAX_LITERAL, MAX_LINE, MAX_DEPTH);
    enum imap_scan_verdict v = IMAP_SCAN_OK;
    for (size_t i = 0; i < size; i += step) {
        size_t k = size - i < step ? size - i : step;
        char *piece = malloc(k);
        memcpy(piece, data + i, k);
        v = imap_scan_feed(sc, piece, k);
        free(piece);
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct imap_scan whole, cut;
    size_t step = (size_t)data[0] % 17 + 1;
    enum imap_scan_verdict a = scan(data + 1, size - 1, size, &whole);
    enum imap_scan_verdict b = scan(data + 1, size - 1, step, &cut);
    assert(a == b);
    assert(whole.refused_literal == cut.refused_literal);
    if (a == IMAP_SCAN_LITERAL_TOO_LARGE)
        assert(whole.refused_literal > MAX_LITERAL);
    assert(whole.depth <= MAX_DEPTH + 1 && whole.line_len <= MAX_LINE + 1);
    assert(whole.literal_left <= MAX_LITERAL);
    return 0;
}
