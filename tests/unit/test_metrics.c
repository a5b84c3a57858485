/* test_metrics -- the metrics registry (lib/metrics.h): families and their
 * descriptions, histograms, label checks and escaping, the series limit,
 * the exposition text; and the core's catalogue (core/core_metrics.h). */
#include "config.h"
#include "core/core_metrics.h"
#include "lib/metrics.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(void)
{
    struct strbuf b = STRBUF_INIT;
    metrics_render(&b);
    return strbuf_steal(&b, NULL);
}

static void setup(void)
{
    metrics_reset();
}

START_TEST(described_family_has_help_and_type)
{
    const char *e = NULL;
    ck_assert_int_eq(metrics_describe("atum_x_total", METRICS_COUNTER, "Things.\nWith a \\ backslash.",
                                      NULL, 0, &e), 0);
    metrics_counter_add("atum_x_total", "kind=\"a\"", 2);
    metrics_counter_add("atum_undescribed_total", NULL, 1);
    char *t = render();
    ck_assert_ptr_nonnull(strstr(t, "# HELP atum_x_total Things.\\nWith a \\\\ backslash.\n"
                                    "# TYPE atum_x_total counter\natum_x_total{kind=\"a\"} 2\n"));
    /* a family nobody described still gets a HELP line (promtool wants one) */
    ck_assert_ptr_nonnull(strstr(t, "# HELP atum_undescribed_total "));
    ck_assert_ptr_nonnull(strstr(t, "# TYPE atum_undescribed_total counter\natum_undescribed_total 1\n"));
    /* sorted by name: undescribed < x */
    ck_assert(strstr(t, "atum_undescribed_total") < strstr(t, "atum_x_total"));
    free(t);
    /* another type for a known name is refused, the same type is a no-op */
    ck_assert_int_eq(metrics_describe("atum_x_total", METRICS_GAUGE, "no", NULL, 0, &e), -1);
    ck_assert_int_eq(metrics_describe("atum_x_total", METRICS_COUNTER, "again", NULL, 0, &e), 0);
    ck_assert_int_eq(metrics_describe("bad name", METRICS_COUNTER, "x", NULL, 0, &e), -1);
    const double desc[] = { 2, 1 };
    ck_assert_int_eq(metrics_describe("atum_h", METRICS_HISTOGRAM, "x", desc, 2, &e), -1);
}
END_TEST

