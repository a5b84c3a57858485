/* test_mime -- the MIME normaliser against the messages of tests/data/mail
 * (real-world mail and cases written for each class of breakage) and their
 * EXPECT.tsv (subject, sender, Message-ID, attachment count, robot class),
 * plus targeted cases for the hard parts. */
#include "config.h"
#include "mail/charset.h"
#include "mail/html.h"
#include "mail/mailhdr.h"
#include "mail/mime.h"
#include "mail/mimecut.h"
#include "mail/quote.h"
#include "mail/rfc2047.h"
#include "mail/summary.h"
#include "lib/util.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    *len = got;
    return b;
}

static struct mail_msg *parse_str(const char *s)
{
    struct mail_limits lim;
    mail_limits_default(&lim);
    return mail_parse(s, strlen(s), &lim);
}

/* The promise of mime.h: every string a mail_msg hands out is valid
 * UTF-8 (C strings hold no NUL; the text buffers are checked for it). */
static bool ok_str(const char *s)
{
    return s == NULL || str_utf8_valid(s, strlen(s));
}

static bool ok_buf(const struct strbuf *b)
{
    return b->len == 0 || (str_utf8_valid(b->s, b->len) && memchr(b->s, '\0', b->len) == NULL);
}

static const char *first_bad_field(const struct mail_msg *m)
{
    if (!ok_str(m->subject)) return "subject";
    if (!ok_str(m->from_addr)) return "from_addr";
    if (!ok_str(m->from_name)) return "from_name";
    if (!ok_str(m->reply_to)) return "reply_to";
    if (!ok_str(m->message_id) || !ok_str(m->message_id_raw)) return "message_id";
    if (!ok_str(m->in_reply_to)) return "in_reply_to";
    for (size_t i = 0; i < m->nrefs; i++)
        if (!ok_str(m->refs[i])) return "refs";
    for (size_t i = 0; i < m->nto; i++)
        if (!ok_str(m->to[i])) return "to";
    if (!ok_str(m->date)) return "date";
    for (size_t i = 0; i < m->natt; i++) {
        const struct mail_attachment *a = &m->att[i];
        if (!ok_str(a->filename) || !ok_str(a->content_type) || !ok_str(a->content_id)
            || !ok_str(a->subject) || !ok_str(a->message_id))
            return "attachment";
    }
    if (!ok_str(m->robot_reason)) return "robot_reason";
    if (!ok_str(m->report_type) || !ok_str(m->report_original_id)) return "report";
    for (size_t i = 0; i < m->ndsn; i++)
        if (!ok_str(m->dsn[i].recipient) || !ok_str(m->dsn[i].action) || !ok_str(m->dsn[i].status)
            || !ok_str(m->dsn[i].diagnostic))
            return "dsn";
    if (!ok_str(m->body_charset)) return "body_charset";
    if (!ok_buf(&m->text)) return "text";
    if (!ok_buf(&m->html)) return "html";
    if (!ok_buf(&m->new_text)) return "new_text";
    if (!ok_buf(&m->problems)) return "problems";
    return NULL;
}

/* EXPECT.tsv cell unescaping: \t \n \\ */
static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

START_TEST(corpus_matches_expect)
{
    char path[1024];
    const char *dir = getenv("ATUM_MAIL_TESTDATA");
    ck_assert_msg(dir != NULL, "ATUM_MAIL_TESTDATA not set");
    snprintf(path, sizeof(path), "%s/EXPECT.tsv", dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    int files = 0, failures = 0, uncertain_misses = 0;
    struct mail_limits lim;
    mail_limits_default(&lim);
    getline(&line, &cap, f);   /* header row */
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *cols[7] = { 0 };
        int nc = 0;
        for (char *p = line, *tab; nc < 7; p = tab + 1) {
            cols[nc++] = p;
            tab = strchr(p, '\t');
            if (tab == NULL)
                break;
            *tab = '\0';
        }
        if (nc < 6)
            continue;
        for (int i = 0; i < nc; i++)
            unescape(cols[i]);
        snprintf(path, sizeof(path), "%s/%s", dir, cols[0]);
        size_t len = 0;
        char *raw = slurp(path, &len);
        ck_assert_msg(raw != NULL, "cannot read %s", path);
        struct mail_msg *m = mail_parse(raw, len, &lim);
        files++;

        char natt[16];
        snprintf(natt, sizeof(natt), "%zu", m->natt);
        const char *got[4] = { m->subject, m->from_addr ? m->from_addr : "",
                               m->message_id_raw ? m->message_id_raw : "", natt };
        const char *what[4] = { "subject", "from", "message-id", "attachments" };
        for (int k = 0; k < 4; k++) {
            const char *want = cols[2 + k];
            bool uncertain = want[0] == '?';
            if (uncertain)
                want++;
            if (strcmp(got[k], want) == 0)
                continue;
            if (uncertain) {
                uncertain_misses++;
                fprintf(stderr, "note: %s %s: got '%s', best reading '%s' (uncertain)\n",
                        cols[0], what[k], got[k], want);
            } else {
                failures++;
                fprintf(stderr, "FAIL: %s %s: got '%s', want '%s'\n", cols[0], what[k], got[k], want);
            }
        }
        /* robot classes follow the corpus's kinds; the written cases (f*)
         * are also checked for "none": a weak signal must not make an
         * ordinary mail a robot */
        const char *kind = cols[1];
        const char *robot = mail_robot_name(m->robot);
        const char *want_robot = cols[0][0] == 'f' ? "none" : NULL;
        if (strcmp(kind, "bounce") == 0 || strcmp(kind, "feedback-report") == 0)
            want_robot = "bounce";
        else if (strcmp(kind, "autoreply") == 0 || strcmp(kind, "mdn") == 0)
            want_robot = "autoreply";
        else if (strcmp(kind, "list") == 0)
            want_robot = "list";
        if (want_robot && strcmp(robot, want_robot) != 0) {
            failures++;
            fprintf(stderr, "FAIL: %s robot: got %s (%s), want %s\n", cols[0], robot,
                    m->robot_reason ? m->robot_reason : "-", want_robot);
        }
        /* everything that comes out is valid UTF-8 */
        const char *bad = first_bad_field(m);
        ck_assert_msg(bad == NULL, "%s: %s is not valid UTF-8", cols[0], bad);
        mail_msg_free(&m);
        free(raw);
    }
    free(line);
    fclose(f);
    fprintf(stderr, "corpus: %d messages, %d mismatches, %d uncertain cells read differently\n",
            files, failures, uncertain_misses);
    /* every .eml of the folder has its row */
    int emls = 0;
    DIR *dp = opendir(dir);
    ck_assert_ptr_nonnull(dp);
    for (struct dirent *de; (de = readdir(dp)) != NULL; ) {
        size_t n = strlen(de->d_name);
        emls += n > 4 && strcmp(de->d_name + n - 4, ".eml") == 0;
    }
    closedir(dp);
    ck_assert_int_eq(files, emls);
    ck_assert_int_ge(files, 120);
    ck_assert_int_eq(failures, 0);
}
END_TEST

