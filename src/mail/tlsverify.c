/* mail/tlsverify.c -- see mail/tlsverify.h. */
#include "config.h"
#include "mail/tlsverify.h"
#include "lib/err.h"

#include <arpa/inet.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <string.h>

int tls_verify_chain(const struct tls_der *chain, size_t n, const char *host,
                     const char *ca_file, const char **error_r)
{
    X509 *leaf = NULL;
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    int ret = -1;

    if (n == 0)
        return err_set(error_r, "the server sent no certificate");
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = chain[i].data;
        X509 *x = d2i_X509(NULL, &p, (long)chain[i].len);
        if (x == NULL) {
            err_set(error_r, "certificate %zu of the chain cannot be read", i);
            goto out;
        }
        if (i == 0) {
            leaf = x;
        } else {
            if (untrusted == NULL)
                untrusted = sk_X509_new_null();
            sk_X509_push(untrusted, x);
        }
    }
    store = X509_STORE_new();
    if (store == NULL || X509_STORE_set_default_paths(store) != 1) {
        err_set(error_r, "cannot load the system CA certificates");
        goto out;
    }
    if (ca_file != NULL && *ca_file != '\0' && X509_STORE_load_file(store, ca_file) != 1) {
        err_set(error_r, "cannot load CA file %s", ca_file);
        goto out;
    }
    ctx = X509_STORE_CTX_new();
    if (ctx == NULL || X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
        err_set(error_r, "cannot set up certificate verification");
        goto out;
    }
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    unsigned char ip[16];
    if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
        X509_VERIFY_PARAM_set1_ip_asc(param, host);
    else
        X509_VERIFY_PARAM_set1_host(param, host, 0);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    if (X509_verify_cert(ctx) != 1) {
        int code = X509_STORE_CTX_get_error(ctx);
        err_set(error_r, "certificate of %s not trusted: %s", host, X509_verify_cert_error_string(code));
        goto out;
    }
    ret = 0;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_pop_free(untrusted, X509_free);
    X509_free(leaf);
    return ret;
}
