/* test_placeholder -- canned responses' and macros' placeholders: the
 * documented set filled, spaces inside the braces allowed, anything
 * unknown left as written and reported once, braces that are no
 * placeholder left alone. */
#include "config.h"
#include "desk/placeholder.h"

#include <check.h>
#include <string.h>

START_TEST(filled_and_unknown)
{
    struct placeholder_values v = {
        .customer_name = "Carla", .customer_email = "c@x.example", .ticket_number = "42",
        .ticket_subject = "Printer {{on}} fire", .agent_name = "Alex", .agent_email = "a@x.example",
        .queue_name = "Support", .org_name = "",
    };
    struct strbuf o = STRBUF_INIT;
    json_t *unk = json_array();
    placeholder_render("Hi {{customer.name}} <{{ customer.email }}>, [#{{ticket.number}}] {{ticket.subject}}"
                       " / {{queue.name}} / {{org.name}} / {{agent.name}} {{agent.email}} {{Customer.Name}}"
                       " {{nope}} {{nope}} {{}} {{ a\nb }} {{ never closed", &v, &o, unk);
    ck_assert_str_eq(o.s, "Hi Carla <c@x.example>, [#42] Printer {{on}} fire /"
                     " Support /  / Alex a@x.example {{Customer.Name}} {{nope}} {{nope}} {{}} {{ a\nb }} {{ never closed");
    ck_assert_uint_eq(json_array_size(unk), 3);
    ck_assert_str_eq(json_string_value(json_array_get(unk, 0)), "{{Customer.Name}}");
    ck_assert_str_eq(json_string_value(json_array_get(unk, 1)), "{{nope}}");
    ck_assert_str_eq(json_string_value(json_array_get(unk, 2)), "{{}}");
    json_decref(unk);
    strbuf_reset(&o);
    /* values are not read again: a value holding braces stays as it is */
    placeholder_render("{{ticket.subject}}", &v, &o, NULL);
    ck_assert_str_eq(o.s, "Printer {{on}} fire");
    strbuf_reset(&o);
    placeholder_render("", &v, &o, NULL);
    ck_assert_str_eq(strbuf_str(&o), "");
    placeholder_render(NULL, &v, &o, NULL);
    ck_assert_str_eq(strbuf_str(&o), "");
    /* a name over 64 characters is no placeholder */
    char lng[200] = "{{";
    memset(lng + 2, 'x', 70);
    strcpy(lng + 72, "}}");
    placeholder_render(lng, &v, &o, NULL);
    ck_assert_str_eq(o.s, lng);
    strbuf_free(&o);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("placeholder");
    TCase *tc = tcase_create("placeholder");
    tcase_add_test(tc, filled_and_unknown);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