/* The same mail with LF, CRLF, or LF plus the CRLF a client appends reads
 * the same: line endings change in transit. */
START_TEST(line_endings_do_not_matter)
{
    const char *dir = getenv("ATUM_MAIL_TESTDATA");
    char path[1024];
    snprintf(path, sizeof(path), "%s/EXPECT.tsv", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t cap = 0;
    struct mail_limits lim;
    mail_limits_default(&lim);
    getline(&line, &cap, f);
    int differ = 0;
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\t")] = '\0';
        snprintf(path, sizeof(path), "%s/%s", dir, line);
        size_t len;
        char *raw = slurp(path, &len);
        struct strbuf lf = STRBUF_INIT, crlf = STRBUF_INIT, tail = STRBUF_INIT;
        for (size_t i = 0; i < len; i++) {
            if (raw[i] == '\r')
                continue;
            strbuf_addc(&lf, raw[i]);
            if (raw[i] == '\n')
                strbuf_addc(&crlf, '\r');
            strbuf_addc(&crlf, raw[i]);
        }
        strbuf_add(&tail, lf.s, lf.len);
        strbuf_adds(&tail, "\r\n");
        struct mail_msg *m0 = mail_parse(raw, len, &lim);
        struct strbuf *variants[] = { &lf, &crlf, &tail };
        for (int v = 0; v < 3; v++) {
            struct mail_msg *m1 = mail_parse(variants[v]->s, variants[v]->len, &lim);
            if (strcmp(m0->subject, m1->subject) != 0 || m0->natt != m1->natt || m0->robot != m1->robot) {
                fprintf(stderr, "FAIL: %s reads differently in variant %d\n", line, v);
                differ++;
            }
            mail_msg_free(&m1);
        }
        mail_msg_free(&m0);
        strbuf_free(&lf);
        strbuf_free(&crlf);
        strbuf_free(&tail);
        free(raw);
    }
    free(line);
    fclose(f);
    ck_assert_int_eq(differ, 0);
}
END_TEST

START_TEST(encoded_words)
{
    struct strbuf o = STRBUF_INIT;
    const char *in = "=?utf-8?q?caf=C3=A9?= =?utf-8?q?_au_lait?= and =?ISO-8859-1?B?Zm/u?=";
    rfc2047_decode(in, strlen(in), NULL, &o);
    ck_assert_str_eq(o.s, "café au lait and foî");
    strbuf_reset(&o);
    /* a UTF-8 character split over two words survives */
    in = "=?UTF-8?B?4pyT?= =?UTF-8?Q?=E2=9C?= =?UTF-8?Q?=93?=";
    rfc2047_decode(in, strlen(in), NULL, &o);
    ck_assert_str_eq(o.s, "✓✓");
    strbuf_reset(&o);
    /* broken words stay text; raw 8-bit latin-1 is converted */
    in = "=?utf-8?x?nope?= gr\xfc\xdf";
    rfc2047_decode(in, strlen(in), "iso-8859-1", &o);
    ck_assert_str_eq(o.s, "=?utf-8?x?nope?= grüß");
    strbuf_reset(&o);
    in = "=?unknown-charset?Q?abc?=";
    rfc2047_decode(in, strlen(in), NULL, &o);
    ck_assert_str_eq(o.s, "abc");
    strbuf_free(&o);
}
END_TEST

START_TEST(rfc2231_parameters)
{
    struct strbuf o = STRBUF_INIT;
    struct mime_param p1[] = { { "filename*", "UTF-8''na%C3%AFve%20file.txt" } };
    ck_assert_int_eq(rfc2231_param(p1, 1, "filename", &o), 1);
    ck_assert_str_eq(o.s, "naïve file.txt");
    strbuf_reset(&o);
    struct mime_param p2[] = { { "filename*1", "part2.pdf" }, { "filename*0*", "iso-8859-1'de'Gr%FC%DFe_" } };
    ck_assert_int_eq(rfc2231_param(p2, 2, "filename", &o), 1);
    ck_assert_str_eq(o.s, "Grüße_part2.pdf");
    strbuf_reset(&o);
    struct mime_param p3[] = { { "name", "=?utf-8?B?0L/RgNC40LLQtdGCLnR4dA==?=" } };
    ck_assert_int_eq(rfc2231_param(p3, 1, "name", &o), 1);
    ck_assert_str_eq(o.s, "привет.txt");
    strbuf_reset(&o);
    ck_assert_int_eq(rfc2231_param(p3, 1, "filename", &o), 0);
    strbuf_free(&o);
}
END_TEST