START_TEST(histogram_buckets_sum_count)
{
    const char *e = NULL;
    const double b[] = { 0.1, 1, 10 };
    ck_assert_int_eq(metrics_describe("atum_t_seconds", METRICS_HISTOGRAM, "Time.", b, 3, &e), 0);
    metrics_observe("atum_t_seconds", "route=\"/x\"", 0.05);
    metrics_observe("atum_t_seconds", "route=\"/x\"", 0.1);    /* le is inclusive */
    metrics_observe("atum_t_seconds", "route=\"/x\"", 5);
    metrics_observe("atum_t_seconds", "route=\"/x\"", 100);
    metrics_observe("atum_t_seconds", "route=\"/x\"", NAN);    /* ignored */
    unsigned long long n = 0;
    double sum = 0;
    ck_assert_int_eq(metrics_histogram_get("atum_t_seconds", "route=\"/x\"", &n, &sum), 1);
    ck_assert_uint_eq(n, 4);
    ck_assert(fabs(sum - 105.15) < 1e-9);
    ck_assert(metrics_get("atum_t_seconds", "route=\"/x\"") == 4);
    char *t = render();
    ck_assert_ptr_nonnull(strstr(t,
        "# HELP atum_t_seconds Time.\n# TYPE atum_t_seconds histogram\n"
        "atum_t_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
        "atum_t_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"
        "atum_t_seconds_bucket{route=\"/x\",le=\"10\"} 3\n"
        "atum_t_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
        "atum_t_seconds_sum{route=\"/x\"} 105.15\n"
        "atum_t_seconds_count{route=\"/x\"} 4\n"));
    free(t);
    /* an undescribed histogram gets the default latency buckets */
    metrics_observe("atum_u_seconds", NULL, 0.003);
    t = render();
    ck_assert_ptr_nonnull(strstr(t, "atum_u_seconds_bucket{le=\"0.001\"} 0\n"
                                    "atum_u_seconds_bucket{le=\"0.0025\"} 0\n"
                                    "atum_u_seconds_bucket{le=\"0.005\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(t, "atum_u_seconds_bucket{le=\"60\"} 1\natum_u_seconds_bucket{le=\"+Inf\"} 1\n"
                                    "atum_u_seconds_sum 0.003\natum_u_seconds_count 1\n"));
    free(t);
}
END_TEST

START_TEST(bad_input_is_refused_and_counted)
{
    metrics_counter_add("atum_ok_total", "a=\"1\",a=\"2\"", 1);          /* a label twice */
    metrics_observe("atum_h_seconds", "le=\"5\"", 1);                   /* le on a histogram */
    metrics_counter_add("atum_ok_total", "a=\"\xff\xfe\"", 1);           /* not UTF-8 */
    metrics_counter_add("atum_ok_total", "a=\"x\"\n# TYPE x counter", 1); /* injection */
    metrics_counter_add("0bad", NULL, 1);
    ck_assert(metrics_get("atum_metrics_rejected_total", NULL) == 5);
    /* every update above was refused, so this makes atum_ok_total a gauge,
     * and a counter update of it is a type conflict */
    metrics_gauge_set("atum_ok_total", NULL, 1);
    metrics_counter_add("atum_ok_total", NULL, 1);
    ck_assert(metrics_get("atum_metrics_rejected_total", NULL) == 6);
    char l[20 * 20] = "";
    for (int i = 0; i < METRICS_MAX_LABELS + 1; i++)
        snprintf(l + strlen(l), sizeof(l) - strlen(l), "%sl%d=\"x\"", i ? "," : "", i);
    metrics_counter_add("atum_many_total", l, 1);
    ck_assert(metrics_get("atum_metrics_rejected_total", NULL) == 7);
    char *t = render();
    ck_assert_ptr_null(strstr(t, "# TYPE x counter"));
    ck_assert_ptr_null(strstr(t, "atum_many_total"));
    free(t);
}
END_TEST

START_TEST(series_limit)
{
    char labels[32];
    for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
        snprintf(labels, sizeof(labels), "id=\"%d\"", i);
        metrics_counter_add("atum_runaway_total", labels, 1);
    }
    /* the rejected counter itself is made past the limit: it always counts */
    ck_assert(metrics_get("atum_metrics_rejected_total", NULL) == 10);
    ck_assert(metrics_get("atum_runaway_total", "id=\"0\"") == 1);
    ck_assert(metrics_get("atum_runaway_total", "id=\"19999\"") == 1);
    ck_assert(metrics_get("atum_runaway_total", "id=\"20000\"") == 0);
    /* existing series still count */
    metrics_counter_add("atum_runaway_total", "id=\"0\"", 1);
    ck_assert(metrics_get("atum_runaway_total", "id=\"0\"") == 2);
}
END_TEST

START_TEST(gauges_and_counters)
{
    metrics_gauge_add("atum_open", "pool=\"web\"", 3);
    metrics_gauge_add("atum_open", "pool=\"web\"", -1);
    ck_assert(metrics_get("atum_open", "pool=\"web\"") == 2);
    metrics_gauge_set("atum_open", "pool=\"web\"", 7);
    ck_assert(metrics_get("atum_open", "pool=\"web\"") == 7);
    metrics_counter_add("atum_c_total", NULL, 2);
    metrics_counter_add("atum_c_total", NULL, -5);   /* counters never go down */
    ck_assert(metrics_get("atum_c_total", NULL) == 2);
    ck_assert(metrics_get("atum_nothing", NULL) == 0);
}
END_TEST

