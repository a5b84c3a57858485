/* test_log -- logfmt lines: quoting, escaping, one line per event. */
#include "config.h"
#include "lib/log.h"

#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char out[1024];

static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    log_format_fields(out, sizeof(out), f, ap);
    va_end(ap);
    return out;
}

START_TEST(plain_values_stay_bare)
{
    ck_assert_str_eq(fmt("job=%lld kind=%s ok=%d", 42LL, "mail.ingest", 1),
                     "job=42 kind=mail.ingest ok=1");
    ck_assert_str_eq(fmt("size=%zu ratio=%.2f pct=%%", (size_t)7, 0.5), "size=7 ratio=0.50 pct=%");
}
END_TEST

START_TEST(values_with_spaces_are_quoted)
{
    ck_assert_str_eq(fmt("msg=%s", "hello world"), "msg=\"hello world\"");
    ck_assert_str_eq(fmt("msg=%s", ""), "msg=\"\"");
    ck_assert_str_eq(fmt("msg=%s", "say \"hi\"\\"), "msg=\"say \\\"hi\\\"\\\\\"");
    ck_assert_str_eq(fmt("msg=%s", "a=b"), "msg=\"a=b\"");
}
END_TEST

START_TEST(no_forged_fields_or_lines)
{
    /* a hostile subject cannot add a line or a field */
    fmt("subject=%s", "x\nlevel=error event=forged");
    ck_assert_ptr_null(strchr(out, '\n'));
    ck_assert_str_eq(out, "subject=\"x\\nlevel=error event=forged\"");
    fmt("raw %s", "a\r\x01" "b");
    ck_assert_str_eq(out, "raw a\\r\\x01b");
}
END_TEST

START_TEST(precision_and_null)
{
    ck_assert_str_eq(fmt("k=%.3s", "abcdef"), "k=abc");
    ck_assert_str_eq(fmt("k=%.*s", 2, "abcdef"), "k=ab");
    const char *volatile nothing = NULL;
    ck_assert_str_eq(fmt("k=%s", nothing), "k=(null)");
}
END_TEST

START_TEST(truncation_is_safe)
{
    static char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fmt("v=%s", big);
    ck_assert_uint_eq(strlen(out), sizeof(out) - 1);
}
END_TEST

START_TEST(levels)
{
    enum log_level lv;
    ck_assert_int_eq(log_level_parse("WARN", &lv), 0);
    ck_assert_int_eq(lv, LOG_LEVEL_WARN);
    ck_assert_int_eq(log_level_parse("warning", &lv), 0);
    ck_assert_int_eq(log_level_parse("chatty", &lv), -1);
    const char *e = NULL;
    ck_assert_int_eq(log_configure(LOG_LEVEL_ERROR, "stderr", &e), 0);
    ck_assert(!log_enabled(LOG_LEVEL_INFO));
    ck_assert(log_enabled(LOG_LEVEL_ERROR));
    ck_assert_int_eq(log_configure(LOG_LEVEL_INFO, "carrier-pigeon", &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "stderr or syslog"));
}
END_TEST

/* A whole line on stderr: timestamp, level, event, fields, context. */
START_TEST(line_shape)
{
    char path[] = "/tmp/atum-log-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    const char *e = NULL;
    log_configure(LOG_LEVEL_DEBUG, "stderr", &e);
    log_context_set("job=%d", 9);
    log_info("job.done", "kind=%s", "x y");
    log_context_clear();
    log_debug("other", "n=%d", 1);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char buf[512] = "";
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    ck_assert_int_gt(n, 0);
    close(fd);
    unlink(path);
    char *nl = strchr(buf, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    ck_assert_ptr_nonnull(strstr(buf, "Z level=info event=job.done kind=\"x y\" job=9"));
    ck_assert_ptr_nonnull(strstr(nl + 1, "level=debug event=other n=1\n"));
    ck_assert_ptr_null(strstr(nl + 1, "job=9"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, plain_values_stay_bare);
    tcase_add_test(tc, values_with_spaces_are_quoted);
    tcase_add_test(tc, no_forged_fields_or_lines);
    tcase_add_test(tc, precision_and_null);
    tcase_add_test(tc, truncation_is_safe);
    tcase_add_test(tc, levels);
    tcase_add_test(tc, line_shape);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
