#ifndef C_TALLY_SHIM_H
#define C_TALLY_SHIM_H
#include <stddef.h>
#include <stdint.h>

/// Small C helpers for things Swift cannot import (macros, variadic functions).
/// Returns the OpenSSL version number (OPENSSL_VERSION_NUMBER is a macro).
unsigned long tally_openssl_version_number(void);

#endif