START_TEST(charsets)
{
    struct strbuf o = STRBUF_INIT;
    struct charset_result r;
    /* declared us-ascii, really UTF-8 */
    charset_to_utf8("na\xc3\xafve", 6, "us-ascii", &o, &r);
    ck_assert_str_eq(o.s, "naïve");
    ck_assert(r.guessed);
    strbuf_reset(&o);
    /* iso-8859-1 label over windows-1252 quotes */
    charset_to_utf8("\x93quoted\x94", 8, "iso-8859-1", &o, &r);
    ck_assert_str_eq(o.s, "“quoted”");
    strbuf_reset(&o);
    /* gb2312 label over GB18030 text */
    charset_to_utf8("\xb2\xe2\xca\xd4", 4, "gb2312", &o, &r);
    ck_assert_str_eq(o.s, "测试");
    strbuf_reset(&o);
    /* NUL bytes and junk never reach the database */
    charset_to_utf8("a\0b\xff", 4, "utf-8", &o, &r);
    ck_assert(str_utf8_valid(o.s, o.len));
    ck_assert_ptr_null(memchr(o.s, '\0', o.len));
    strbuf_reset(&o);
    charset_to_utf8("abc\xe9", 4, "x-no-such-charset", &o, &r);
    ck_assert(r.unknown_declared);
    ck_assert(str_utf8_valid(o.s, o.len));
    strbuf_free(&o);
}
END_TEST

START_TEST(addresses)
{
    struct strbuf a = STRBUF_INIT, d = STRBUF_INIT;
    mailhdr_first_address("\"Doe, Jane\" <jane@example.com>, bob@x.org", &a, &d);
    ck_assert_str_eq(a.s, "jane@example.com");
    ck_assert_str_eq(d.s, "\"Doe, Jane\"");
    mailhdr_first_address("joe@example.com (Joe Bloggs)", &a, &d);
    ck_assert_str_eq(a.s, "joe@example.com");
    ck_assert_str_eq(d.s, "Joe Bloggs");
    mailhdr_first_address("Team: a@x.org, b@y.org;", &a, &d);
    ck_assert_str_eq(a.s, "a@x.org");
    mailhdr_first_address("<@relay.example:user@host.example>", &a, &d);
    ck_assert_str_eq(a.s, "user@host.example");
    mailhdr_first_address("undisclosed-recipients:;", &a, &d);
    ck_assert_uint_eq(a.len, 0);
    /* found by tests/fuzz: a group without a display buffer crashed */
    mailhdr_first_address("Team: a@x.org, b@y.org;", &a, NULL);
    ck_assert_str_eq(a.s, "a@x.org");
    struct mail_msg *m = parse_str("From: c@example.org\r\nReply-To: Team: r@example.org;\r\n\r\nhi\r\n");
    ck_assert_str_eq(m->reply_to, "r@example.org");
    mail_msg_free(&m);
    strbuf_free(&a);
    strbuf_free(&d);
}
END_TEST

START_TEST(lenient_header_block)
{
    struct mail_msg *m = parse_str(
        "From Someone Mon Jan  1 00:00:00 2024\n"
        "Received: from a\n"
        "by b with SMTP\n"             /* lost its folding */
        "Subject: kept\n"
        "From: x@example.com\n"
        "\n"
        "body\n");
    ck_assert_str_eq(m->subject, "kept");
    ck_assert_str_eq(m->from_addr, "x@example.com");
    ck_assert_ptr_nonnull(strstr(m->problems.s, "lost folding"));
    ck_assert_str_eq(m->text.s, "body\n");
    mail_msg_free(&m);

    m = parse_str("Subject: no separator\nthis is the body\nmore\n");
    ck_assert_str_eq(m->subject, "no separator");
    ck_assert_ptr_nonnull(strstr(m->text.s, "this is the body"));
    mail_msg_free(&m);

    m = parse_str("Subject: old mac\rFrom: a@b.c\r\rbody\r");
    ck_assert_str_eq(m->subject, "old mac");
    ck_assert_str_eq(m->from_addr, "a@b.c");
    mail_msg_free(&m);
}
END_TEST

