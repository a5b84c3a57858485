/* lib/email.c -- see lib/email.h. */
#include "config.h"
#include "lib/email.h"

#include <string.h>

bool email_valid(const char *a)
{
    if (a == NULL)
        return false;
    size_t n = strlen(a);
    if (n < 3 || n > EMAIL_MAX)
        return false;
    const char *at = strrchr(a, '@');
    if (at == NULL || at == a || at[1] == '\0' || (size_t)(at - a) > 64)
        return false;
    for (const char *p = a; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '(' || c == ')'
            || c == ',' || c == ';' || c == '"' || c == '\\' || c == '[' || c == ']')
            return false;
        if (c == '@' && p != at)
            return false;
    }
    const char *d = at + 1;
    if (d[0] == '.' || d[0] == '-' || d[strlen(d) - 1] == '.' || strstr(d, "..") != NULL)
        return false;
    return true;
}

int email_canonical(const char *addr, char out[EMAIL_MAX + 1])
{
    size_t n = strlen(addr);
    out[0] = '\0';
    if (n > EMAIL_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = addr[i];
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return 0;
}
