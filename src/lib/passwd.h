/*
 * lib/passwd.h -- password hashing with yescrypt (libxcrypt), the memory-hard,
 * self-describing "$y$..." scheme Debian uses for /etc/shadow.
 *
 * The hash string carries its own parameters and salt, so the cost can be
 * raised later and old hashes still verify (passwd_needs_rehash() tells the
 * login path to upgrade one).  Hashes returned are malloc'd: free() them.
 */
#ifndef ATUM_LIB_PASSWD_H
#define ATUM_LIB_PASSWD_H

#include <stdbool.h>

#define PASSWD_MIN_LEN 10
#define PASSWD_MAX_LEN 1024

int passwd_policy_check(const char *password, const char **error_r);
char *passwd_hash(const char *password, const char **error_r);
/* 1 match, 0 mismatch, -1 the stored hash is unusable (*error_r says why). */
int passwd_verify(const char *password, const char *hash, const char **error_r);
bool passwd_needs_rehash(const char *hash);

#endif