START_TEST(bad_inputs_do_not_crash)
{
    const char *cases[] = {
        "",
        "\n\n\n",
        "Content-Type: multipart/mixed; boundary=x\n\n--x\n--x\n--x--\n",
        "Content-Type: multipart/mixed\n\nno boundary at all\n",
        "Content-Type: text/plain; charset=\"\n\nx\n",
        "Content-Transfer-Encoding: base64\n\n!!!!not base64 at all====\n",
        "Content-Type: text/html\n\n<script>alert(1)</script><p onclick=x>hi</p>\n",
        "Subject: =?utf-8?B?\n\n",
        "Subject: =?\xff\xfe?Q?x?=\n\n",
        "Content-Type: message/rfc822\n\n",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mail_msg *m = parse_str(cases[i]);
        ck_assert(str_utf8_valid(m->text.s ? m->text.s : "", m->text.len));
        ck_assert_ptr_null(strstr(m->html.s ? m->html.s : "", "<script"));
        ck_assert_ptr_null(strstr(m->html.s ? m->html.s : "", "onclick"));
        mail_msg_free(&m);
    }
    struct mail_msg *m = parse_str("");
    ck_assert_ptr_nonnull(strstr(m->problems.s, "empty message"));
    mail_msg_free(&m);

    /* deep nesting is bounded */
    struct strbuf deep = STRBUF_INIT;
    for (int i = 0; i < 200; i++)
        strbuf_addf(&deep, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    strbuf_adds(&deep, "Content-Type: text/plain\n\nbottom\n");
    m = parse_str(deep.s);
    ck_assert_ptr_nonnull(strstr(m->problems.s, "nested deeper"));
    mail_msg_free(&m);
    strbuf_free(&deep);
}
END_TEST

/* mail/mimecut.h: nesting is bounded before libetpan, whose cost grows
 * with the square of the depth; what lies deeper is kept, as one part */
static struct strbuf nested(int levels, const char *kind)
{
    struct strbuf b = STRBUF_INIT;
    strbuf_adds(&b, "From: a@example.com\nSubject: deep\nMessage-ID: <deep@example.com>\nMIME-Version: 1.0\n");
    for (int i = 0; i < levels; i++) {
        if (strcmp(kind, "rfc822") == 0)
            strbuf_adds(&b, "Content-Type: message/rfc822\n\nSubject: inner\n");
        else
            strbuf_addf(&b, "Content-Type: multipart/mixed;\n\tboundary=\"b %d\"\n\n--b %d\n", i, i);
    }
    strbuf_adds(&b, "Content-Type: text/plain\n\nbottom\n");
    for (int i = levels; strcmp(kind, "rfc822") != 0 && i-- > 0;)
        strbuf_addf(&b, "--b %d--\n", i);
    return b;
}

START_TEST(deep_nesting_is_cut_not_lost)
{
    struct mail_limits lim;
    mail_limits_default(&lim);
    /* within the bound: untouched */
    struct strbuf b = nested(lim.max_depth - 2, "multipart"), out = STRBUF_INIT;
    ck_assert_int_eq(mimecut(b.s, b.len, lim.max_depth, &out), 0);
    ck_assert_ptr_null(out.s);
    struct mail_msg *m = mail_parse(b.s, b.len, &lim);
    ck_assert_ptr_nonnull(strstr(m->text.s ? m->text.s : "", "bottom"));
    ck_assert_ptr_null(strstr(m->problems.s ? m->problems.s : "", "nested deeper"));
    mail_msg_free(&m);
    strbuf_free(&b);

    /* 20,000 levels (folded Content-Type, quoted boundary with a space):
     * one attachment holding everything below the cut, "bottom" included */
    b = nested(20000, "multipart");
    ck_assert_int_eq(mimecut(b.s, b.len, lim.max_depth, &out), 1);
    ck_assert_ptr_nonnull(strstr(out.s, "application/octet-stream"));
    strbuf_free(&out);
    m = mail_parse(b.s, b.len, &lim);
    ck_assert_ptr_nonnull(strstr(m->problems.s, "nested deeper than 40"));
    ck_assert_str_eq(m->subject, "deep");
    ck_assert_str_eq(m->message_id, "deep@example.com");
    ck_assert_uint_eq(m->natt, 1);
    ck_assert_str_eq(m->att[0].content_type, "application/octet-stream");
    ck_assert_ptr_nonnull(m->att[0].data);
    ck_assert_ptr_nonnull(memmem(m->att[0].data, m->att[0].size, "bottom", 6));
    ck_assert_ptr_nonnull(memmem(m->att[0].data, m->att[0].size, "--b 19999--", 11));
    mail_msg_free(&m);
    strbuf_free(&b);

    /* embedded messages count as levels too */
    b = nested(5000, "rfc822");
    ck_assert_int_eq(mimecut(b.s, b.len, lim.max_depth, &out), 1);
    strbuf_free(&out);
    m = mail_parse(b.s, b.len, &lim);
    ck_assert_ptr_nonnull(strstr(m->problems.s, "nested deeper"));
    mail_msg_free(&m);
    strbuf_free(&b);

    /* the parts of a digest are messages by default (no Content-Type) */
    strbuf_adds(&b, "From: a@example.com\nSubject: digests\nMIME-Version: 1.0\n");
    for (int i = 0; i < 3000; i++)
        strbuf_addf(&b, "Content-Type: multipart/digest; boundary=d%d\n\n--d%d\n\n", i, i);
    strbuf_adds(&b, "Subject: last\n\nbottom\n");
    ck_assert_int_eq(mimecut(b.s, b.len, lim.max_depth, &out), 1);
    strbuf_free(&out);
    m = mail_parse(b.s, b.len, &lim);
    ck_assert_ptr_nonnull(strstr(m->problems.s, "nested deeper"));
    mail_msg_free(&m);
    strbuf_free(&b);

    /* a part after the cut one, in the same outer multipart, is read */
    strbuf_adds(&b, "From: a@example.com\nSubject: siblings\nMIME-Version: 1.0\n"
                    "Content-Type: multipart/mixed; boundary=top\n\n--top\n");
    for (int i = 0; i < 100; i++)
        strbuf_addf(&b, "Content-Type: multipart/mixed; boundary=x%d\n\n--x%d\n", i, i);
    strbuf_adds(&b, "Content-Type: text/plain\n\ndeep text\n");
    for (int i = 100; i-- > 0;)
        strbuf_addf(&b, "--x%d--\n", i);
    strbuf_adds(&b, "--top\nContent-Type: text/plain\n\nthe text after\n--top--\n");
    m = mail_parse(b.s, b.len, &lim);
    ck_assert_ptr_nonnull(strstr(m->text.s ? m->text.s : "", "the text after"));
    ck_assert_uint_eq(m->natt, 1);
    ck_assert_ptr_nonnull(memmem(m->att[0].data, m->att[0].size, "deep text", 9));
    mail_msg_free(&m);
    strbuf_free(&b);
}
END_TEST

START_TEST(attachments_and_bodies)
{
    struct mail_msg *m = parse_str(
        "From: a@example.com\nSubject: files\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
        "--B\nContent-Type: multipart/alternative; boundary=\"A\"\n\n"
        "--A\nContent-Type: text/plain; charset=utf-8\n\nHello plain\n"
        "--A\nContent-Type: text/html; charset=utf-8\n\n<p>Hello <b>html</b><img src=\"http://evil/x.png\"><img src=\"cid:logo@x\"></p>\n"
        "--A--\n"
        "--B\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n"
        "--B\nContent-Type: application/pdf; name=\"=?utf-8?Q?r=C3=A9sum=C3=A9.pdf?=\"\n"
        "Content-Disposition: attachment\nContent-Transfer-Encoding: base64\n\nJVBERg==\n"
        "--B\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\n\nroot\n"
        "--B\nContent-Type: message/rfc822\n\nSubject: inner one\nMessage-ID: <in@x>\n\ninner body\n"
        "--B--\n");
    ck_assert_str_eq(m->text.s, "Hello plain");
    ck_assert_ptr_nonnull(strstr(m->html.s, "<b>html</b>"));
    ck_assert_ptr_null(strstr(m->html.s, "evil"));
    ck_assert_ptr_nonnull(strstr(m->html.s, "src=\"cid:logo@x\""));
    ck_assert_int_eq(m->remote_images, 1);
    ck_assert_uint_eq(m->natt, 4);
    ck_assert_str_eq(m->att[0].content_type, "image/png");
    ck_assert_str_eq(m->att[0].content_id, "logo@x");
    ck_assert(m->att[0].is_inline);
    ck_assert_uint_eq(m->att[0].size, 5);
    ck_assert_int_eq(memcmp(m->att[0].data, "hello", 5), 0);
    ck_assert_str_eq(m->att[1].filename, "résumé.pdf");
    ck_assert_str_eq(m->att[2].filename, ".._.._etc_passwd");
    ck_assert_str_eq(m->att[3].content_type, "message/rfc822");
    ck_assert_str_eq(m->att[3].subject, "inner one");
    ck_assert_str_eq(m->att[3].message_id, "in@x");
    mail_msg_free(&m);
}
END_TEST

START_TEST(html_sanitiser)
{
    struct strbuf o = STRBUF_INIT;
    struct html_info info;
    const char *h = "<html><head><style>x{}</style><title>t</title></head><body>"
        "<a href=\"javascript:alert(1)\">x</a><a href=\" JaVaScRiPt:alert(1)\">y</a>"
        "<a href=\"https://ok.example/\">ok</a><iframe src=x></iframe>"
        "<img src=x onerror=alert(1)><div style=\"background:url(http://t/)\">s</div>"
        "<svg><script>alert(1)</script></svg><form><input value=x></form>"
        "<p title='\"><script>'>q</p></body></html>";
    html_sanitize(h, strlen(h), &o, &info);
    ck_assert_ptr_null(strstr(o.s, "javascript"));
    ck_assert_ptr_null(strstr(o.s, "JaVaScRiPt"));
    ck_assert_ptr_null(strstr(o.s, "<script"));
    ck_assert_ptr_null(strstr(o.s, "onerror"));
    ck_assert_ptr_null(strstr(o.s, "style"));
    ck_assert_ptr_null(strstr(o.s, "iframe"));
    ck_assert_ptr_null(strstr(o.s, "<input"));
    ck_assert_ptr_nonnull(strstr(o.s, "href=\"https://ok.example/\" rel=\"noopener noreferrer nofollow\""));
    ck_assert_ptr_nonnull(strstr(o.s, "title=\"&quot;&gt;&lt;script&gt;\""));
    strbuf_reset(&o);
    html_to_text("<p>Hello<br>world</p><ul><li>one</li><li>two</li></ul><a href=\"https://x.y/\">site</a>",
                 85, &o);
    ck_assert_str_eq(o.s, "Hello\nworld\n\n- one\n- two\n\nsite <https://x.y/>");
    strbuf_free(&o);
}
END_TEST

START_TEST(new_text_without_quotes)
{
    struct strbuf o = STRBUF_INIT;
    const char *t = "Thanks, that fixed it.\n\nOn Tue, 3 Apr 2012 at 10:00, Support <s@x> wrote:\n> Try turning it off\n> and on again.\n";
    quote_new_text(t, strlen(t), &o);
    ck_assert_str_eq(o.s, "Thanks, that fixed it.");
    strbuf_reset(&o);
    t = "Short answer.\n\n-- \nJane Doe\nACME Corp\n";
    quote_new_text(t, strlen(t), &o);
    ck_assert_str_eq(o.s, "Short answer.");
    strbuf_reset(&o);
    t = "See below\n\n-----Original Message-----\nFrom: a\nSent: b\nTo: c\nSubject: d\n\nold\n";
    quote_new_text(t, strlen(t), &o);
    ck_assert_str_eq(o.s, "See below");
    strbuf_reset(&o);
    t = "> only a quote\n> nothing new\n";
    quote_new_text(t, strlen(t), &o);
    ck_assert_str_eq(o.s, t);
    strbuf_free(&o);
}
END_TEST

START_TEST(dsn_details)
{
    struct mail_msg *m = parse_str(
        "From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\nMessage-ID: <dsn1@mx>\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\n\n"
        "--R\nContent-Type: text/plain\n\nsorry\n"
        "--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
        "Final-Recipient: rfc822; gone@customer.example\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\n\n"
        "Final-Recipient: rfc822; slow@customer.example\nAction: delayed\nStatus: 4.4.1\n\n"
        "--R\nContent-Type: text/rfc822-headers\n\nMessage-ID: <ours-42@desk.example>\nSubject: [#42] hi\n\n"
        "--R--\n");
    ck_assert_int_eq(m->robot, MAIL_ROBOT_BOUNCE);
    ck_assert_str_eq(m->report_type, "delivery-status");
    ck_assert_str_eq(m->report_original_id, "ours-42@desk.example");
    ck_assert_uint_eq(m->ndsn, 2);
    ck_assert_str_eq(m->dsn[0].recipient, "gone@customer.example");
    ck_assert_str_eq(m->dsn[0].action, "failed");
    ck_assert_str_eq(m->dsn[0].status, "5.1.1");
    ck_assert_str_eq(m->dsn[0].diagnostic, "smtp; 550 5.1.1 no such user");
    ck_assert_str_eq(m->dsn[1].action, "delayed");
    mail_msg_free(&m);
}
END_TEST

/* ---- issue 11: fidelity on mail no one here wrote ------------------------ */

START_TEST(whitespace_lines_fold)
{
    /* a line of spaces inside the block is folding, not the end of it */
    struct mail_msg *m = parse_str("Subject: late invoice\n  \nFrom: Ann <ann@example.org>\n"
                                   "Message-ID: <ws1@example.org>\n\nbody\n");
    ck_assert_str_eq(m->subject, "late invoice  ");
    ck_assert_str_eq(m->from_addr, "ann@example.org");
    ck_assert_str_eq(m->message_id, "ws1@example.org");
    ck_assert_ptr_nonnull(strstr(m->problems.s, "whitespace-only line in the header block"));
    mail_msg_free(&m);
    /* before the first header (CRLF): skipped */
    m = parse_str(" \t \r\nFrom: bob@example.org\r\nSubject: hi\r\n\r\nbody\r\n");
    ck_assert_str_eq(m->from_addr, "bob@example.org");
    ck_assert_str_eq(m->subject, "hi");
    mail_msg_free(&m);
    /* inside a folded Content-Type: the boundary after it still counts */
    m = parse_str("From: c@example.org\nContent-Type: multipart/mixed;\n\t\n\tboundary=\"B\"\n\n"
                  "--B\nContent-Type: text/plain\n\nhello\n--B\nContent-Type: application/pdf; name=a.pdf\n\n"
                  "%PDF\n--B--\n");
    ck_assert_uint_eq(m->natt, 1);
    ck_assert_str_eq(m->att[0].filename, "a.pdf");
    ck_assert_str_eq(m->text.s, "hello");
    mail_msg_free(&m);
    /* encoded words on both sides of a whitespace-only line join */
    m = parse_str("Subject: =?utf-8?Q?caf=C3=A9?=\n\t\n =?utf-8?Q?_cr=C3=A8me?=\nFrom: d@example.org\n\nx\n");
    ck_assert_str_eq(m->subject, "café crème");
    mail_msg_free(&m);
    /* a byte order mark before the headers */
    m = parse_str("\xEF\xBB\xBF" "From: f@example.org\nSubject: bom\n\nx\n");
    ck_assert_str_eq(m->from_addr, "f@example.org");
    ck_assert_str_eq(m->subject, "bom");
    mail_msg_free(&m);
    /* an empty line still ends the block */
    m = parse_str("Subject: a\n\nFrom: e@example.org\n");
    ck_assert_ptr_null(m->from_addr);
    mail_msg_free(&m);
}
END_TEST

START_TEST(utf7_and_iso2022)
{
    struct strbuf o = STRBUF_INIT;
    struct charset_result r;
    const char *in = "=?utf-7?Q?Fr+APY-sche?= =?unicode-1-1-utf-7?B?K0FPUS1y?=";
    rfc2047_decode(in, strlen(in), NULL, &o);
    ck_assert_str_eq(o.s, "Fröscheär");
    strbuf_reset(&o);
    /* a UTF-7 body is all 7-bit, and still not ASCII */
    charset_to_utf8("Gr+APwA3w-e", 11, "utf-7", &o, &r);
    ck_assert_str_eq(o.s, "Grüße");
    strbuf_reset(&o);
    /* ISO-2022-JP as Windows writes it: NEC circled digits, half-width kana */
    in = "\x1b$B-!-\"\x1b(B \x1b(I12\x1b(B";
    charset_to_utf8(in, strlen(in), "iso-2022-jp", &o, &r);
    ck_assert_str_eq(o.s, "①② ｱｲ");
    ck_assert_uint_eq(r.bad, 0);
    strbuf_reset(&o);
    /* cut off in the middle of an escape: what came before survives */
    charset_to_utf8("\x1b$B-!\x1b(", 7, "iso-2022-jp", &o, &r);
    ck_assert_str_eq(o.s, "①");
    strbuf_reset(&o);
    /* 7-bit ISO-2022-JP under a label that cannot mean it */
    charset_to_utf8("\x1b$B$3$s$K$A$O\x1b(B", 16, "us-ascii", &o, &r);
    ck_assert_str_eq(o.s, "こんにちは");
    ck_assert(r.guessed);
    strbuf_reset(&o);
    /* raw ISO-2022-JP in a header, body charset us-ascii */
    in = "Returned mail: \x1b$B08@hITL@\x1b(B";
    rfc2047_decode(in, strlen(in), "us-ascii", &o);
    ck_assert_str_eq(o.s, "Returned mail: 宛先不明");
    strbuf_reset(&o);
    /* HZ (RFC 1843), which iconv does not know; Mac Cyrillic by its MIME name */
    in = "=?hz-gb-2312?Q?~{DcKC~}_ok?= =?x-mac-cyrillic?Q?=8F=F0=E8=E2=E5=F2?=";
    rfc2047_decode(in, strlen(in), NULL, &o);
    ck_assert_str_eq(o.s, "你嗣 okПривет");
    strbuf_reset(&o);
    /* an ISO-2022-JP label over Shift_JIS bytes (Japanese mailers do that) */
    in = "=?ISO-2022-JP?B?jKmQz4+Rgsw=?=";
    struct rfc2047_report rep;
    rfc2047_decode_report(in, strlen(in), NULL, &o, &rep);
    ck_assert_str_eq(o.s, "見積書の");
    ck_assert(rep.word_repaired);
    strbuf_reset(&o);
    /* "+" in a raw header is a plus, whatever the body's charset */
    in = "C++ and +AOk-";
    rfc2047_decode(in, strlen(in), "utf-7", &o);
    ck_assert_str_eq(o.s, "C++ and +AOk-");
    strbuf_free(&o);
}
END_TEST

static void header_bytes(const char *in, const char *hint, const char *want)
{
    struct strbuf o = STRBUF_INIT;
    struct charset_result r;
    charset_header_to_utf8(in, strlen(in), hint, &o, &r);
    ck_assert_msg(o.s != NULL && strcmp(o.s, want) == 0, "hint %s: got '%s' (%s), want '%s'",
                  hint ? hint : "-", o.s ? o.s : "", r.used, want);
    strbuf_free(&o);
}

START_TEST(raw_header_bytes)
{
    /* Shift_JIS and EUC-JP beside an ISO-2022-JP body */
    header_bytes("\x8c\xa9\x90\xcf\x8f\x91\x82\xcc\x8d\xc4\x94\xad\x8d\x73", "iso-2022-jp", "見積書の再発行");
    header_bytes("\xb8\xa6\xb5\xe6\xbc\xbc\xa4\xce\xa5\xa2\xa5\xab\xa5\xa6\xa5\xf3\xa5\xc8", "ISO-2022-JP",
                 "研究室のアカウント");
    /* the body's charset when it reads every byte */
    header_bytes("Gr\xfc\xdf""e", "iso-8859-1", "Grüße");
    header_bytes("\xf3\xce\xc5\xd4", "koi8-r", "Снет");
    /* no hint: short EUC-JP is Japanese, not Big5; windows-1251 not Mac */
    header_bytes("\xb8\xa6\xb5\xe6\xbc\xbc\xa4\xce\xa5\xa2\xa5\xab\xa5\xa6\xa5\xf3\xa5\xc8\xbf\xbd\xc0\xc1",
                 NULL, "研究室のアカウント申請");
    header_bytes("\xd1\xf7\xb8\xf2 \xed\xe5 \xef\xf0\xe8\xf8\xb8\xeb \xed\xe0 \xef\xee\xf7\xf2\xf3", NULL,
                 "Счёт не пришёл на почту");
    /* UTF-8 and ASCII as they are; us-ascii is no hint */
    header_bytes("na\xc3\xafve", "shift_jis", "naïve");
    header_bytes("plain", "iso-2022-jp", "plain");
    /* garbage: valid UTF-8 all the same */
    struct strbuf o = STRBUF_INIT;
    struct charset_result r;
    charset_header_to_utf8("\xff\xfe\x80\x81\xc3\x28", 6, "us-ascii", &o, &r);
    ck_assert(str_utf8_valid(o.s, o.len));
    ck_assert(r.guessed);
    strbuf_free(&o);
}
END_TEST

/* Deterministic garbage: 8-bit bytes, NUL, ESC, CR, quotes and brackets. */
static void garbage(unsigned *seed, struct strbuf *out, size_t n)
{
    static const char specials[] = { '\0', '\x1b', '"', '<', '>', '(', ')', ',', ';', ':', '=', '?', '\r' };
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        unsigned v = (*seed >> 16) & 0x7fff;
        if (v % 5 == 0)
            strbuf_addc(out, specials[v % sizeof(specials)]);
        else if (v % 3 == 0)
            strbuf_addc(out, (char)('a' + v % 26));
        else
            strbuf_addc(out, (char)(0x80 + v % 128));
    }
}

