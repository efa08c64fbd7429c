/* error.c - error codes, their names, and the per-thread detail message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

static _Thread_local char last_errmsg[512];

const char *cano_strerror(int err)
{
    switch (err) {
    case CANO_OK:        return "success";
    case CANO_EINVAL:    return "invalid argument";
    case CANO_ENOMEM:    return "out of memory";
    case CANO_EIO:       return "input/output error";
    case CANO_ENOSPC:    return "no space left on device";
    case CANO_ELOCKED:   return "store is locked by another opener";
    case CANO_ENOTFOUND: return "not found";
    case CANO_EEXIST:    return "already exists";
    case CANO_ECORRUPT:  return "data on disk is corrupt";
    case CANO_EOFFSET:   return "offset out of range";
    case CANO_ETOOBIG:   return "record or batch too large";
    case CANO_ETIMEDOUT: return "timed out";
    case CANO_ECLOSED:   return "closed";
    case CANO_EFATAL:    return "store failed to sync and refuses writes";
    case CANO_ESEQUENCE: return "producer sequence out of order";
    default:             return "unknown error";
    }
}

const char *cano_last_errmsg(void)
{
    return last_errmsg;
}

void cano__err_clear(void)
{
    last_errmsg[0] = '\0';
}

int cano__err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_errmsg, sizeof last_errmsg, fmt, ap);
    va_end(ap);
    return code;
}

/* Maps an errno to our code: ENOSPC and EDQUOT are "disk full", ENOMEM is
 * ours, everything else is an I/O failure with the OS text kept. */
int cano__err_os(int err_no, const char *what, const char *path)
{
    int code = CANO_EIO;
    if (err_no == ENOSPC || err_no == EDQUOT)
        code = CANO_ENOSPC;
    else if (err_no == ENOMEM)
        code = CANO_ENOMEM;
    snprintf(last_errmsg, sizeof last_errmsg, "%s %s: %s", what,
             path ? path : "", strerror(err_no));
    return code;
}
