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
    { "iso-2022-jp-ms", "ISO-2022-JP-2" }, { "cp50220", "ISO-2022-JP-2" }, { "cp50221", "ISO-2022-JP-2" },
    { "euc-jp", "EUC-JP-MS" }, { "x-euc-jp", "EUC-JP-MS" }, { "eucjp", "EUC-JP-MS" }, { "cp51932", "EUC-JP-MS" },
    { "big5", "BIG5-HKSCS" }, { "x-x-big5", "BIG5-HKSCS" }, { "cn-big5", "BIG5-HKSCS" },
    { "tis-620", "CP874" }, { "windows-874", "CP874" }, { "iso-8859-11", "CP874" },
    { "unicode-1-1-utf-7", "UTF-7" }, { "utf-7", "UTF-7" }, { "x-unicode-2-0-utf-7", "UTF-7" },
    { "csunicode11utf7", "UTF-7" }, { "unicode-2-0-utf-7", "UTF-7" },
    { "iso-8859-8-i", "ISO-8859-8" }, { "iso-8859-6-i", "ISO-8859-6" },
    { "x-mac-roman", "MACINTOSH" }, { "macintosh", "MACINTOSH" },
    { "x-mac-cyrillic", "MAC-CYRILLIC" }, { "x-mac-ukrainian", "MACUKRAINIAN" },
    { "x-mac-ce", "MAC-CENTRALEUROPE" }, { "koi8r", "KOI8-R" }, { "x-koi8-r", "KOI8-R" },
    { "x-cp1251", "CP1251" }, { "cp-1251", "CP1251" }, { "win-1251", "CP1251" },
    { "hz-gb-2312", "HZ-GB-2312" }, { "hz", "HZ-GB-2312" }, { "x-gb2312", "GB18030" },
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

/* ISO-2022-JP as Japanese mail really uses it (Windows' CP50221: NEC
 * special characters such as (1) in row 13, half-width katakana after
 * ESC ( I) is EUC-JP-MS with the high bit stripped; glibc's ISO-2022-JP-2
 * refuses those characters.  Re-set the high bit and let iconv read
 * EUC-JP-MS.  Returns -1 when the text designates a set outside Japanese
 * (ISO-2022-JP-2's Chinese, Korean, Latin sets): iconv's decoder then. */
static int jis_to_eucjp(const char *in, size_t len, struct strbuf *out)
{
    enum { ASCII, KANJI, KANA, SUPPL } mode = ASCII;
    strbuf_reserve(out, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == 0x1b) {
            char a = i + 1 < len ? in[i + 1] : 0, b = i + 2 < len ? in[i + 2] : 0;
            char d = i + 3 < len ? in[i + 3] : 0;
            if (a == '(' && (b == 'B' || b == 'J')) {
                mode = ASCII;
                i += 2;
            } else if (a == '(' && b == 'I') {
                mode = KANA;
                i += 2;
            } else if (a == '$' && (b == 'B' || b == '@')) {
                mode = KANJI;
                i += 2;
            } else if (a == '$' && b == '(' && (d == 'B' || d == '@' || d == 'Q')) {
                mode = KANJI;      /* ESC $ ( B: the same set, long form */
                i += 3;
            } else if (a == '$' && b == '(' && d == 'D') {
                mode = SUPPL;      /* JIS X 0212 */
                i += 3;
            } else if (i + 3 >= len && (a == '\0' || a == '(' || a == '$')) {
                break;             /* an escape cut off at the very end */
            } else {
                return -1;
            }
            continue;
        }
        if (c == '\n' || c == '\r') {
            mode = ASCII;          /* a line never continues a shift */
            strbuf_addc(out, (char)c);
            continue;
        }
        if (mode == ASCII || c < 0x21 || c > 0x7e) {
            strbuf_addc(out, (char)c);
        } else if (mode == KANA) {
            strbuf_addc(out, (char)0x8e);
            strbuf_addc(out, (char)(c | 0x80));
        } else if (i + 1 < len && (unsigned char)in[i + 1] >= 0x21 && (unsigned char)in[i + 1] <= 0x7e) {
            if (mode == SUPPL)
                strbuf_addc(out, (char)0x8f);
            strbuf_addc(out, (char)(c | 0x80));
            strbuf_addc(out, (char)(in[i + 1] | 0x80));
            i++;
        } else {
            strbuf_addc(out, (char)c);   /* half a character: iconv flags it */
        }
    }
    return 0;
}

