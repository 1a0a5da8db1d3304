/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* errno <-> org.iommud1.Error.* names (iommud.dbus(7), ERRORS). */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "bus-error.h"
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

/* The errno @r stands for on the bus: itself when it has a name of ours or is ENOMEM, else the
 * nearest that has one. */
static int bus_errno(int r) {
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
        return e;
}

int bus_error_set_errno(sd_bus_error *error, int r, const char *message) {
        return bus_error_set_errnof(error, r, "%s", message ? message : strerror(bus_errno(r)));
}

int bus_error_set_errnof(sd_bus_error *error, int r, const char *format, ...) {
        const char *name = NULL;
        int e = bus_errno(r);
        va_list ap;

        /* sd-bus maps names to errno through the map, not errno to names: look ours up. */
        for (size_t i = 0; i < ELEMENTSOF(iommud_errors) - 1; i++) /* the last is the end mark */
                if (iommud_errors[i].code == e)
                        name = iommud_errors[i].name;
        va_start(ap, format);
        if (name)
                r = sd_bus_error_setfv(error, name, format, ap);
        else
                r = sd_bus_error_set_errnofv(error, e, format, ap);
        va_end(ap);
        return r;
}