START_TEST(garbage_in_every_header_is_utf8)
{
    static const char *const names[] = { "Subject", "From", "To", "Cc", "Reply-To", "Message-ID",
        "In-Reply-To", "References", "Date", "Return-Path", "Auto-Submitted", "Precedence", "List-Id" };
    struct mail_limits lim;
    mail_limits_default(&lim);
    unsigned seed = 11;
    for (size_t round = 0; round < 40; round++) {
        for (size_t h = 0; h < sizeof(names) / sizeof(names[0]); h++) {
            struct strbuf raw = STRBUF_INIT;
            for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
                strbuf_addf(&raw, "%s: ", names[k]);
                if (k == h)
                    garbage(&seed, &raw, 8 + round * 3);
                else if (k == 1)
                    strbuf_adds(&raw, "Ann <ann@example.org>");
                else if (k == 5)
                    strbuf_adds(&raw, "<ok@example.org>");
                else
                    strbuf_adds(&raw, "x");
                strbuf_addc(&raw, '\n');
            }
            /* and in the MIME headers, a report and a returned message */
            strbuf_adds(&raw, "Content-Type: multipart/report; report-type=delivery-status; boundary=\"G\"\n\n--G\n"
                              "Content-Type: application/octet-stream; name=\"");
            garbage(&seed, &raw, 12);
            strbuf_adds(&raw, "\"\nContent-Disposition: attachment; filename*=utf-8''%ff%00%c3\nContent-ID: <");
            garbage(&seed, &raw, 6);
            strbuf_adds(&raw, ">\n\ndata\n--G\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n"
                              "Final-Recipient: rfc822; ");
            garbage(&seed, &raw, 10);
            strbuf_adds(&raw, "\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; ");
            garbage(&seed, &raw, 20);
            strbuf_adds(&raw, "\n\n--G\nContent-Type: message/rfc822\n\nSubject: ");
            garbage(&seed, &raw, 10);
            strbuf_adds(&raw, "\nMessage-ID: <");
            garbage(&seed, &raw, 10);
            strbuf_adds(&raw, ">\n\nbody\n--G--\n");

            struct mail_msg *m = mail_parse(raw.s, raw.len, &lim);
            const char *bad = first_bad_field(m);
            ck_assert_msg(bad == NULL, "round %zu, garbage in %s: %s not valid UTF-8", round, names[h], bad);
            /* the repair is on record */
            ck_assert_msg(m->problems.len > 0, "round %zu, %s: no problem noted", round, names[h]);
            json_t *j = mail_summary_json(m);
            char *dump = json_dumps(j, JSON_COMPACT);
            ck_assert_ptr_nonnull(dump);
            ck_assert_ptr_null(strstr(dump, "(invalid UTF-8)"));
            free(dump);
            json_decref(j);
            mail_msg_free(&m);
            strbuf_free(&raw);
        }
    }
}
END_TEST