/* HZ (RFC 1843, old Chinese mail and news): "~{" starts GB2312 pairs
 * written with the high bit cleared, "~}" ends them, "~~" is a tilde and
 * "~" at a line end joins lines.  glibc has no HZ; this makes GB bytes. */
static void hz_to_gb(const char *in, size_t len, struct strbuf *out)
{
    bool gb = false;
    strbuf_reserve(out, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '~' && i + 1 < len) {
            char n = in[i + 1];
            if (n == '{' || n == '}') {
                gb = n == '{';
                i++;
                continue;
            }
            if (n == '~' && !gb) {
                strbuf_addc(out, '~');
                i++;
                continue;
            }
            if (n == '\n') {
                i++;
                continue;
            }
        }
        if (c == '\n')
            gb = false;
        if (gb && c >= 0x21 && c <= 0x7e && i + 1 < len) {
            strbuf_addc(out, (char)(c | 0x80));
            strbuf_addc(out, (char)(in[i + 1] | 0x80));
            i++;
        } else {
            strbuf_addc(out, (char)c);
        }
    }
}

/* convert() with the Japanese ISO-2022 family read as CP50221 does, and
 * HZ read through GB18030. */
static int convert_charset(const char *in, size_t len, const char *from, struct strbuf *out, size_t *bad)
{
    if (strncmp(from, "HZ", 2) == 0) {
        struct strbuf gb = STRBUF_INIT;
        hz_to_gb(in, len, &gb);
        int r = convert(gb.s ? gb.s : "", gb.len, "GB18030", out, bad);
        strbuf_free(&gb);
        return r;
    }
    if (strncmp(from, "ISO-2022-JP", 11) == 0) {
        struct strbuf euc = STRBUF_INIT;
        int r = -1;
        if (jis_to_eucjp(in, len, &euc) == 0)
            r = convert(euc.s ? euc.s : "", euc.len, "EUC-JP-MS", out, bad);
        strbuf_free(&euc);
        if (r == 0)
            return 0;
    }
    return convert(in, len, from, out, bad);
}

/* How Japanese a decoding looks: kana and kanji score, half-width katakana
 * (what EUC-JP bytes become when read as Shift_JIS) and private-use or
 * replacement characters cost. */
