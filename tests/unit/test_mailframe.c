/* test_mailframe -- the document a message's HTML is shown in: cid:
 * images as data: URLs, remote images only when asked, nothing else that
 * loads, and tags that do not read as the sanitiser writes them fail
 * closed; its Content-Security-Policy. */
#include "config.h"
#include "web/mailframe.h"

#include <check.h>
#include <string.h>

static struct strbuf render(const char *html, bool remote)
{
    static const struct mailframe_image imgs[] = {
        { "<Logo@X>", "data:image/png;base64,aGVsbG8=" }, { "plain@x", "data:image/gif;base64,R0lG" } };
    struct strbuf out = STRBUF_INIT;
    mailframe_render(html, strlen(html), imgs, 2, remote, &out);
    return out;
}

START_TEST(images)
{
    const char *h = "<p>Hi <img src=\"cid:logo@x\" alt=\"a\"><img src=\"cid:%3Cplain@x%3E\">"
                    "<img src=\"cid:missing@x\" alt=\"gone\"><img data-remote-src=\"https://t.example/p.gif?a=1&amp;b=2\" width=\"1\">"
                    "<img src=\"data:image/png;base64,AAAA\"><img src=\"https://direct.example/x.png\"></p>"
                    "<p>1 &lt; 2 &amp;&amp; <b>bold</b></p>";
    struct strbuf o = render(h, false);
    ck_assert_ptr_nonnull(strstr(o.s, "<!doctype html>"));
    ck_assert_ptr_nonnull(strstr(o.s, "<img src=\"data:image/png;base64,aGVsbG8=\" alt=\"a\">"));
    ck_assert_ptr_nonnull(strstr(o.s, "<img src=\"data:image/gif;base64,R0lG\">"));
    ck_assert_ptr_nonnull(strstr(o.s, "<img alt=\"gone\">"));
    ck_assert_ptr_nonnull(strstr(o.s, "<img data-remote-src=\"https://t.example/p.gif?a=1&amp;b=2\" width=\"1\">"));
    ck_assert_ptr_nonnull(strstr(o.s, "<img src=\"data:image/png;base64,AAAA\">"));
    ck_assert_ptr_null(strstr(o.s, "direct.example"));
    ck_assert_ptr_nonnull(strstr(o.s, "<p>1 &lt; 2 &amp;&amp; <b>bold</b></p>"));
    strbuf_free(&o);
    o = render(h, true);
    ck_assert_ptr_nonnull(strstr(o.s, "<img src=\"https://t.example/p.gif?a=1&amp;b=2\" width=\"1\">"));
    ck_assert_ptr_null(strstr(o.s, "direct.example"));     /* only what the sanitiser set aside */
    strbuf_free(&o);
}
END_TEST

START_TEST(fails_closed)
{
    static const char *const odd[] = {
        "<img src=x onerror=alert(1)>", "<img src='https://e.example/a'>", "<img data-remote-src=https://e.example/a>",
        "<img src=\"cid:logo@x\" onerror=\"alert(1)\" x>", "<img \"src\"=\"a\">",
    };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        struct strbuf o = render(odd[i], true);
        ck_assert_msg(strstr(o.s, "<img alt=\"\">") != NULL, "%s -> %s", odd[i], o.s);
        ck_assert_ptr_null(strstr(o.s, "e.example"));
        ck_assert_ptr_null(strstr(o.s, "onerror"));
        strbuf_free(&o);
    }
    /* a tag running into the next one loses its attributes; a tag without
     * an end ends the document */
    struct strbuf o = render("<p>a</p><img src=\"cid:logo@x\" <p>next", false);
    ck_assert_ptr_nonnull(strstr(o.s, "<p>a</p><img alt=\"\">next"));
    strbuf_free(&o);
    o = render("<p>a</p><img src=\"cid:logo@x\" alt=\"never", false);
    ck_assert_ptr_null(strstr(o.s, "never"));
    ck_assert_ptr_nonnull(strstr(o.s, "<p>a</p></body></html>"));
    strbuf_free(&o);
    /* other tags are copied as they are; <imgx> is not an image */
    o = render("<imgx src=\"a\"><image></image>", false);
    ck_assert_ptr_nonnull(strstr(o.s, "<imgx src=\"a\"><image></image>"));
    strbuf_free(&o);
}
END_TEST

START_TEST(policy_and_data_urls)
{
    const char *b = mailframe_csp(false), *a = mailframe_csp(true);
    ck_assert_ptr_nonnull(strstr(b, "img-src data:;"));
    ck_assert_ptr_null(strstr(b, "https:"));
    ck_assert_ptr_nonnull(strstr(a, "img-src data: https:;"));
    for (int i = 0; i < 2; i++) {
        const char *p = i ? a : b;
        ck_assert_ptr_nonnull(strstr(p, "default-src 'none'"));
        ck_assert_ptr_nonnull(strstr(p, "frame-ancestors 'self'"));
        ck_assert_ptr_nonnull(strstr(p, "sandbox allow-popups allow-popups-to-escape-sandbox"));
        ck_assert_ptr_null(strstr(p, "script"));
        ck_assert_ptr_null(strstr(p, "allow-same-origin"));
    }
    struct strbuf o = STRBUF_INIT;
    mailframe_data_url("image/png", (const unsigned char *)"hello", 5, &o);
    ck_assert_str_eq(o.s, "data:image/png;base64,aGVsbG8=");
    strbuf_reset(&o);
    mailframe_data_url("image/gif", (const unsigned char *)"", 0, &o);
    ck_assert_str_eq(o.s, "data:image/gif;base64,");
    strbuf_free(&o);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mailframe");
    TCase *tc = tcase_create("mailframe");
    tcase_add_test(tc, images);
    tcase_add_test(tc, fails_closed);
    tcase_add_test(tc, policy_and_data_urls);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
