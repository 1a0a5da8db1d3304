/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* errno <-> org.iommud1.Error.* names (iommud.dbus(7), ERRORS). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-error.h"
#include "iom-error.h"
#include "macro.h"

/* One errno per name, so the mapping is a bijection both ways. */
static const sd_bus_error_map iommud_errors[] = {
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_NOT_FOUND, ENOENT),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_INVALID_ARGUMENT, EINVAL),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_IN_USE, EBUSY),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_OWNED, EEXIST),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_NOT_VIABLE, EXDEV),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_BUSY, EAGAIN),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_FAILED, EIO),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_POLICY_DENIED, EACCES),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_NOT_OWNER, EPERM),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_OVERLAP, EADDRINUSE),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_RESERVED, EADDRNOTAVAIL),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_LIMIT_EXCEEDED, ENOSPC),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_FAULT, EFAULT),
        SD_BUS_ERROR_MAP(IOMMUD_ERROR_QUARANTINED, ENOTRECOVERABLE),
        SD_BUS_ERROR_MAP_END,
};

int bus_error_register(void) {
        return sd_bus_error_add_map(iommud_errors);
}

int bus_error_set_errno(sd_bus_error *error, int r, const char *message) {
        int e = r < 0 ? -r : r;

        switch (e) {
        case ENOENT:
        case EINVAL:
        case EBUSY:
        case EEXIST:
        case EXDEV:
        case EAGAIN:
        case EIO:
        case EACCES:
        case EPERM:
        case ENOMEM:
        case EADDRINUSE:
        case EADDRNOTAVAIL:
        case ENOSPC:
        case EFAULT:
        case ENOTRECOVERABLE:
                break;
        case EDQUOT:
                e = ENOSPC;
                break;
        case ENOTUNIQ:
        case ERANGE:
        case ENAMETOOLONG:
                e = EINVAL;
                break;
        case ENODEV:
        case ENXIO:
                e = ENOENT;
                break;
        case ETIMEDOUT:
                e = EAGAIN;
                break;
        default:
                e = EIO;
        }
        /* sd-bus maps names to errno through the map, not errno to names: look ours up. */
        for (size_t i = 0; i < ELEMENTSOF(iommud_errors) - 1; i++) /* the last is the end mark */
                if (iommud_errors[i].code == e)
                        return sd_bus_error_set(error, iommud_errors[i].name,
                                                message ? message : strerror(e));
        return sd_bus_error_set_errnof(error, e, "%s", message ? message : strerror(e));
}

int bus_error_set_errnof(sd_bus_error *error, int r, const char *format, ...) {
        _cleanup_free_ char *text = NULL;
        va_list ap;
        int k;

        va_start(ap, format);
        k = iom_verror(&text, 0, format, ap);
        va_end(ap);
        return k < 0 ? k : bus_error_set_errno(error, r, text);
}
