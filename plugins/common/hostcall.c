/* plugins/common/hostcall.c -- see hostcall.h */
#include "hostcall.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *plug_cell(const struct atum_host *h, struct atum_rows *r, int row, int col)
{
    const char *v = h->rows_value(r, row, col);
    return v ? v : "";
}

void plug_reply_json(const struct atum_host *h, struct atum_http_resp *resp, int status, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    h->http_reply(resp, status, "application/json", s ? s : "{}", s ? strlen(s) : 2);
    free(s);
    json_decref(v);
}

double plug_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}
