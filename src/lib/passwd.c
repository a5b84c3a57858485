/* lib/passwd.c -- see lib/passwd.h. */
#include "config.h"
#include "lib/passwd.h"
#include "lib/err.h"
#include "lib/xalloc.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* libxcrypt's default yescrypt cost (5: N=2^15 blocks, 32 MiB would be 8):
 * 0 asks for the library's recommended default, which moves with it. */
#define PASSWD_PREFIX "$y$"
#define PASSWD_COST 0

int passwd_policy_check(const char *pw, const char **error_r)
{
    size_t n = pw ? strlen(pw) : 0;
    if (n < PASSWD_MIN_LEN)
        return err_set(error_r, "password too short: at least %d characters", PASSWD_MIN_LEN);
    if (n > PASSWD_MAX_LEN)
        return err_set(error_r, "password too long: at most %d bytes", PASSWD_MAX_LEN);
    return 0;
}

static char *current_setting(const char **error_r)
{
    char *setting = crypt_gensalt_ra(PASSWD_PREFIX, PASSWD_COST, NULL, 0);
    if (setting == NULL)
        err_set(error_r, "crypt_gensalt_ra(yescrypt) failed");
    return setting;
}

char *passwd_hash(const char *password, const char **error_r)
{
    void *data = NULL;
    int size = 0;
    char *setting = current_setting(error_r);
    if (setting == NULL)
        return NULL;
    char *h = crypt_ra(password, setting, &data, &size);
    char *out = NULL;
    if (h == NULL || h[0] == '*')
        err_set(error_r, "yescrypt hashing failed");
    else
        out = xstrdup(h);
    free(setting);
    if (data) {
        OPENSSL_cleanse(data, (size_t)size);
        free(data);
    }
    return out;
}

int passwd_verify(const char *password, const char *hash, const char **error_r)
{
    void *data = NULL;
    int size = 0;
    if (hash == NULL || strncmp(hash, "$", 1) != 0)
        return err_set(error_r, "no usable password hash");
    char *h = crypt_ra(password, hash, &data, &size);
    int ret;
    if (h == NULL || h[0] == '*') {
        ret = err_set(error_r, "stored password hash is invalid");
    } else {
        size_t n = strlen(hash);
        ret = strlen(h) == n && CRYPTO_memcmp(h, hash, n) == 0;
    }
    if (data) {
        OPENSSL_cleanse(data, (size_t)size);
        free(data);
    }
    return ret;
}

bool passwd_needs_rehash(const char *hash)
{
    const char *e;
    char *setting = current_setting(&e);
    if (setting == NULL)
        return false;
    /* compare "$y$<params>$": the salt after it differs by design */
    const char *p = strchr(setting + 3, '$');
    size_t n = p ? (size_t)(p - setting) + 1 : strlen(setting);
    bool differ = strncmp(hash, setting, n) != 0;
    free(setting);
    return differ;
}
