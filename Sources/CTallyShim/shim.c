#define _GNU_SOURCE  // memmem
#include "CTallyShim.h"
#include <openssl/opensslv.h>
#include <string.h>

unsigned long tally_openssl_version_number(void) { return OPENSSL_VERSION_NUMBER; }

const void *tally_memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len) {
    return memmem(haystack, haystack_len, needle, needle_len);
}
