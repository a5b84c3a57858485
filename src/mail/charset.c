/* mail/charset.c -- see mail/charset.h. */
#include "config.h"
#include "mail/charset.h"
#include "lib/util.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uchardet/uchardet.h>

/* Labels seen in mail, mapped to what iconv should really use.  Supersets
 * win: a message labelled gb2312 is very often GBK/GB18030 text. */
static const struct { const char *label, *iconv; } aliases[] = {
    { "us-ascii", "WINDOWS-1252" }, { "ascii", "WINDOWS-1252" },
    { "ansi_x3.4-1968", "WINDOWS-1252" }, { "iso-8859-1", "WINDOWS-1252" },
    { "iso8859-1", "WINDOWS-1252" }, { "latin1", "WINDOWS-1252" }, { "latin-1", "WINDOWS-1252" },
    { "l1", "WINDOWS-1252" }, { "x-user-defined", "WINDOWS-1252" }, { "cp819", "WINDOWS-1252" },
    { "utf8", "UTF-8" }, { "utf-8", "UTF-8" }, { "x-unknown", "" }, { "unknown-8bit", "" },
    { "gb2312", "GB18030" }, { "gbk", "GB18030" }, { "x-gbk", "GB18030" }, { "cp936", "GB18030" },
    { "euc-cn", "GB18030" }, { "x-euc-cn", "GB18030" }, { "gb_2312-80", "GB18030" },
    { "euc-kr", "CP949" }, { "ks_c_5601-1987", "CP949" }, { "ks_c_5601", "CP949" },
    { "korean", "CP949" }, { "x-windows-949", "CP949" },
    { "shift_jis", "CP932" }, { "shift-jis", "CP932" }, { "sjis", "CP932" }, { "x-sjis", "CP932" },
    { "ms_kanji", "CP932" }, { "windows-31j", "CP932" },
    { "iso-2022-jp", "ISO-2022-JP-2" }, { "csiso2022jp", "ISO-2022-JP-2" },
    { "big5", "BIG5-HKSCS" }, { "x-x-big5", "BIG5-HKSCS" }, { "cn-big5", "BIG5-HKSCS" },
    { "tis-620", "CP874" }, { "windows-874", "CP874" }, { "iso-8859-11", "CP874" },
    { "unicode-1-1-utf-7", "UTF-7" }, { "utf-7", "UTF-7" },
    { "iso-8859-8-i", "ISO-8859-8" }, { "iso-8859-6-i", "ISO-8859-6" },
    { "x-mac-roman", "MACINTOSH" }, { "macintosh", "MACINTOSH" },
    { "ucs-2", "UCS-2BE" }, { "utf-16", "UTF-16" },
};

const char *charset_canonical(const char *label, char *buf, size_t size)
{
    char low[64];
    size_t n = 0;
    if (label == NULL)
        label = "";
    while (*label == ' ' || *label == '"' || *label == '\'')
        label++;
    for (; *label && n + 1 < sizeof(low); label++) {
        if (*label == '"' || *label == '\'' || *label == ' ' || *label == '*')
            break;
        low[n++] = (char)tolower((unsigned char)*label);
    }
    low[n] = '\0';
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strcmp(low, aliases[i].label) == 0) {
            snprintf(buf, size, "%s", aliases[i].iconv);
            return buf;
        }
    }
    /* "windows-1252" -> "WINDOWS-1252": iconv takes most MIME names as they are */
    for (size_t i = 0; i <= n && i < size; i++)
        buf[i] = (char)toupper((unsigned char)low[i]);
    if (size > 0)
        buf[size - 1] = '\0';
    return buf;
}

static const char replacement[] = "\xEF\xBF\xBD";

/* Length of the valid UTF-8 sequence at p (0 if invalid). */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    size_t n;
    if (c < 0x80) return c ? 1 : 0;
    else if ((c & 0xE0) == 0xC0) n = 2;
    else if ((c & 0xF0) == 0xE0) n = 3;
    else if ((c & 0xF8) == 0xF0) n = 4;
    else return 0;
    if (avail < n || !str_utf8_valid((const char *)p, n))
        return 0;
    return n;
}

void utf8_sanitize_append(struct strbuf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len) {
            size_t n = utf8_seq(p + i, len - i);
            if (n == 0)
                break;
            i += n;
        }
        strbuf_add(out, s + start, i - start);
        if (i < len) {
            strbuf_add(out, replacement, 3);
            i++;
        }
    }
}

static bool all_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80 || s[i] == 0x1b)   /* ESC: iso-2022-* */
            return false;
    return true;
}

