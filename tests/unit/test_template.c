/* test_template -- mail templates (mail/template.h): values can never change
 * the markup, unknown variables are errors, the built-in templates all
 * render with the variables the outbox gives them. */
#include "config.h"
#include "mailout/template.h"
#include "lib/strbuf.h"

#include <check.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

static int render(const char *src, const struct tmpl_var *v, size_t n, struct strbuf *subj,
                  struct strbuf *text, struct strbuf *html, const char **e)
{
    return tmpl_render(src, v, n, subj, text, html, e);
}

START_TEST(values_are_escaped_not_markup)
{
    struct tmpl_var v[] = {
        { "name", "<script>alert(1)</script> **bold** [link](javascript:x)" },
        { "url", "https://desk.example.com/t?a=1&b=\"2\"" },
    };
    struct strbuf s = STRBUF_INIT, t = STRBUF_INIT, h = STRBUF_INIT;
    ck_assert_int_eq(render("Subject: Hi {{name}}\n---\nHello {{name}}, see [here]({{url}}).\n",
                            v, 2, &s, &t, &h, NULL), 0);
    ck_assert_ptr_null(strstr(h.s, "<script>"));
    ck_assert_ptr_nonnull(strstr(h.s, "&lt;script&gt;"));
    ck_assert_ptr_null(strstr(h.s, "<strong>bold"));          /* markdown in a value stays text */
    ck_assert_ptr_null(strstr(h.s, "href=\"javascript"));
    ck_assert_ptr_nonnull(strstr(h.s, "href=\"https://desk.example.com/t?a=1&amp;b=&quot;2&quot;\""));
    /* the subject gets the raw value, the text part the readable one */
    ck_assert_str_eq(s.s, "Hi <script>alert(1)</script> **bold** [link](javascript:x)");
    ck_assert_ptr_nonnull(strstr(t.s, "<script>alert(1)</script>"));
    strbuf_free(&s);
    strbuf_free(&t);
    strbuf_free(&h);
}
END_TEST

START_TEST(template_markup_is_rendered_raw_html_is_not)
{
    struct strbuf s = STRBUF_INIT, t = STRBUF_INIT, h = STRBUF_INIT;
    ck_assert_int_eq(render("Subject: x\n---\n**Ticket** <img src=x onerror=alert(1)>\n", NULL, 0,
                            &s, &t, &h, NULL), 0);
    ck_assert_ptr_nonnull(strstr(h.s, "<strong>Ticket</strong>"));
    ck_assert_ptr_null(strstr(h.s, "<img"));                  /* raw HTML in a template is dropped */
    strbuf_free(&s);
    strbuf_free(&t);
    strbuf_free(&h);
}
END_TEST

START_TEST(multi_line_values_keep_their_shape)
{
    struct tmpl_var v[] = { { "message", "line one\nline two\n\n> quoted <b>" } };
    struct strbuf s = STRBUF_INIT, t = STRBUF_INIT, h = STRBUF_INIT;
    ck_assert_int_eq(render("Subject: {{message}}\n---\n{{message}}\n", v, 1, &s, &t, &h, NULL), 0);
    ck_assert_ptr_nonnull(strstr(h.s, "<pre"));
    ck_assert_ptr_nonnull(strstr(h.s, "&gt; quoted &lt;b&gt;"));
    ck_assert_ptr_null(strstr(h.s, "<p><pre"));               /* the block replaces the paragraph */
    ck_assert_ptr_nonnull(strstr(t.s, "line one\nline two"));
    ck_assert_ptr_null(strchr(s.s, '\n'));                     /* a subject is one line */
    strbuf_free(&s);
    strbuf_free(&t);
    strbuf_free(&h);
}
END_TEST

START_TEST(mistakes_are_errors)
{
    struct strbuf s = STRBUF_INIT, t = STRBUF_INIT, h = STRBUF_INIT;
    const char *e = NULL;
    struct tmpl_var v[] = { { "ticket", "1" } };
    ck_assert_int_eq(render("Subject: [#{{ticket}}]\n---\n{{tikcet}}\n", v, 1, &s, &t, &h, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "tikcet"));
    ck_assert_int_eq(render("no subject line\n---\nbody\n", v, 1, &s, &t, &h, &e), -1);
    ck_assert_int_eq(render("Subject: x\nbody without separator\n", v, 1, &s, &t, &h, &e), -1);
    ck_assert_int_eq(render("Subject: x\n---\n{{ticket\n", v, 1, &s, &t, &h, &e), -1);
    strbuf_free(&s);
    strbuf_free(&t);
    strbuf_free(&h);
}
END_TEST

