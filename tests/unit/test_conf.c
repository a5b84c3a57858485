/* test_conf -- the configuration parser and its documentation. */
#include "config.h"
#include "core/conf.h"
#include "mailin/mailin_conf.h"
#include "mailout/mailout_conf.h"
#include "desk/portal_conf.h"
#include "web/web_conf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpl[64];

/* Writes text to a fresh temp file and returns its path. */
static const char *write_conf(const char *text)
{
    snprintf(tmpl, sizeof(tmpl), "/tmp/atum-conf-XXXXXX");
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return tmpl;
}

static struct atum_config *load(const char *text, const char **e)
{
    const char *p = write_conf(text);
    struct atum_config *c = conf_load(p, e);
    unlink(p);
    return c;
}

START_TEST(defaults_apply)
{
    const char *e = NULL;
    struct atum_config *c = load("# nothing\n", &e);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->workers, 8);
    ck_assert_int_eq(c->batch_size, 32);
    ck_assert_int_eq(c->lease_ms, 300000);
    ck_assert_int_eq(c->web_max_body, 25 * 1024 * 1024);
    ck_assert_str_eq(c->log_level, "info");
    ck_assert_str_eq(c->web_listen, "127.0.0.1:8080");
    conf_free(&c);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(values_parse)
{
    const char *e = NULL;
    struct atum_config *c = load(
        "[core]\n"
        "workers = 8   # comment\n"
        "database_url = \"postgresql://u@h/db?x=1#frag\"\n"
        "log_level=debug\n"
        "[queue]\n"
        "lease = 90s\n"
        "poll_interval = 250ms\n"
        "keep_done = 0\n"
        "[web]\n"
        "max_body = 64K\n"
        "listen = 127.0.0.1:0 ; comment\n", &e);
    ck_assert_msg(c != NULL, "%s", e);
    ck_assert_int_eq(c->workers, 8);
    ck_assert_str_eq(c->database_url, "postgresql://u@h/db?x=1#frag");
    ck_assert_str_eq(c->log_level, "debug");
    ck_assert_int_eq(c->lease_ms, 90000);
    ck_assert_int_eq(c->poll_interval_ms, 250);
    ck_assert_int_eq(c->keep_done_ms, 0);
    ck_assert_int_eq(c->web_max_body, 65536);
    ck_assert_str_eq(c->web_listen, "127.0.0.1:0");
    conf_free(&c);
    c = load("[imap]\nidle_refresh = 25m\n", &e);   /* the maximum itself */
    ck_assert_msg(c != NULL, "%s", e);
    ck_assert_int_eq(c->imap_idle_refresh_ms, 25 * 60000);
    conf_free(&c);
}
END_TEST

/* Each bad input must fail and name the file and the line. */
static const struct { const char *text; int line; const char *needle; } bad[] = {
    { "[core]\nworkers = many\n", 2, "core.workers must be an integer" },
    { "[core]\nworkers = 0\n", 2, "from 1 to 256" },
    { "[core]\nworkers = 99999999999999999999\n", 2, "core.workers" },
    { "[core]\nbogus = 1\n", 2, "unknown key 'bogus' in [core]" },
    { "[nosuch]\n", 1, "unknown section [nosuch]" },
    { "workers = 3\n", 1, "outside of any [section]" },
    { "[core]\njust words\n", 2, "expected 'key = value'" },
    { "[core\n", 1, "malformed section header" },
    { "[core]\nlog_level = loud\n", 2, "one of debug|info|warn|error" },
    { "[queue]\nlease = 5 fortnights\n", 2, "queue.lease must be a duration" },
    { "[queue]\nlease = -5s\n", 2, "queue.lease" },
    { "[web]\nmax_body = 12Q\n", 2, "web.max_body must be a size" },
    { "[core]\nworkers = 2\nworkers = 3\n", 3, "set twice (first on line 2)" },
    { "[core]\ndatabase_url = \"unterminated\n", 2, "unterminated" },
    { "[plugin.Bad-Name]\n", 1, "must be [a-z0-9_]+" },
    { "[plugin.x]\n[plugin.x]\n", 2, "appears twice" },
    { "[plugin.x]\nenabled = perhaps\n", 2, "plugin.x.enabled must be yes or no" },
    { "[plugin.x]\na = 1\na = 2\n", 3, "set twice" },
    { "[core]\n= 3\n", 2, "missing key" },
    /* IDLE must be re-issued at least every 25 minutes (issue 3) */
    { "[imap]\nidle_refresh = 26m\n", 2, "imap.idle_refresh must be a duration from 1000ms to 1500000ms" },
    { "[imap]\nidle_refresh = 1501s\n", 2, "imap.idle_refresh" },
};

START_TEST(bad_inputs_name_file_and_line)
{
    const char *e = NULL;
    const char *p = write_conf(bad[_i].text);
    struct atum_config *c = conf_load(p, &e);
    ck_assert_msg(c == NULL, "accepted: %s", bad[_i].text);
    char where[96];
    snprintf(where, sizeof(where), "%s:%d:", p, bad[_i].line);
    ck_assert_msg(strstr(e, where) != NULL, "error '%s' does not name %s", e, where);
    ck_assert_msg(strstr(e, bad[_i].needle) != NULL, "error '%s' lacks '%s'", e, bad[_i].needle);
    unlink(p);
}
END_TEST

START_TEST(unreadable_file)
{
    const char *e = NULL;
    struct atum_config *c = conf_load("/nonexistent/atum.conf", &e);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(e, "/nonexistent/atum.conf: cannot read configuration"));
}
END_TEST

