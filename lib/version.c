/* version.c - the runtime twins of the version macros. */
#include "internal.h"

#define CANO__STR2(x) #x
#define CANO__STR(x) CANO__STR2(x)

const char *cano_version(void)
{
    return CANO__STR(CANO_VERSION_MAJOR) "." CANO__STR(CANO_VERSION_MINOR)
        "." CANO__STR(CANO_VERSION_PATCH);
}

int32_t cano_version_number(void)
{
    return CANO_VERSION_NUMBER;
}
