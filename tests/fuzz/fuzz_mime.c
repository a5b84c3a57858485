/*
 * fuzz_mime -- libFuzzer target for the MIME normaliser: any bytes through
 * mail_parse() (header repair, libetpan's MIME tree, charsets, HTML
 * sanitising, quote splitting, robot detection) and the JSON summary that
 * `atumctl inbound show` prints.
 *
 * The input is copied into a buffer of exactly its size, without a NUL
 * after it, so ASan catches a parser that reads past the mail.
 * Built and run by tests/fuzz/fuzz.sh (clang -fsanitize=fuzzer,...).
 */
#include "config.h"
#include "mail/mime.h"
#include "mail/summary.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = malloc(size ? size : 1);
    if (size)
        memcpy(raw, data, size);
    struct mail_limits lim;
    mail_limits_default(&lim);
    /* small limits too, so the limit paths are reached by small inputs */
    if (size > 0 && (data[0] & 1)) {
        lim.max_parts = 8;
        lim.max_depth = 3;
        lim.max_attachment = 64;
        lim.max_header_bytes = 512;
    }
    struct mail_msg *m = mail_parse(raw, size, &lim);
    assert(m != NULL);
    assert(m->subject != NULL);
    for (size_t i = 0; i < m->natt; i++)
        assert(m->att[i].filename != NULL && m->att[i].filename[0] != '\0');
    json_t *s = mail_summary_json(m);
    assert(s != NULL);
    char *dump = json_dumps(s, JSON_COMPACT);
    assert(dump != NULL);            /* summary is stored as jsonb: must serialise */
    free(dump);
    json_decref(s);
    mail_msg_free(&m);
    assert(m == NULL);
    free(raw);
    return 0;
}