START_TEST(environment_overrides)
{
    const char *e = NULL;
    setenv("ATUM_CORE_DATABASE_URL", "postgresql://secret@db/atum", 1);
    setenv("ATUM_QUEUE_BATCH_SIZE", "7", 1);
    struct atum_config *c = load("[core]\ndatabase_url = postgresql:///file\n", &e);
    ck_assert_msg(c != NULL, "%s", e);
    ck_assert_str_eq(c->database_url, "postgresql://secret@db/atum");
    ck_assert_int_eq(c->batch_size, 7);
    conf_free(&c);

    setenv("ATUM_QUEUE_BATCH_SIZE", "lots", 1);
    c = load("", &e);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(e, "environment ATUM_QUEUE_BATCH_SIZE"));
    unsetenv("ATUM_QUEUE_BATCH_SIZE");
    unsetenv("ATUM_CORE_DATABASE_URL");
}
END_TEST

START_TEST(plugin_sections_kept)
{
    const char *e = NULL;
    struct atum_config *c = load(
        "[plugin.triage]\nmodel = llama3\nurl = http://x:11434\n"
        "[plugin.sla]\nenabled = no\npath = /opt/sla.so\n", &e);
    ck_assert_msg(c != NULL, "%s", e);
    ck_assert_int_eq(c->nplugins, 2);
    const struct conf_plugin *t = conf_plugin_find(c, "triage");
    ck_assert_ptr_nonnull(t);
    ck_assert(t->enabled);
    ck_assert_int_eq(t->nkv, 2);
    ck_assert_str_eq(t->kv[1].key, "url");
    ck_assert_int_eq(t->kv[1].line, 3);
    const struct conf_plugin *s = conf_plugin_find(c, "sla");
    ck_assert(!s->enabled);
    ck_assert_str_eq(s->path, "/opt/sla.so");
    ck_assert_ptr_null(conf_plugin_find(c, "nope"));
    conf_free(&c);
}
END_TEST

START_TEST(env_names)
{
    char b[64];
    conf_env_name(b, sizeof(b), "plugin.triage", "api-key");
    ck_assert_str_eq(b, "ATUM_PLUGIN_TRIAGE_API_KEY");
    conf_env_name(b, sizeof(b), "core", "database_url");
    ck_assert_str_eq(b, "ATUM_CORE_DATABASE_URL");
}
END_TEST

START_TEST(unit_parsers)
{
    long long v;
    ck_assert_int_eq(conf_parse_duration_ms("3d", &v), 0);
    ck_assert_int_eq(v, 3LL * 86400000);
    ck_assert_int_eq(conf_parse_duration_ms("15", &v), 0);
    ck_assert_int_eq(v, 15000);
    ck_assert_int_eq(conf_parse_duration_ms("", &v), -1);
    ck_assert_int_eq(conf_parse_duration_ms("s", &v), -1);
    ck_assert_int_eq(conf_parse_size("1G", &v), 0);
    ck_assert_int_eq(v, 1LL << 30);
    ck_assert_int_eq(conf_parse_size("99999999999999999999G", &v), -1);
    bool b;
    ck_assert_int_eq(conf_parse_bool("On", &b), 0);
    ck_assert(b);
    ck_assert_int_eq(conf_parse_bool("2", &b), -1);
}
END_TEST

/* The sample file documents every key with its default, and loads. */
struct seen { char *sample; int missing; };

static void check_documented(const char *section, const char *key, void *arg)
{
    struct seen *s = arg;
    char sect[64], line[128];
    snprintf(sect, sizeof(sect), "\n[%s]\n", section);
    snprintf(line, sizeof(line), "\n%s = ", key);
    const char *start = strstr(s->sample, sect);
    const char *next = start ? strstr(start + 1, "\n[") : NULL;
    const char *hit = start ? strstr(start, line) : NULL;
    if (hit == NULL || (next && hit > next)) {
        fprintf(stderr, "not documented in the sample: [%s] %s\n", section, key);
        s->missing++;
    }
}

START_TEST(sample_documents_every_key)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/etc/atum-desk.conf.sample", getenv("ATUM_SRCDIR"));
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char buf[65536];
    size_t n = fread(buf + 1, 1, sizeof(buf) - 2, f);
    buf[0] = '\n';
    buf[n + 1] = '\0';
    fclose(f);
    struct seen s = { buf, 0 };
    conf_foreach_key(check_documented, &s);
    ck_assert_int_eq(s.missing, 0);

    const char *e = NULL;
    struct atum_config *c = conf_load(path, &e);
    ck_assert_msg(c != NULL, "sample does not load: %s", e);
    conf_free(&c);
}
END_TEST

int main(void)
{
    /* every floor's keys, as atumd has them */
    conf_declare(&web_conf_table);
    conf_declare(&mailin_conf_table);
    conf_declare(&mailout_conf_table);
    conf_declare(&portal_conf_table);
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("conf");
    tcase_add_test(tc, defaults_apply);
    tcase_add_test(tc, values_parse);
    tcase_add_loop_test(tc, bad_inputs_name_file_and_line, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, unreadable_file);
    tcase_add_test(tc, environment_overrides);
    tcase_add_test(tc, plugin_sections_kept);
    tcase_add_test(tc, env_names);
    tcase_add_test(tc, unit_parsers);
    tcase_add_test(tc, sample_documents_every_key);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
