/*
 * web/router.h -- matching request paths against route patterns.
 *
 * A pattern is a path whose segments are literals or placeholders:
 *   {id}, {xxx_id}   a positive decimal integer below 10^18 (captured)
 *   {name}           [a-z0-9_.-]{1,64}, not starting with '.' (captured)
 * e.g. "/api/v1/tickets/{id}/links/{other_id}".  Matching is exact: no
 * trailing slash, no empty segments, no percent-decoding of ids.  Pure code
 * (no I/O), unit-tested in tests/unit/test_router.c.
 */
#ifndef ATUM_WEB_ROUTER_H
#define ATUM_WEB_ROUTER_H

#include <stdbool.h>

#define ROUTER_MAX_IDS 3
#define ROUTER_NAME_MAX 65

struct router_match {
    long long ids[ROUTER_MAX_IDS];
    int nids;
    char name[ROUTER_NAME_MAX];
};

/* The path of a request as the client sent it (before any percent-
 * decoding or dot-segment removal) must be plain: "/" or "/" followed by
 * segments of [A-Za-z0-9._~-], separated by single slashes (one trailing
 * slash allowed), none of them "." or "..".  No route of ours needs more,
 * so an encoded character (%XX: "%2e%2e", "%00", "%2f"), a backslash or a
 * traversal is refused before routing rather than trusted to a decoder.
 * true when plain; else false and *why_r says what is wrong. */
bool router_path_plain(const char *raw, const char **why_r);

/* true when path matches pattern; captures in *m. */
bool router_match(const char *pattern, const char *path, struct router_match *m);
/* true when the pattern has a placeholder (such routes answer
 * 404, not 403, to a role that may not use them). */
bool router_has_id(const char *pattern);

#endif
