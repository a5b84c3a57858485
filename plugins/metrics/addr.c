/* plugins/metrics/addr.c -- see addr.h. */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Parses one address into a network of its full length; an IPv4-mapped
 * IPv6 address becomes IPv4. */
static bool parse_addr(const char *s, struct addr_net *n)
{
    memset(n, 0, sizeof(*n));
    if (inet_pton(AF_INET, s, n->bytes) == 1) {
        n->family = AF_INET;
        n->prefix = 32;
        return true;
    }
    if (inet_pton(AF_INET6, s, n->bytes) == 1) {
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(n->bytes, mapped, 12) == 0) {
            memmove(n->bytes, n->bytes + 12, 4);
            memset(n->bytes + 4, 0, 12);
            n->family = AF_INET;
            n->prefix = 32;
        } else {
            n->family = AF_INET6;
            n->prefix = 128;
        }
        return true;
    }
    return false;
}

int addr_list_parse(const char *text, struct addr_list *out, char *why, size_t why_size)
{
    out->v = NULL;
    out->n = 0;
    if (text == NULL || strcmp(text, "none") == 0)
        return 0;
    const char *p = text;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        size_t len = strcspn(p, ", \t");
        char tok[80];
        if (len >= sizeof(tok)) {
            snprintf(why, why_size, "'%.*s...' is not an address or network", 20, p);
            goto fail;
        }
        memcpy(tok, p, len);
        tok[len] = '\0';
        p += len;
        char *slash = strchr(tok, '/');
        long prefix = -1;
        if (slash != NULL) {
            char *end;
            *slash = '\0';
            prefix = strtol(slash + 1, &end, 10);
            if (slash[1] == '\0' || *end != '\0' || prefix < 0) {
                snprintf(why, why_size, "'%s/%s': the prefix length is not a number", tok, slash + 1);
                goto fail;
            }
        }
        struct addr_net n;
        if (!parse_addr(tok, &n)) {
            snprintf(why, why_size, "'%s' is not an IPv4 or IPv6 address", tok);
            goto fail;
        }
        if (prefix >= 0) {
            /* a mapped address keeps its IPv6 prefix length, minus the 96 bits of the map */
            bool was_v6 = strchr(tok, ':') != NULL;
            if (was_v6 && n.family == AF_INET)
                prefix -= 96;
            if (prefix < 0 || prefix > n.prefix) {
                snprintf(why, why_size, "'%s/%ld': the prefix length is out of range", tok,
                         was_v6 && n.family == AF_INET ? prefix + 96 : prefix);
                goto fail;
            }
            n.prefix = (int)prefix;
        }
        struct addr_net *v = realloc(out->v, (out->n + 1) * sizeof(*v));
        if (v == NULL)
            abort();
        out->v = v;
        out->v[out->n++] = n;
    }
    return 0;
fail:
    addr_list_free(out);
    return -1;
}

static bool in_net(const struct addr_net *net, const struct addr_net *a)
{
    if (net->family != a->family)
        return false;
    int full = net->prefix / 8, rest = net->prefix % 8;
    if (memcmp(net->bytes, a->bytes, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (net->bytes[full] & mask) == (a->bytes[full] & mask);
}

bool addr_list_match(const struct addr_list *list, const char *addr)
{
    struct addr_net a;
    if (addr == NULL || !parse_addr(addr, &a))
        return false;
    for (size_t i = 0; i < list->n; i++)
        if (in_net(&list->v[i], &a))
            return true;
    return false;
}

void addr_list_free(struct addr_list *list)
{
    free(list->v);
    list->v = NULL;
    list->n = 0;
}
