/* lib/filetype.c -- see lib/filetype.h. */
#include "config.h"
#include "lib/filetype.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct magic {
    size_t at;
    const char *bytes;
    size_t n;
    const char *type;
};

/* Checked in order; the first that matches decides. */
static const struct magic magics[] = {
    { 0, "%PDF-", 5, "application/pdf" },
    { 0, "\x89PNG\r\n\x1a\n", 8, "image/png" },
    { 0, "\xff\xd8\xff", 3, "image/jpeg" },
    { 0, "GIF87a", 6, "image/gif" },
    { 0, "GIF89a", 6, "image/gif" },
    { 8, "WEBP", 4, "image/webp" },            /* after "RIFF" and a size: checked below */
    { 0, "PK\x03\x04", 4, "application/zip" },
    { 0, "\x1f\x8b", 2, "application/gzip" },
    { 0, "7z\xbc\xaf\x27\x1c", 6, "application/x-7z-compressed" },
    { 0, "Rar!\x1a\x07", 6, "application/vnd.rar" },
    { 0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "application/x-ole-storage" },
    { 0, "%!PS", 4, "application/postscript" },
    { 0, "ID3", 3, "audio/mpeg" },
    { 0, "OggS", 4, "audio/ogg" },
    { 0, "\x1a\x45\xdf\xa3", 4, "video/webm" },
};

/* Containers whose declared (more precise) type is believed. */
static const char *const zip_kinds[] = {
    "application/vnd.openxmlformats-officedocument.", "application/vnd.oasis.opendocument.",
    "application/epub+zip", "application/java-archive", "application/vnd.ms-xpsdocument",
};
static const char *const ole_kinds[] = {
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/vnd.ms-outlook", "application/vnd.visio",
};
/* Types a browser would render as a page or run. */
static const char *const active_types[] = {
    "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
    "text/javascript", "application/javascript", "application/ecmascript", "text/ecmascript",
    "application/x-javascript", "text/css", "text/xsl", "application/xslt+xml",
    "application/x-shockwave-flash", "application/pdf",
};
/* Text types kept when the bytes are text. */
static const char *const text_kinds[] = {
    "text/csv", "text/calendar", "text/markdown", "text/x-log", "text/tab-separated-values",
    "text/vcard", "text/x-diff", "text/x-patch",
};

/* The declared type without parameters, lower case, when it is a
 * well-formed type/subtype token; "" otherwise. */
static void base_type(const char *declared, char *out, size_t size)
{
    size_t k = 0;
    bool slash = false, ok = declared != NULL;
    for (const char *p = declared ? declared : ""; *p && *p != ';' && k + 1 < size; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == '\t')
            break;
        if (c == '/') {
            if (slash || k == 0)
                ok = false;
            slash = true;
        } else if (!(isalnum(c) || strchr("!#$&-^_.+", c))) {
            ok = false;
        }
        out[k++] = (char)tolower(c);
    }
    out[k] = '\0';
    if (!ok || !slash || k == 0 || out[k - 1] == '/')
        out[0] = '\0';
}

static bool prefix_in(const char *t, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(t, list[i], strlen(list[i])) == 0)
            return true;
    return false;
}
#define IN(t, list) prefix_in((t), (list), sizeof(list) / sizeof((list)[0]))

static bool is_active(const char *t)
{
    size_t n = strlen(t);
    for (size_t i = 0; i < sizeof(active_types) / sizeof(active_types[0]); i++)
        if (strcmp(t, active_types[i]) == 0)
            return true;
    return strncmp(t, "multipart/", 10) == 0 || strncmp(t, "message/", 8) == 0
           || (n > 4 && strcmp(t + n - 4, "+xml") == 0);
}

/* UTF-8 text without NUL and with few control characters besides
 * tab, CR, LF and form feed. */
static bool looks_text(const unsigned char *d, size_t len)
{
    size_t ctl = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = d[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f)
                ctl++;
            i++;
            continue;
        }
        size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
        if (n == 0 || i + n > len)
            return false;
        for (size_t k = 1; k < n; k++)
            if ((d[i + k] & 0xc0) != 0x80)
                return false;
        if (n == 3 && ((c == 0xe0 && d[i + 1] < 0xa0) || (c == 0xed && d[i + 1] >= 0xa0)))
            return false;
        if (n == 4 && ((c == 0xf0 && d[i + 1] < 0x90) || (c == 0xf4 && d[i + 1] >= 0x90)))
            return false;
        i += n;
    }
    return ctl * 100 <= len;   /* at most 1 % */
}

