/*
 * lib/httpc.h -- outgoing HTTP for the host and its plugins (libcurl).
 *
 * TLS peers are verified (certificate and host name) -- there is no switch
 * to turn that off here.  Every call has a timeout and a response size
 * limit.  curl_global_init() must have run before threads start
 * (httpc_global_init()).  The result body is malloc'd and belongs to the
 * caller: httpc_result_free().
 */
#ifndef ATUM_LIB_HTTPC_H
#define ATUM_LIB_HTTPC_H

#include <atum/plugin.h>

#define HTTPC_MAX_RESPONSE (16u * 1024 * 1024)

int httpc_global_init(const char **error_r);
void httpc_global_cleanup(void);
int httpc_request(const struct atum_http_call *call, struct atum_http_result *res,
                  const char **error_r);
void httpc_result_free(struct atum_http_result *res);

#endif
