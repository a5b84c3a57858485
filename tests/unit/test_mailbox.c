/* test_mailbox -- where a mailbox password may come from and over what
 * link it may be sent (desk/mailbox.h). */
#include "config.h"
#include "core/conf.h"
#include "desk/mailbox.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(password_variables_have_their_own_namespace)
{
    const char *why = NULL;
    static const char *const ok[] = { "ATUM_IMAP_PASSWORD_SUPPORT", "ATUM_IMAP_PASSWORD_X1_2" };
    static const char *const bad[] = {
        "ATUM_CORE_SECRET_KEY", "ATUM_CORE_DATABASE_URL", "ATUM_SMARTHOST_PASSWORD", "HOME",
        "PGPASSWORD", "ATUM_IMAP_PASSWORD_", "ATUM_IMAP_PASSWORD", "ATUM_IMAP_CA_FILE",
        "ATUM_IMAP_PASSWORD_support", "ATUM_IMAP_PASSWORD_A-B", "ATUM_IMAP_PASSWORD_A B",
        "atum_imap_password_x", "", "X_ATUM_IMAP_PASSWORD_Y",
        "ATUM_IMAP_PASSWORD_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(mailbox_password_env_check(ok[i], &why) == 0, "%s: %s", ok[i], why);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(mailbox_password_env_check(bad[i], &why) < 0, "accepted %s", bad[i]);
    ck_assert_int_lt(mailbox_password_env_check(NULL, &why), 0);
}
END_TEST

/* No configuration key may ever be overridden by a variable of the
 * mailbox namespace: atumd's own settings stay out of reach. */
static void no_key_in_namespace(const char *section, const char *key, void *ctx)
{
    char name[160];
    (void)ctx;
    conf_env_name(name, sizeof(name), section, key);
    ck_assert_msg(strncmp(name, MAILBOX_PASSWORD_ENV_PREFIX, strlen(MAILBOX_PASSWORD_ENV_PREFIX)) != 0,
                  "configuration key %s.%s is overridden by %s, a mailbox password variable",
                  section, key, name);
}

START_TEST(no_setting_lives_in_the_namespace)
{
    conf_foreach_key(no_key_in_namespace, NULL);
    char name[160];
    conf_env_name(name, sizeof(name), "imap", "password_x");
    ck_assert_str_eq(name, "ATUM_IMAP_PASSWORD_X");   /* what the check above would catch */
}
END_TEST

START_TEST(insecure_links_only_on_loopback_when_allowed)
{
    const char *why = NULL;
    static const char *const loop[] = { "127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST" };
    static const char *const far[] = { "imap.example.com", "10.0.0.1", "128.0.0.1", "::ffff:127.0.0.1x",
                                       "localhost.evil.example", "127.0.0.1.evil.example", "", "0.0.0.0" };
    for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++)
        ck_assert_msg(mailbox_host_is_loopback(loop[i]), "%s", loop[i]);
    for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++)
        ck_assert_msg(!mailbox_host_is_loopback(far[i]), "%s", far[i]);
    ck_assert(!mailbox_host_is_loopback(NULL));

    struct mailbox_link tls = { "imap.example.com", "tls", false };
    struct mailbox_link starttls = { "imap.example.com", "starttls", false };
    struct mailbox_link plain_far = { "imap.example.com", "none", false };
    struct mailbox_link trust_far = { "imap.example.com", "tls", true };
    struct mailbox_link plain_loop = { "127.0.0.1", "none", false };
    struct mailbox_link trust_loop = { "localhost", "starttls", true };
    struct mailbox_link odd = { "127.0.0.1", "ssl", false };
    for (int allowed = 0; allowed < 2; allowed++) {
        ck_assert_int_eq(mailbox_link_check(&tls, allowed, &why), 0);
        ck_assert_int_eq(mailbox_link_check(&starttls, allowed, &why), 0);
        ck_assert_int_lt(mailbox_link_check(&plain_far, allowed, &why), 0);
        ck_assert_int_lt(mailbox_link_check(&trust_far, allowed, &why), 0);
        ck_assert_int_lt(mailbox_link_check(&odd, allowed, &why), 0);
        ck_assert_int_eq(mailbox_link_check(&plain_loop, allowed, &why), allowed ? 0 : -1);
        ck_assert_int_eq(mailbox_link_check(&trust_loop, allowed, &why), allowed ? 0 : -1);
    }
}
END_TEST

START_TEST(the_password_is_read_only_after_both_checks)
{
    const char *why = NULL;
    struct mailbox_link tls = { "imap.example.com", "tls", false };
    struct mailbox_link plain_far = { "imap.example.com", "none", false };
    setenv("ATUM_CORE_SECRET_KEY", "the key", 1);
    setenv("ATUM_IMAP_PASSWORD_SUPPORT", "mailbox secret", 1);
    unsetenv("ATUM_IMAP_PASSWORD_UNSET");
    ck_assert_ptr_null(mailbox_password("ATUM_CORE_SECRET_KEY", &tls, true, &why));
    ck_assert_ptr_nonnull(strstr(why, MAILBOX_PASSWORD_ENV_PREFIX));
    ck_assert_ptr_null(mailbox_password("ATUM_IMAP_PASSWORD_SUPPORT", &plain_far, true, &why));
    ck_assert_ptr_null(mailbox_password("ATUM_IMAP_PASSWORD_UNSET", &tls, true, &why));
    ck_assert_ptr_nonnull(strstr(why, "not set"));
    const char *pw = mailbox_password("ATUM_IMAP_PASSWORD_SUPPORT", &tls, false, &why);
    ck_assert_ptr_nonnull(pw);
    ck_assert_str_eq(pw, "mailbox secret");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mailbox");
    TCase *tc = tcase_create("mailbox");
    tcase_add_test(tc, password_variables_have_their_own_namespace);
    tcase_add_test(tc, no_setting_lives_in_the_namespace);
    tcase_add_test(tc, insecure_links_only_on_loopback_when_allowed);
    tcase_add_test(tc, the_password_is_read_only_after_both_checks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
