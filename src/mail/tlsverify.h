/*
 * mail/tlsverify.h -- checking a server's certificate chain ourselves.
 *
 * libetpan (built with GnuTLS on Debian) does not verify the certificates
 * of IMAP or SMTP servers.  After connect/STARTTLS and before any
 * credentials are sent, callers hand the chain it saw (DER certificates,
 * leaf first, from mailstream_get_certificate_chain()) to tls_verify_chain(),
 * which checks it with OpenSSL against the system CAs (plus ca_file) and
 * the expected host name.
 */
#ifndef ATUM_MAIL_TLSVERIFY_H
#define ATUM_MAIL_TLSVERIFY_H

#include <stddef.h>

struct tls_der {
    const unsigned char *data;
    size_t len;
};

/* 0 when the chain is valid for host; -1 with the reason in *error_r. */
int tls_verify_chain(const struct tls_der *chain, size_t n, const char *host,
                     const char *ca_file, const char **error_r);

#endif