/* iconv with U+FFFD for what does not decode.  -1 if iconv cannot open. */
static int convert(const char *in, size_t len, const char *from, struct strbuf *out, size_t *bad)
{
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1)
        return -1;
    char *ip = (char *)in;
    size_t il = len;
    struct strbuf tmp = STRBUF_INIT;
    strbuf_reserve(&tmp, len * 2 + 16);
    while (il > 0) {
        strbuf_reserve(&tmp, il * 4 + 16);
        char *op = tmp.s + tmp.len;
        size_t ol = tmp.cap - tmp.len - 1;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        tmp.len = (size_t)(op - tmp.s);
        if (r != (size_t)-1)
            break;
        if (errno == E2BIG)
            continue;
        /* EILSEQ or EINVAL (truncated at the end): one byte becomes U+FFFD */
        strbuf_add(&tmp, replacement, 3);
        (*bad)++;
        ip++;
        il--;
        iconv(cd, NULL, NULL, NULL, NULL);   /* reset shift state */
    }
    /* flush shift state (iso-2022-*) */
    strbuf_reserve(&tmp, 16);
    char *op = tmp.s + tmp.len;
    size_t ol = tmp.cap - tmp.len - 1;
    iconv(cd, NULL, NULL, &op, &ol);
    tmp.len = (size_t)(op - tmp.s);
    iconv_close(cd);
    /* iconv output is UTF-8, but may carry NUL from the input */
    utf8_sanitize_append(out, tmp.s ? tmp.s : "", tmp.len);
    strbuf_free(&tmp);
    return 0;
}

static const char *guess(const char *in, size_t len, char *buf, size_t size)
{
    uchardet_t ud = uchardet_new();
    const char *cs = NULL;
    if (ud != NULL && uchardet_handle_data(ud, in, len) == 0) {
        uchardet_data_end(ud);
        cs = uchardet_get_charset(ud);
        if (cs != NULL && *cs != '\0' && strcasecmp(cs, "ASCII") != 0)
            snprintf(buf, size, "%s", cs);
        else
            cs = NULL;
    }
    if (ud)
        uchardet_delete(ud);
    return cs ? buf : NULL;
}

int charset_to_utf8(const char *in, size_t len, const char *declared, struct strbuf *out,
                    struct charset_result *res)
{
    char canon[64] = "";
    memset(res, 0, sizeof(*res));
    if (declared != NULL && *declared != '\0')
        charset_canonical(declared, canon, sizeof(canon));
    bool declared_weak = canon[0] == '\0' || strcmp(canon, "WINDOWS-1252") == 0
                         || strcmp(canon, "UTF-8") == 0;

    if (all_ascii(in, len)) {
        utf8_sanitize_append(out, in, len);
        snprintf(res->used, sizeof(res->used), "US-ASCII");
        return 0;
    }
    /* A label that promises ASCII/Latin-1 (or nothing) over bytes that
     * are valid UTF-8 is a mislabel: UTF-8 by chance is vanishingly rare. */
    if (declared_weak && str_utf8_valid(in, len)) {
        utf8_sanitize_append(out, in, len);
        snprintf(res->used, sizeof(res->used), "UTF-8");
        res->guessed = canon[0] != '\0' && strcmp(canon, "UTF-8") != 0;
        return 0;
    }
    if (canon[0] != '\0' && strcmp(canon, "UTF-8") != 0) {
        size_t bad = 0;
        if (convert(in, len, canon, out, &bad) == 0) {
            snprintf(res->used, sizeof(res->used), "%s", canon);
            res->bad = bad;
            return 0;
        }
        res->unknown_declared = true;
        if (str_utf8_valid(in, len)) {
            utf8_sanitize_append(out, in, len);
            snprintf(res->used, sizeof(res->used), "UTF-8");
            res->guessed = true;
            return 0;
        }
    }
    /* Unlabelled, mislabelled as UTF-8, or a label iconv does not know. */
    char g[64];
    const char *cs = guess(in, len, g, sizeof(g));
    size_t bad = 0;
    res->guessed = true;
    if (cs != NULL && convert(in, len, charset_canonical(cs, g, sizeof(g)), out, &bad) == 0) {
        snprintf(res->used, sizeof(res->used), "%s", g);
        res->bad = bad;
        return 0;
    }
    convert(in, len, "WINDOWS-1252", out, &bad);
    snprintf(res->used, sizeof(res->used), "WINDOWS-1252");
    res->bad = bad;
    return 0;
}
