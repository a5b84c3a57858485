/* lib/jsonlimit.c -- see lib/jsonlimit.h. */
#include "config.h"
#include "lib/jsonlimit.h"

bool json_depth_ok(const char *s, size_t n, int max_depth)
{
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            break;
        case '[':
        case '{':
            if (++depth > max_depth)
                return false;
            break;
        case ']':
        case '}':
            /* unbalanced closers are the parser's to refuse */
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
    }
    return true;
}
