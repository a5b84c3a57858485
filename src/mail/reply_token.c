/* mail/reply_token.c -- see mail/reply_token.h. */
#include "config.h"
#include "mail/reply_token.h"
#include "lib/secret.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mac_for(const char *secret, long long id, long long user, long long day,
                    long long version, char out[REPLY_TOKEN_MAC_LEN + 1])
{
    char msg[128];
    unsigned char md[32];
    char b32[64];
    int n = user > 0 && version > 0
            ? snprintf(msg, sizeof(msg), "atum-reply:%lld:a%lld:d%lld:v%lld", id, user, day, version)
            : user > 0 ? snprintf(msg, sizeof(msg), "atum-reply:%lld:a%lld:d%lld", id, user, day)
            : snprintf(msg, sizeof(msg), "atum-reply:%lld", id);
    hmac_sha256(secret, strlen(secret), msg, (size_t)n, md);
    /* the first characters of the lower-case base32 of the digest */
    base32_encode_lower(md, sizeof(md), b32);
    memcpy(out, b32, REPLY_TOKEN_MAC_LEN);
    out[REPLY_TOKEN_MAC_LEN] = '\0';
}

int reply_token_make(const char *secret, long long ticket_id, char *out, size_t size)
{
    if (secret == NULL || *secret == '\0' || ticket_id <= 0)
        return -1;
    char mac[REPLY_TOKEN_MAC_LEN + 1];
    mac_for(secret, ticket_id, 0, 0, 0, mac);
    snprintf(out, size, "t%lld.%s", ticket_id, mac);
    return 0;
}

int reply_token_make_agent(const char *secret, long long ticket_id, long long user_id, long long day,
                     char *out, size_t size)
{
    return reply_token_make_agent_v(secret, ticket_id, user_id, day, 0, out, size);
}

int reply_token_make_agent_v(const char *secret, long long ticket_id, long long user_id,
                             long long day, long long version, char *out, size_t size)
{
    if (secret == NULL || *secret == '\0' || ticket_id <= 0 || user_id <= 0 || day < 0
        || version < 0)
        return -1;
    char mac[REPLY_TOKEN_MAC_LEN + 1];
    mac_for(secret, ticket_id, user_id, day, version, mac);
    if (version > 0)
        snprintf(out, size, "t%llda%lldd%lldv%lld.%s", ticket_id, user_id, day, version, mac);
    else
        snprintf(out, size, "t%llda%lldd%lld.%s", ticket_id, user_id, day, mac);
    return 0;
}

enum reply_token_status reply_token_parse(const char *secret, const char *addr, struct reply_token_info *info)
{
    if (addr == NULL)
        return REPLY_TOKEN_NONE;
    const char *at = strrchr(addr, '@');
    const char *plus = strchr(addr, '+');
    if (plus == NULL || (at && plus > at))
        return REPLY_TOKEN_NONE;
    const char *p = plus + 1;
    if (*p != 't' && *p != 'T')
        return REPLY_TOKEN_NONE;
    p++;
    if (!isdigit((unsigned char)*p))
        return REPLY_TOKEN_NONE;
    char *end;
    long long id = strtoll(p, &end, 10), user = 0, day = 0, version = 0;
    if (id <= 0)
        return REPLY_TOKEN_NONE;
    if (*end == 'a' || *end == 'A') {
        user = strtoll(end + 1, &end, 10);
        if ((*end != 'd' && *end != 'D') || user <= 0)
            return REPLY_TOKEN_NONE;
        if (!isdigit((unsigned char)end[1]))
            return REPLY_TOKEN_NONE;
        day = strtoll(end + 1, &end, 10);
        if (day < 0)
            return REPLY_TOKEN_NONE;
        if (*end == 'v' || *end == 'V') {
            if (!isdigit((unsigned char)end[1]))
                return REPLY_TOKEN_NONE;
            version = strtoll(end + 1, &end, 10);
            if (version <= 0)
                return REPLY_TOKEN_NONE;
        }
    }
    if (*end != '.')
        return REPLY_TOKEN_NONE;
    const char *mac = end + 1;
    size_t ml = at ? (size_t)(at - mac) : strlen(mac);
    if (secret == NULL || *secret == '\0' || ml != REPLY_TOKEN_MAC_LEN)
        return REPLY_TOKEN_INVALID;
    char want[REPLY_TOKEN_MAC_LEN + 1], got[REPLY_TOKEN_MAC_LEN + 1];
    mac_for(secret, id, user, day, version, want);
    for (size_t i = 0; i < ml; i++)
        got[i] = (char)tolower((unsigned char)mac[i]);
    got[ml] = '\0';
    if (CRYPTO_memcmp(want, got, REPLY_TOKEN_MAC_LEN) != 0)
        return REPLY_TOKEN_INVALID;
    info->ticket = id;
    info->user = user;
    info->day = day;
    info->version = version;
    return REPLY_TOKEN_VALID;
}

void reply_token_base_address(const char *addr, char *out, size_t size)
{
    size_t k = 0;
    const char *at = strrchr(addr, '@');
    const char *plus = strchr(addr, '+');
    bool skipping = false;
    for (const char *p = addr; *p && k + 1 < size; p++) {
        if (p == plus && (at == NULL || plus < at))
            skipping = true;
        if (p == at)
            skipping = false;
        if (!skipping)
            out[k++] = (char)tolower((unsigned char)*p);
    }
    out[k] = '\0';
}