static long japanese_score(const char *s, size_t len, size_t *kana_r)
{
    long score = 0;
    size_t kana = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; ) {
        unsigned cp;
        size_t n;
        if (p[i] < 0x80) {
            i++;
            continue;
        } else if ((p[i] & 0xE0) == 0xC0 && i + 1 < len) {
            cp = ((p[i] & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
            n = 2;
        } else if ((p[i] & 0xF0) == 0xE0 && i + 2 < len) {
            cp = ((p[i] & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
            n = 3;
        } else {
            cp = 0xFFFD;
            n = (p[i] & 0xF8) == 0xF0 ? 4 : 1;
        }
        if (cp >= 0x3041 && cp <= 0x30FA)
            kana++;
        if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3000 && cp <= 0x303F)
            || (cp >= 0xFF01 && cp <= 0xFF5E))
            score += 2;
        else if (cp >= 0xFF61 && cp <= 0xFF9F)
            score -= 1;
        else if ((cp >= 0xE000 && cp <= 0xF8FF) || cp == 0xFFFD || cp < 0x100)
            score -= 4;
        i += n;
    }
    if (kana_r != NULL)
        *kana_r = kana;
    return score;
}

/* Shift_JIS or EUC-JP: the one that decodes, and if both do, the one
 * that reads more like Japanese. */
static bool decode_japanese(const char *in, size_t len, struct strbuf *out, struct charset_result *res)
{
    static const char *const cands[] = { "CP932", "EUC-JP-MS" };
    struct strbuf best = STRBUF_INIT;
    long best_score = 0;
    const char *best_cs = NULL;
    for (size_t i = 0; i < 2; i++) {
        struct strbuf t = STRBUF_INIT;
        size_t bad = 0;
        if (convert(in, len, cands[i], &t, &bad) == 0 && bad == 0) {
            long sc = japanese_score(t.s ? t.s : "", t.len, NULL);
            if (best_cs == NULL || sc > best_score) {
                strbuf_free(&best);
                best = t;
                best_score = sc;
                best_cs = cands[i];
                continue;
            }
        }
        strbuf_free(&t);
    }
    if (best_cs == NULL)
        return false;
    strbuf_add(out, best.s ? best.s : "", best.len);
    snprintf(res->used, sizeof(res->used), "%s", best_cs);
    res->guessed = true;
    strbuf_free(&best);
    return true;
}

/* How Russian/Ukrainian a decoding looks: Cyrillic letters score; a
 * capital inside a lower-case word (KOI8-R read as Windows-1251 and back)
 * and symbols between letters (Mac Cyrillic's dashes and signs) cost. */
static long cyrillic_score(const char *s, size_t len)
{
    long score = 0;
    const unsigned char *p = (const unsigned char *)s;
    int prev = 0;            /* 0 other, 1 lower-case letter, 2 capital */
    for (size_t i = 0; i < len; ) {
        unsigned cp = p[i];
        size_t n = 1;
        if ((p[i] & 0xE0) == 0xC0 && i + 1 < len) {
            cp = ((p[i] & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
            n = 2;
        } else if ((p[i] & 0xF0) == 0xE0 && i + 2 < len) {
            cp = ((p[i] & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
            n = 3;
        } else if (p[i] >= 0x80) {
            cp = 0xFFFD;
        }
        bool lower = (cp >= 0x0430 && cp <= 0x045F) || (cp >= 'a' && cp <= 'z');
        bool upper = (cp >= 0x0400 && cp <= 0x042F) || (cp >= 'A' && cp <= 'Z');
        if (cp >= 0x0400 && cp <= 0x045F)
            score += 1;
        if (upper && prev == 1)
            score -= 3;
        if (!lower && !upper && cp >= 0x80 && prev != 0)
            score -= 3;
        prev = lower ? 1 : upper ? 2 : 0;
        i += n;
    }
    return score;
}

/* uchardet mixes up the single-byte Cyrillic charsets on short text and
 * takes short Japanese for Chinese: a second look at those families. */
static void refine_guess(const char *in, size_t len, char *buf, size_t size)
{
    static const char *const cyrillic[] = { "WINDOWS-1251", "KOI8-R", "KOI8-U", "MAC-CYRILLIC",
        "IBM866", "ISO-8859-5", "IBM855" };
    static const char *const cjk[] = { "BIG5", "GB18030", "EUC-KR", "UHC", "EUC-TW", "HZ-GB-2312" };
    bool is_cyr = false, is_cjk = false;
    for (size_t i = 0; i < sizeof(cyrillic) / sizeof(cyrillic[0]); i++)
        is_cyr = is_cyr || strcasecmp(buf, cyrillic[i]) == 0;
    for (size_t i = 0; i < sizeof(cjk) / sizeof(cjk[0]); i++)
        is_cjk = is_cjk || strcasecmp(buf, cjk[i]) == 0;
    if (is_cyr) {
        long best = 0;
        const char *pick = NULL;
        for (size_t i = 0; i < sizeof(cyrillic) / sizeof(cyrillic[0]); i++) {
            struct strbuf t = STRBUF_INIT;
            size_t bad = 0;
            if (convert(in, len, cyrillic[i], &t, &bad) == 0 && bad == 0) {
                long sc = cyrillic_score(t.s ? t.s : "", t.len);
                if (pick == NULL || sc > best) {
                    best = sc;
                    pick = cyrillic[i];
                }
            }
            strbuf_free(&t);
        }
        if (pick != NULL)
            snprintf(buf, size, "%s", pick);
    } else if (is_cjk) {
        /* kana: Chinese and Korean text has (almost) none */
        struct strbuf t = STRBUF_INIT;
        struct charset_result r;
        memset(&r, 0, sizeof(r));
        if (decode_japanese(in, len, &t, &r)) {
            size_t kana = 0;
            japanese_score(t.s ? t.s : "", t.len, &kana);
            size_t chars = 0;
            for (size_t i = 0; i < t.len; i++)
                chars += ((unsigned char)t.s[i] & 0xC0) != 0x80 && (unsigned char)t.s[i] >= 0x80;
            if (kana >= 2 && kana * 5 >= chars)
                snprintf(buf, size, "%s", r.used);
        }
        strbuf_free(&t);
    }
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
    if (cs != NULL)
        refine_guess(in, len, buf, size);
    return cs ? buf : NULL;
}

/* Charsets whose 7-bit bytes do not mean ASCII: "+AOk-" is "é" in UTF-7,
 * "~{" opens GB2312 in HZ, and UTF-16 is two bytes a character.  Text in
 * them must go through iconv even when every byte is below 0x80. */
static bool ascii_incompatible(const char *canon)
{
    static const char *const prefixes[] = { "UTF-7", "UTF7", "HZ", "UTF-16", "UTF16", "UTF-32",
        "UTF32", "UCS-2", "UCS2", "UCS-4", "UCS4", "ISO-2022", "CSISO2022" };
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(canon, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* The ISO-2022 flavour that 7-bit text announces with its escape
 * sequences (ESC $ B, ESC $ @, ESC ( J: Japanese; ESC $ ) C: Korean;
 * ESC $ A, ESC $ ) A, ESC $ ) G: Chinese), or NULL. */
const char *charset_iso2022_flavour(const char *in, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++) {
        if (in[i] != 0x1b)
            continue;
        char a = in[i + 1], b = in[i + 2], c = i + 3 < len ? in[i + 3] : '\0';
        if (a == '$' && (b == 'B' || b == '@'))
            return "ISO-2022-JP-2";
        if (a == '(' && (b == 'J' || b == 'I'))
            return "ISO-2022-JP-2";
        if (a == '$' && b == '(' && (c == 'D' || c == 'Q' || c == 'O'))
            return "ISO-2022-JP-3";
        if (a == '$' && b == ')' && c == 'C')
            return "ISO-2022-KR";
        if (a == '$' && (b == 'A' || (b == ')' && (c == 'A' || c == 'G' || c == 'E'))))
            return "ISO-2022-CN-EXT";
    }
    return NULL;
}

static bool has_8bit(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return true;
    return false;
}

static bool japanese_family(const char *canon);

/* The declared charset, unless it is Japanese and refuses bytes that
 * Shift_JIS or EUC-JP read cleanly (ISO-2022-JP labels over Shift_JIS
 * text are common in Japanese mail).  -1 when iconv does not know it. */
static int convert_declared(const char *in, size_t len, const char *canon, struct strbuf *out,
                            struct charset_result *res)
{
    struct strbuf t = STRBUF_INIT;
    size_t bad = 0;
    if (convert_charset(in, len, canon, &t, &bad) < 0) {
        strbuf_free(&t);
        return -1;
    }
    if (bad > 0 && japanese_family(canon) && decode_japanese(in, len, out, res)) {
        strbuf_free(&t);
        return 0;
    }
    strbuf_add(out, t.s ? t.s : "", t.len);
    strbuf_free(&t);
    snprintf(res->used, sizeof(res->used), "%s", canon);
    res->bad = bad;
    return 0;
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

    if (canon[0] != '\0' && ascii_incompatible(canon)) {
        if (convert_declared(in, len, canon, out, res) == 0)
            return 0;
        res->unknown_declared = true;
        declared_weak = true;
        canon[0] = '\0';
    }
    if (all_ascii(in, len)) {
        utf8_sanitize_append(out, in, len);
        snprintf(res->used, sizeof(res->used), "US-ASCII");
        return 0;
    }
    /* 7-bit text with ISO-2022 escapes under a label that cannot mean
     * them (none, us-ascii, latin-1, utf-8): the escapes say what it is */
    const char *flavour = declared_weak && !has_8bit(in, len) ? charset_iso2022_flavour(in, len) : NULL;
    if (flavour != NULL) {
        size_t bad = 0;
        if (convert_charset(in, len, flavour, out, &bad) == 0) {
            snprintf(res->used, sizeof(res->used), "%s", flavour);
            res->guessed = true;
            res->bad = bad;
            return 0;
        }
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
        if (convert_declared(in, len, canon, out, res) == 0)
            return 0;
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
    if (cs != NULL && convert_charset(in, len, charset_canonical(cs, g, sizeof(g)), out, &bad) == 0) {
        snprintf(res->used, sizeof(res->used), "%s", g);
        res->bad = bad;
        return 0;
    }
    convert_charset(in, len, "WINDOWS-1252", out, &bad);
    snprintf(res->used, sizeof(res->used), "WINDOWS-1252");
    res->bad = bad;
    return 0;
}

const char *charset_guess(const char *in, size_t len, char *buf, size_t size)
{
    char g[64];
    if (guess(in, len, g, sizeof(g)) == NULL)
        return NULL;
    return charset_canonical(g, buf, size);
}

static bool japanese_family(const char *canon)
{
    return strncmp(canon, "ISO-2022-JP", 11) == 0 || strcmp(canon, "CP932") == 0
           || strncmp(canon, "EUC-JP", 6) == 0 || strcmp(canon, "SHIFT_JIS") == 0;
}

/* A hint that can describe 8-bit bytes (us-ascii, UTF-8 and the 7-bit
 * encodings cannot). */
static bool hint_8bit(const char *canon)
{
    return canon[0] != '\0' && strcmp(canon, "UTF-8") != 0 && !ascii_incompatible(canon);
}

int charset_header_to_utf8(const char *in, size_t len, const char *hint, struct strbuf *out,
                           struct charset_result *res)
{
    char canon[64] = "", g[64];
    memset(res, 0, sizeof(*res));
    if (hint != NULL && *hint != '\0')
        charset_canonical(hint, canon, sizeof(canon));
    /* "us-ascii" is an alias of WINDOWS-1252 for bodies; as a hint for
     * header bytes it says nothing */
    if (hint != NULL && (strcasecmp(hint, "us-ascii") == 0 || strcasecmp(hint, "ascii") == 0))
        canon[0] = '\0';

    if (!has_8bit(in, len)) {
        const char *flavour = charset_iso2022_flavour(in, len);
        size_t bad = 0;
        if (flavour != NULL && convert_charset(in, len, flavour, out, &bad) == 0) {
            snprintf(res->used, sizeof(res->used), "%s", flavour);
            res->guessed = true;
            res->bad = bad;
            return 0;
        }
        utf8_sanitize_append(out, in, len);
        snprintf(res->used, sizeof(res->used), "US-ASCII");
        return 0;
    }
    if (str_utf8_valid(in, len)) {
        utf8_sanitize_append(out, in, len);
        snprintf(res->used, sizeof(res->used), "UTF-8");
        return 0;
    }
    res->guessed = true;
    /* Japanese mail: raw Shift_JIS or EUC-JP beside ISO-2022-JP text */
    if (canon[0] != '\0' && japanese_family(canon) && decode_japanese(in, len, out, res))
        return 0;
    if (hint_8bit(canon)) {
        struct strbuf t = STRBUF_INIT;
        size_t bad = 0;
        if (convert_charset(in, len, canon, &t, &bad) == 0 && bad == 0) {
            strbuf_add(out, t.s ? t.s : "", t.len);
            strbuf_free(&t);
            snprintf(res->used, sizeof(res->used), "%s", canon);
            res->guessed = false;
            return 0;
        }
        strbuf_free(&t);
    }
    const char *cs = guess(in, len, g, sizeof(g));
    if (cs != NULL) {
        char gc[64];
        charset_canonical(cs, gc, sizeof(gc));
        if (japanese_family(gc) && decode_japanese(in, len, out, res))
            return 0;
        struct strbuf t = STRBUF_INIT;
        size_t bad = 0;
        if (convert_charset(in, len, gc, &t, &bad) == 0 && bad == 0) {
            strbuf_add(out, t.s ? t.s : "", t.len);
            strbuf_free(&t);
            snprintf(res->used, sizeof(res->used), "%s", gc);
            return 0;
        }
        strbuf_free(&t);
    }
    /* nothing fits cleanly: the hint (or Windows-1252) with U+FFFD */
    size_t bad = 0;
    const char *last = hint_8bit(canon) ? canon : "WINDOWS-1252";
    if (convert_charset(in, len, last, out, &bad) < 0) {
        utf8_sanitize_append(out, in, len);
        last = "UTF-8";
    }
    snprintf(res->used, sizeof(res->used), "%s", last);
    res->bad = bad;
    return 0;
}