/* What the admin page's editor shows: each problem with its part and line. */
START_TEST(problems_have_part_and_line)
{
    struct tmpl_problem p[8];
    ck_assert_int_eq(tmpl_problems("ack", "[#{{ticket}}] {{subject}}", "Hi {{customer_name}}\n", p, 8), 0);
    ck_assert_int_eq(tmpl_problems("nope", "x", "y", p, 8), -1);
    /* an unknown variable in the subject, another on body line 3, an
     * unclosed one on body line 4 (which ends the scan of the body) */
    int n = tmpl_problems("ack", "{{tickt}}", "a\nb\nc {{rate_url}}\nd {{oops\ne {{", p, 8);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(p[0].part, "subject");
    ck_assert_int_eq(p[0].line, 1);
    ck_assert_ptr_nonnull(strstr(p[0].message, "tickt"));
    ck_assert_str_eq(p[1].part, "body");
    ck_assert_int_eq(p[1].line, 3);
    ck_assert_ptr_nonnull(strstr(p[1].message, "rate_url"));
    ck_assert_int_eq(p[2].line, 4);
    ck_assert_ptr_nonnull(strstr(p[2].message, "without"));
    /* a subject of two lines is one problem more; counts go on past max */
    ck_assert_int_eq(tmpl_problems("ack", "a\nBcc: x", "{{x}} {{y}} {{z}}", p, 2), 4);
    /* a variable spanning lines still counts them */
    n = tmpl_problems("ack", "s", "{{ ticket\n }}\n{{nope}}", p, 8);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(p[1].line, 3);
    /* every name is listed and known */
    int names = 0;
    for (const char *x; (x = tmpl_name_at((size_t)names)) != NULL; names++)
        ck_assert_ptr_nonnull(tmpl_variables(x));
    ck_assert_int_eq(names, 11);
}
END_TEST

START_TEST(builtins_render)
{
    static const char *const names[] = { "ack", "reply", "notify_new", "notify_reply",
                                         "notify_assign", "notice", "signin", "reset", "invite",
                                         "verify", "solved" };
    struct tmpl_var v[] = {
        { "ticket", "42" }, { "subject", "Printer" }, { "reply_subject", "Re: [#42] Printer" },
        { "message", "text" }, { "queue_name", "Support" }, { "portal_url", "https://x/p/42" },
        { "desk_url", "https://x/d/42" }, { "agent_name", "Ann" }, { "customer_name", "Carla" },
        { "customer_email", "carla@example.org" }, { "note_marker", "#note" },
        { "notice_title", "SLA breach" }, { "notice_body", "late" },
        { "portal_title", "Help" }, { "link_url", "https://x/portal/link#abc" },
        { "expires", "in 1 hour" }, { "rate_url", "https://x/portal/rate#t=1" },
        { "rate_1", "https://x/r1" }, { "rate_2", "https://x/r2" }, { "rate_3", "https://x/r3" },
        { "rate_4", "https://x/r4" }, { "rate_5", "https://x/r5" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *src = tmpl_builtin(names[i]);
        ck_assert_msg(src != NULL, "no built-in %s", names[i]);
        struct strbuf s = STRBUF_INIT, t = STRBUF_INIT, h = STRBUF_INIT;
        const char *e = NULL;
        ck_assert_msg(render(src, v, sizeof(v) / sizeof(v[0]), &s, &t, &h, &e) == 0, "%s: %s",
                      names[i], e);
        bool account = strcmp(names[i], "signin") == 0 || strcmp(names[i], "reset") == 0
                       || strcmp(names[i], "invite") == 0 || strcmp(names[i], "verify") == 0;
        if (!account)
            ck_assert_msg(strstr(s.s, "42") != NULL, "%s: subject without the ticket number", names[i]);
        else
            ck_assert_msg(strstr(t.s, "https://x/portal/link#abc") != NULL, "%s lost the link", names[i]);
        if (strcmp(names[i], "solved") == 0)
            ck_assert_msg(strstr(h.s, "https://x/r5") != NULL && strstr(h.s, "https://x/r1") != NULL,
                          "solved: the rating links are missing");
        if (strcmp(names[i], "notify_new") == 0 || strcmp(names[i], "notify_reply") == 0)
            ck_assert_msg(strstr(t.s, "carla@example.org") != NULL, "%s lost the address", names[i]);
        strbuf_free(&s);
        strbuf_free(&t);
        strbuf_free(&h);
    }
    ck_assert_ptr_null(tmpl_builtin("nope"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("template");
    tcase_add_test(tc, values_are_escaped_not_markup);
    tcase_add_test(tc, template_markup_is_rendered_raw_html_is_not);
    tcase_add_test(tc, multi_line_values_keep_their_shape);
    tcase_add_test(tc, mistakes_are_errors);
    tcase_add_test(tc, builtins_render);
    tcase_add_test(tc, problems_have_part_and_line);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
