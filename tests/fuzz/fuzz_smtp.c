/*
 * fuzz_smtp -- libFuzzer target for the SMTP/LMTP protocol parser
 * (mail/smtp_proto.h): every line of the input as a command line, then
 * the whole input as a DATA stream (dot-unstuffing, end marker, size and
 * line limits), with the invariants the listener relies on.
 *
 * Each line is handed over in a buffer of exactly its length, without a
 * NUL, as the header promises "bounded buffers": ASan catches over-reads.
 */
#include "config.h"
#include "mail/smtp_proto.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void command(const char *line, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, line, len);
    struct smtp_cmd cmd;
    char reply[512];
    reply[0] = '\0';
    if (smtp_parse_command(copy, len, &cmd, reply, sizeof(reply)) == 0) {
        assert(cmd.verb != SMTP_UNKNOWN);
        assert(memchr(cmd.arg, '\0', sizeof(cmd.arg)) != NULL);
        assert(memchr(cmd.path, '\0', sizeof(cmd.path)) != NULL);
        assert(cmd.size >= -1);
        if (cmd.verb == SMTP_RCPT)
            assert(cmd.path[0] != '\0' && strchr(cmd.path, '@') != NULL);
    } else {
        /* a full reply: three digits, a space, text */
        assert(strlen(reply) > 4 && reply[0] >= '4' && reply[0] <= '5' && reply[3] == ' ');
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *end = s + size;
    for (const char *p = s; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        command(p, (size_t)(next - p));
        p = next;
    }

    struct strbuf out = STRBUF_INIT;
    struct smtp_data d;
    size_t max_size = size > 0 ? (size_t)data[0] * 8 : 0;
    smtp_data_init(&d, &out, max_size, 40);
    /* the stream in pieces cut where the input has a '\n' (as a client's
     * writes may arrive), each in a buffer of exactly its size */
    size_t taken = 0;
    for (const char *p = s; p < end && d.state == SMTP_DATA_MORE;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        size_t len = (size_t)(next - p);
        char *copy = malloc(len ? len : 1);
        if (len)
            memcpy(copy, p, len);
        size_t k = smtp_data_feed(&d, copy, len);
        free(copy);
        assert(k <= len);
        assert(k == len || d.state != SMTP_DATA_MORE);
        taken += k;
        p = next;
    }
    assert(out.len <= d.total);
    assert(out.len <= max_size);
    assert(d.too_big == (d.total > max_size));
    if (d.state == SMTP_DATA_END) {
        /* it ended on CRLF "." CRLF and kept no CR or LF outside a CRLF */
        assert(taken >= 3 && memcmp(s + taken - 3, ".\r\n", 3) == 0);
        assert(taken == 3 || (taken >= 5 && memcmp(s + taken - 5, "\r\n", 2) == 0));
        for (size_t i = 0; i < out.len; i++) {
            if (out.s[i] == '\r')
                assert(i + 1 < out.len && out.s[i + 1] == '\n');
            if (out.s[i] == '\n')
                assert(i > 0 && out.s[i - 1] == '\r');
        }
    }
    strbuf_free(&out);
    return 0;
}