START_TEST(raw_8bit_addresses)
{
    struct mail_msg *m = parse_str("From: J\xf6rg <j\xf6rg@example.de>\nTo: \"M\xfcller\" <m@example.de>, "
                                   "b\xe9\xe9@example.de\nSubject: x\nContent-Type: text/plain; charset=iso-8859-1\n\nhi\n");
    ck_assert_str_eq(m->from_addr, "jörg@example.de");
    ck_assert_str_eq(m->from_name, "Jörg");
    ck_assert_uint_eq(m->nto, 2);
    ck_assert_str_eq(m->to[0], "m@example.de");
    ck_assert_str_eq(m->to[1], "béé@example.de");
    ck_assert_ptr_nonnull(strstr(m->problems.s, "raw bytes in From"));
    ck_assert_ptr_nonnull(strstr(m->problems.s, "raw bytes in To"));
    mail_msg_free(&m);
    /* a From of one bare word is that word (Python, mail clients); a phrase is none */
    m = parse_str("From: MAILER-DAEMON (Mail Delivery System)\nSubject: failure notice\n\nx\n");
    ck_assert_str_eq(m->from_addr, "MAILER-DAEMON");
    ck_assert_int_eq(m->robot, MAIL_ROBOT_BOUNCE);
    mail_msg_free(&m);
    m = parse_str("From: Mail Delivery System\nSubject: x\n\nx\n");
    ck_assert_ptr_null(m->from_addr);
    mail_msg_free(&m);
    struct strbuf w = STRBUF_INIT;
    mailhdr_bare_word("\"Post\\\"master\" (x)", &w);
    ck_assert_str_eq(w.s, "Post\"master");
    strbuf_reset(&w);
    mailhdr_bare_word("a@b.example", &w);
    ck_assert_uint_eq(w.len, 0);
    strbuf_free(&w);
    /* ISO-2022-JP escapes hold ':' and '#': decoded before the address is read */
    m = parse_str("From: \x1b$B:4F#\x1b(B <sato@example.jp>\nSubject: x\n\nhi\n");
    ck_assert_str_eq(m->from_addr, "sato@example.jp");
    ck_assert_str_eq(m->from_name, "佐藤");
    mail_msg_free(&m);
}
END_TEST