START_TEST(label_values_and_numbers)
{
    char out[16];
    ck_assert_uint_eq(metrics_label_value(out, sizeof(out), "a\"b\\c\nd"), 10);
    ck_assert_str_eq(out, "a\\\"b\\\\c\\nd");
    /* cut before an escape, never inside one */
    ck_assert_uint_eq(metrics_label_value(out, 4, "ab\"c"), 2);
    ck_assert_str_eq(out, "ab");
    /* nor inside a UTF-8 character: "aé" is 3 bytes, room for 2 */
    ck_assert_uint_eq(metrics_label_value(out, 3, "a\xc3\xa9"), 1);
    ck_assert_str_eq(out, "a");
    char num[32];
    metrics_format_value(num, 0.1);
    ck_assert_str_eq(num, "0.1");
    metrics_format_value(num, 1e21);
    ck_assert_str_eq(num, "1e+21");
    metrics_format_value(num, 3);
    ck_assert_str_eq(num, "3");
    metrics_format_value(num, INFINITY);
    ck_assert_str_eq(num, "+Inf");
    metrics_format_value(num, -INFINITY);
    ck_assert_str_eq(num, "-Inf");
    metrics_format_value(num, NAN);
    ck_assert_str_eq(num, "NaN");
    metrics_format_value(num, 0.1 + 0.2);
    ck_assert(strtod(num, NULL) == 0.1 + 0.2);
}
END_TEST

START_TEST(catalogue_describes_the_core)
{
    core_metrics_init("1.2.3\"x");
    ck_assert(metrics_get("atum_build_info", "version=\"1.2.3\\\"x\",abi=\"1\"") == 1);
    metrics_observe("atum_http_request_duration_seconds", "route=\"/\",method=\"GET\"", 0.0004);
    char *t = render();
    ck_assert_ptr_nonnull(strstr(t, "# HELP atum_http_request_duration_seconds Time to answer"));
    /* the catalogue's own request buckets start at 0.5 ms */
    ck_assert_ptr_nonnull(strstr(t, "atum_http_request_duration_seconds_bucket{route=\"/\",method=\"GET\",le=\"0.0005\"} 1\n"));
    /* families without samples are not rendered */
    ck_assert_ptr_null(strstr(t, "atum_sla_breaches_total"));
    free(t);
    ck_assert_str_eq(core_metrics_channel("plugin:sla"), "plugin");
    ck_assert_str_eq(core_metrics_channel("mail"), "mail");
    ck_assert_str_eq(core_metrics_channel(NULL), "system");
    ck_assert_str_eq(core_metrics_channel("a \"wild\" source"), "other");
    ck_assert_ptr_null(core_metrics_robot("none"));
    ck_assert_str_eq(core_metrics_robot("bounce"), "bounce");
}
END_TEST

/* Many threads on the same and on new series: no update is lost. */
static void *hammer(void *arg)
{
    char labels[32];
    snprintf(labels, sizeof(labels), "t=\"%d\"", *(int *)arg);
    for (int i = 0; i < 20000; i++) {
        metrics_counter_add("atum_shared_total", NULL, 1);
        metrics_observe("atum_mine_seconds", labels, 0.01);
    }
    return NULL;
}

START_TEST(concurrent_updates)
{
    pthread_t th[4];
    int ids[4] = { 0, 1, 2, 3 };
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, &ids[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert(metrics_get("atum_shared_total", NULL) == 80000);
    ck_assert(metrics_get("atum_mine_seconds", "t=\"3\"") == 20000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_checked_fixture(tc, setup, setup);
    tcase_add_test(tc, described_family_has_help_and_type);
    tcase_add_test(tc, histogram_buckets_sum_count);
    tcase_add_test(tc, bad_input_is_refused_and_counted);
    tcase_add_test(tc, series_limit);
    tcase_add_test(tc, gauges_and_counters);
    tcase_add_test(tc, label_values_and_numbers);
    tcase_add_test(tc, catalogue_describes_the_core);
    tcase_add_test(tc, concurrent_updates);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
