/*
 * bench/cpuref.c -- a fixed CPU-bound loop, the machine's reference figure
 * for CPU-bound benchmarks: SHA-256 of a 64-byte block, chained, for about
 * a second (at least 200,000 rounds), one thread.  Prints
 * "cpu_sha256_per_s=N".  The same loop on two machines tells how much
 * faster one core is, so results taken on different machines of the same
 * kind can be compared (bench/run prints each result's ratio to it).
 */
#include "config.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    unsigned char block[64], md[32];
    unsigned int mdlen = 0;
    memset(block, 0x5a, sizeof(block));
    long rounds = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 10000; i++) {
            EVP_Digest(block, sizeof(block), md, &mdlen, EVP_sha256(), NULL);
            memcpy(block, md, sizeof(md));
        }
        rounds += 10000;
        t = now_s() - t0;
    } while (t < 1.0 || rounds < 200000);
    printf("cpu_sha256_per_s=%.0f\n", (double)rounds / t);
    return md[0] == 0xff && md[1] == 0xff ? 1 : 0;   /* uses the result */
}