void filetype_sniff(const unsigned char *data, size_t len, const char *declared,
                    char out[FILETYPE_TYPE_MAX + 1])
{
    char decl[FILETYPE_TYPE_MAX + 1];
    base_type(declared, decl, sizeof(decl));
    for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
        const struct magic *m = &magics[i];
        if (len < m->at + m->n || memcmp(data + m->at, m->bytes, m->n) != 0)
            continue;
        if (m->at == 8 && memcmp(data, "RIFF", 4) != 0)
            continue;
        const char *t = m->type;
        if (strcmp(t, "application/zip") == 0 && decl[0] && IN(decl, zip_kinds))
            t = decl;
        else if (strcmp(t, "application/x-ole-storage") == 0)
            t = decl[0] && IN(decl, ole_kinds) ? decl : "application/octet-stream";
        snprintf(out, FILETYPE_TYPE_MAX + 1, "%s", t);
        return;
    }
    if (looks_text(data, len)) {
        /* text, whatever it claims: a page or a script is shown as text */
        if (decl[0] && IN(decl, text_kinds))
            snprintf(out, FILETYPE_TYPE_MAX + 1, "%s; charset=utf-8", decl);
        else
            snprintf(out, FILETYPE_TYPE_MAX + 1, "text/plain; charset=utf-8");
        return;
    }
    /* bytes no rule knows: the declared type, unless it claims to be text,
     * an image (the magic would have said), or active content */
    if (decl[0] && strncmp(decl, "text/", 5) != 0 && strncmp(decl, "image/", 6) != 0
        && !is_active(decl))
        snprintf(out, FILETYPE_TYPE_MAX + 1, "%s", decl);
    else
        snprintf(out, FILETYPE_TYPE_MAX + 1, "application/octet-stream");
}

/* ---- names ------------------------------------------------------------------ */

/* Length of the UTF-8 sequence at s (at most left bytes), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || n > left)
        return 0;
    for (size_t k = 1; k < n; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
        return 0;
    if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
        return 0;
    return n;
}

/* Format characters that reorder or hide text (a "right-to-left
 * override" makes "gpj.exe" read as "exe.jpg"): dropped. */
static bool invisible(const unsigned char *s, size_t n)
{
    if (n == 3 && s[0] == 0xe2 && s[1] == 0x80 && ((s[2] >= 0x8b && s[2] <= 0x8f) || (s[2] >= 0xaa && s[2] <= 0xae)))
        return true;     /* U+200B-200F, U+202A-202E */
    if (n == 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9)
        return true;     /* U+2066-2069 */
    if (n == 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
        return true;     /* U+FEFF */
    if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)
        return true;     /* C1 controls */
    return false;
}

void filetype_clean_name(const char *name, char out[FILETYPE_NAME_MAX + 1])
{
    char buf[4 * FILETYPE_NAME_MAX + 4];
    size_t k = 0;
    const char *base = name ? name : "";
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    const unsigned char *s = (const unsigned char *)base;
    size_t left = strlen(base);
    while (left > 0 && k + 4 < sizeof(buf)) {
        size_t n = utf8_seq(s, left);
        if (n == 0) {
            buf[k++] = '_';
            s++;
            left--;
            continue;
        }
        if (n == 1) {
            unsigned char c = s[0];
            if (c >= 0x20 && c != 0x7f) {
                if (strchr(":*?\"<>|", c))
                    buf[k++] = '_';
                else
                    buf[k++] = (char)c;
            }
        } else if (!invisible(s, n)) {
            memcpy(buf + k, s, n);
            k += n;
        }
        s += n;
        left -= n;
    }
    buf[k] = '\0';
    /* no leading dots or spaces (hidden files, "..") nor trailing ones */
    char *start = buf;
    while (*start == '.' || *start == ' ')
        start++;
    size_t len = strlen(start);
    while (len > 0 && (start[len - 1] == '.' || start[len - 1] == ' '))
        start[--len] = '\0';
    if (len == 0) {
        snprintf(out, FILETYPE_NAME_MAX + 1, "attachment");
        return;
    }
    if (len <= FILETYPE_NAME_MAX) {
        memcpy(out, start, len + 1);
        return;
    }
    /* too long: cut the stem on a character boundary, keep a short extension */
    const char *dot = strrchr(start, '.');
    size_t ext = dot && strlen(dot) <= 16 ? strlen(dot) : 0;
    size_t room = FILETYPE_NAME_MAX - ext;
    while (room > 0 && ((unsigned char)start[room] & 0xc0) == 0x80)
        room--;
    memcpy(out, start, room);
    memcpy(out + room, start + len - ext, ext);
    out[room + ext] = '\0';
}
