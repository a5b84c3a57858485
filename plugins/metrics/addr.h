/*
 * plugins/metrics/addr.h -- the scrape allow-list: addresses and networks
 * (CIDR, IPv4 and IPv6) from whom GET /metrics is answered without a
 * token.  Pure code, unit-tested.
 *
 * Ownership: a list owns its entries; addr_list_free() releases them.
 */
#ifndef ATUM_METRICS_ADDR_H
#define ATUM_METRICS_ADDR_H

#include <stdbool.h>
#include <stddef.h>

struct addr_net {
    int family;                  /* AF_INET or AF_INET6 */
    unsigned char bytes[16];
    int prefix;                  /* bits that must match */
};

struct addr_list {
    struct addr_net *v;
    size_t n;
};

/* "127.0.0.0/8, ::1, 10.1.2.3" (commas and/or blanks between entries; an
 * address without /N is itself only).  "" or "none" is an empty list.
 * 0, or -1 with a reason in why naming the bad entry (the list is then
 * empty). */
int addr_list_parse(const char *text, struct addr_list *out, char *why, size_t why_size);
/* Whether addr (as text; an IPv4-mapped IPv6 address counts as IPv4)
 * lies in one of the networks.  An unparsable address matches nothing. */
bool addr_list_match(const struct addr_list *list, const char *addr);
void addr_list_free(struct addr_list *list);

#endif
