/* lib/httpc.c -- see lib/httpc.h. */
#include "config.h"
#include "lib/httpc.h"
#include "lib/err.h"
#include "lib/strbuf.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

int httpc_global_init(const char **error_r)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return err_set(error_r, "curl_global_init: %s", curl_easy_strerror(rc));
    return 0;
}

void httpc_global_cleanup(void)
{
    curl_global_cleanup();
}

struct sink {
    struct strbuf buf;
    int overflow;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;
    if (s->buf.len + n > HTTPC_MAX_RESPONSE) {
        s->overflow = 1;
        return 0;
    }
    strbuf_add(&s->buf, ptr, n);
    return n;
}

int httpc_request(const struct atum_http_call *call, struct atum_http_result *res,
                  const char **error_r)
{
    struct sink sink = { STRBUF_INIT, 0 };
    struct curl_slist *hdrs = NULL;
    int ret = -1;
    memset(res, 0, sizeof(*res));

    if (call->url == NULL || (strncmp(call->url, "http://", 7) != 0 && strncmp(call->url, "https://", 8) != 0))
        return err_set(error_r, "http: only http:// and https:// URLs are allowed");
    CURL *h = curl_easy_init();
    if (h == NULL)
        return err_set(error_r, "http: curl_easy_init failed");

    curl_easy_setopt(h, CURLOPT_URL, call->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, call->timeout_ms > 0 ? call->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "atum-desk/" PACKAGE_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    for (const char *const *hp = call->headers; hp && *hp; hp++) {
        struct curl_slist *n = curl_slist_append(hdrs, *hp);
        if (n == NULL) {
            err_set(error_r, "http: out of memory");
            goto out;
        }
        hdrs = n;
    }
    if (hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (call->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
    }
    if (call->method != NULL)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);

    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        if (sink.overflow)
            err_set(error_r, "http: response from %s larger than %u bytes", call->url, HTTPC_MAX_RESPONSE);
        else
            err_set(error_r, "http: %s: %s", call->url, curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
    res->body = strbuf_steal(&sink.buf, &res->body_len);
    ret = 0;
out:
    strbuf_free(&sink.buf);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return ret;
}

void httpc_result_free(struct atum_http_result *res)
{
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}
