#include "CTallyShim.h"
#include <openssl/opensslv.h>

unsigned long tally_openssl_version_number(void) { return OPENSSL_VERSION_NUMBER; }
