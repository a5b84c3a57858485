/* test_filetype -- what an upload is (the bytes decide, never the name or
 * a claimed type that would make it active content) and what it may be
 * called (no paths, controls, quotes, hidden or reordering characters). */
#include "config.h"
#include "lib/filetype.h"

#include <check.h>
#include <string.h>

static const char *sniff(const char *data, size_t len, const char *declared)
{
    static char out[FILETYPE_TYPE_MAX + 1];
    filetype_sniff((const unsigned char *)data, len, declared, out);
    return out;
}
#define SNIFF(lit, decl) sniff((lit), sizeof(lit) - 1, (decl))

START_TEST(the_bytes_decide)
{
    ck_assert_str_eq(SNIFF("%PDF-1.7\n...", "text/plain"), "application/pdf");
    ck_assert_str_eq(SNIFF("\x89PNG\r\n\x1a\n\0\0", "image/svg+xml"), "image/png");
    ck_assert_str_eq(SNIFF("\xff\xd8\xff\xe0..", NULL), "image/jpeg");
    ck_assert_str_eq(SNIFF("GIF89a....", "text/html"), "image/gif");
    ck_assert_str_eq(SNIFF("RIFF\x10\0\0\0WEBPVP8 ", NULL), "image/webp");
    ck_assert_str_eq(SNIFF("RIFF\x10\0\0\0WAVEfmt ", "audio/wav"), "audio/wav");   /* RIFF alone is no WebP */
    ck_assert_str_eq(SNIFF("\x1f\x8b\x08\0", "application/x-gzip"), "application/gzip");
    /* a zip container: the precise type is believed, anything else is a zip */
    ck_assert_str_eq(SNIFF("PK\x03\x04....", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                     "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    ck_assert_str_eq(SNIFF("PK\x03\x04....", "text/html"), "application/zip");
    ck_assert_str_eq(SNIFF("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1..", "application/msword"), "application/msword");
    ck_assert_str_eq(SNIFF("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1..", "text/html"), "application/octet-stream");
}
END_TEST

START_TEST(text_is_text_whatever_it_claims)
{
    ck_assert_str_eq(SNIFF("<script>alert(1)</script>", "text/html"), "text/plain; charset=utf-8");
    ck_assert_str_eq(SNIFF("<svg onload=alert(1)>", "image/svg+xml"), "text/plain; charset=utf-8");
    ck_assert_str_eq(SNIFF("a,b\n1,2\n", "text/csv; charset=latin1"), "text/csv; charset=utf-8");
    ck_assert_str_eq(SNIFF("h\xc3\xa9llo w\xc3\xb6rld\n", NULL), "text/plain; charset=utf-8");
    /* not UTF-8, or binary: not text */
    ck_assert_str_eq(SNIFF("h\xe9llo", "text/plain"), "application/octet-stream");
    ck_assert_str_eq(SNIFF("a\0b", "text/plain"), "application/octet-stream");
    ck_assert_str_eq(SNIFF("\xed\xa0\x80", NULL), "application/octet-stream");   /* a surrogate */
    ck_assert_str_eq(SNIFF("\x01\x02\x03\x04\x05", NULL), "application/octet-stream");
}
END_TEST

START_TEST(unknown_bytes_keep_a_harmless_declared_type)
{
    ck_assert_str_eq(SNIFF("\x00\x01\x02\xff", "application/x-custom"), "application/x-custom");
    ck_assert_str_eq(SNIFF("\x00\x01\x02\xff", "Application/X-Custom; name=x"), "application/x-custom");
    static const char *const refused[] = { "text/html", "image/png", "image/svg+xml", "application/xhtml+xml",
        "application/javascript", "multipart/mixed", "message/rfc822", "application/atom+xml", "application/pdf",
        "text/plain", "no slash", "a/b/c", "/x", "x/", "a b/c", "", NULL };
    for (int i = 0; refused[i]; i++)
        ck_assert_msg(strcmp(SNIFF("\x00\x01\x02\xff", refused[i]), "application/octet-stream") == 0, "%s", refused[i]);
    ck_assert_str_eq(SNIFF("\x00\x01\x02\xff", NULL), "application/octet-stream");
}
END_TEST

static const char *clean(const char *name)
{
    static char out[FILETYPE_NAME_MAX + 1];
    filetype_clean_name(name, out);
    return out;
}

START_TEST(names)
{
    ck_assert_str_eq(clean("report.pdf"), "report.pdf");
    ck_assert_str_eq(clean("C:\\Users\\me\\report.pdf"), "report.pdf");
    ck_assert_str_eq(clean("../../etc/passwd"), "passwd");
    ck_assert_str_eq(clean("<img src=x onerror=alert(1)>.txt"), "_img src=x onerror=alert(1)_.txt");
    ck_assert_str_eq(clean("a\"b|c?d*e:f.txt"), "a_b_c_d_e_f.txt");
    ck_assert_str_eq(clean("line\r\nbreak\t.txt"), "linebreak.txt");
    ck_assert_str_eq(clean(".htaccess"), "htaccess");
    ck_assert_str_eq(clean("  ..  "), "attachment");
    ck_assert_str_eq(clean("dots..."), "dots");
    ck_assert_str_eq(clean(""), "attachment");
    ck_assert_str_eq(clean(NULL), "attachment");
    ck_assert_str_eq(clean("dir/"), "attachment");
    ck_assert_str_eq(clean("r\xc3\xa9sum\xc3\xa9.pdf"), "résumé.pdf");
    ck_assert_str_eq(clean("bad\xff\xfe.txt"), "bad__.txt");
    /* right-to-left override: "cod.exe" shown as "exe.doc" */
    ck_assert_str_eq(clean("invoice\xe2\x80\xae" "cod.exe"), "invoicecod.exe");
    ck_assert_str_eq(clean("zero\xe2\x80\x8bwidth\xef\xbb\xbf.txt"), "zerowidth.txt");
    /* long: cut on a character, the extension kept */
    char lng[1000];
    memset(lng, 0, sizeof(lng));
    for (int i = 0; i < 150; i++)
        strcat(lng, "\xc3\xa9");      /* 300 bytes of é */
    strcat(lng, ".docx");
    const char *c = clean(lng);
    ck_assert_uint_le(strlen(c), FILETYPE_NAME_MAX);
    ck_assert_str_eq(c + strlen(c) - 5, ".docx");
    ck_assert_uint_eq((strlen(c) - 5) % 2, 0);       /* no é was split */
    memset(lng, 'a', 400);
    lng[400] = '\0';
    ck_assert_uint_eq(strlen(clean(lng)), FILETYPE_NAME_MAX);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("filetype");
    TCase *tc = tcase_create("filetype");
    tcase_add_test(tc, the_bytes_decide);
    tcase_add_test(tc, text_is_text_whatever_it_claims);
    tcase_add_test(tc, unknown_bytes_keep_a_harmless_declared_type);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