static void robot_case(const char *raw, enum mail_robot want, const char *reason_prefix)
{
    struct mail_msg *m = parse_str(raw);
    const char *why = m->robot_reason ? m->robot_reason : "";
    ck_assert_msg(m->robot == want && strncmp(why, reason_prefix, strlen(reason_prefix)) == 0,
                  "got %s (%s), want %s (%s...) for:\n%s", mail_robot_name(m->robot), why,
                  mail_robot_name(want), reason_prefix, raw);
    mail_msg_free(&m);
}

START_TEST(robot_signals)
{
    /* weak signals alone make no robot */
    robot_case("From: a@example.org\nPrecedence: bulk\nSubject: member import\n\nhi\n", MAIL_ROBOT_NONE, "");
    robot_case("From: shop@example.org\nList-Unsubscribe: <mailto:u@example.org>\nSubject: invoice\n\nhi\n",
               MAIL_ROBOT_NONE, "");
    robot_case("From: n@example.org\nList-Id: <770 news.example.org>\nSubject: news\n\nhi\n", MAIL_ROBOT_NONE, "");
    /* ... but standard list headers do, and together weak ones do */
    robot_case("From: n@example.org\nList-Id: Users <users.lists.example.org>\nSubject: q\n\nhi\n",
               MAIL_ROBOT_LIST, "header: List-Id");
    robot_case("From: n@example.org\nList-Unsubscribe: <mailto:u@example.org>\nPrecedence: bulk\nSubject: q\n\nhi\n",
               MAIL_ROBOT_LIST, "header: List-Unsubscribe + Precedence bulk");
    robot_case("Return-Path: <>\nFrom: a@example.org\nPrecedence: bulk\nSubject: Thanks\n\nhi\n",
               MAIL_ROBOT_AUTOREPLY, "weak: empty Return-Path + Precedence bulk");
    robot_case("Return-Path: <>\nFrom: a@example.org\nSubject: Thanks\n\nhi\n", MAIL_ROBOT_AUTOREPLY, "weak:");
    /* an auto-reply that quotes a failure is an auto-reply */
    robot_case("Return-Path: <>\nFrom: p@example.nl\nAuto-Submitted: auto-replied\n"
               "Subject: Automatic reply: Undeliverable: order 5521\n\nOn holiday.\n",
               MAIL_ROBOT_AUTOREPLY, "header: Auto-Submitted + auto-reply subject");
    robot_case("From: s@example.fr\nX-Autoreply: yes\nSubject: Re: Returned mail: see transcript\n\nAway.\n",
               MAIL_ROBOT_AUTOREPLY, "header: X-Autoreply");
    /* bounces: daemon + subject, text from anyone, never a person's quote */
    robot_case("From: MAILER-DAEMON@mx.example.org\nSubject: failure notice\n\nsorry\n", MAIL_ROBOT_BOUNCE,
               "sender: MAILER-DAEMON + failure subject");
    robot_case("From: Notices <notices@relay.example.org>\nSubject: Nachricht nicht zustellbar\n\n"
               "Hi. This is the qmail-send program at relay.example.org.\n"
               "I'm afraid I wasn't able to deliver your message to the following addresses.\n",
               MAIL_ROBOT_BOUNCE, "text: qmail bounce");
    robot_case("From: ann@example.org\nSubject: Re: Undelivered Mail Returned to Sender\n\nWhy?\n\n"
               "> This is the mail system at host mx.example.org.\n", MAIL_ROBOT_NONE, "");
    robot_case("From: Mail Delivery System <relay@example.org>\nSubject: hmm\n\n"
               "This message was created automatically by mail delivery software.\n",
               MAIL_ROBOT_BOUNCE, "sender: MAILER-DAEMON + Exim bounce text");
    robot_case("From: x@example.org\nX-Failed-Recipients: y@example.org\nSubject: hmm\n\nz\n",
               MAIL_ROBOT_BOUNCE, "header: X-Failed-Recipients");
    robot_case("From: postmaster@example.org\nSubject: Delivery report\nContent-Type: multipart/report; "
               "report-type=delivery-status; boundary=R\n\n--R\nContent-Type: text/plain\n\nx\n--R\n"
               "Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b.example\nAction: failed\n\n--R--\n",
               MAIL_ROBOT_BOUNCE, "report: multipart/report delivery-status");
    robot_case("From: Sales <sales@example.org>\nAuto-Submitted: auto-generated\nSubject: Your ticket\n\nx\n",
               MAIL_ROBOT_AUTOREPLY, "header: Auto-Submitted auto-generated");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mime");
    TCase *tc = tcase_create("mime");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, corpus_matches_expect);
    tcase_add_test(tc, line_endings_do_not_matter);
    tcase_add_test(tc, encoded_words);
    tcase_add_test(tc, rfc2231_parameters);
    tcase_add_test(tc, charsets);
    tcase_add_test(tc, addresses);
    tcase_add_test(tc, lenient_header_block);
    tcase_add_test(tc, bad_inputs_do_not_crash);
    tcase_add_test(tc, attachments_and_bodies);
    tcase_add_test(tc, html_sanitiser);
    tcase_add_test(tc, new_text_without_quotes);
    tcase_add_test(tc, dsn_details);
    tcase_add_test(tc, whitespace_lines_fold);
    tcase_add_test(tc, utf7_and_iso2022);
    tcase_add_test(tc, raw_header_bytes);
    tcase_add_test(tc, garbage_in_every_header_is_utf8);
    tcase_add_test(tc, raw_8bit_addresses);
    tcase_add_test(tc, robot_signals);
    tcase_add_test(tc, deep_nesting_is_cut_not_lost);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
