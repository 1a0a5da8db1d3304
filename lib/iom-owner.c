/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owner names. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iom-owner.h"
#include "macro.h"

#define FAIL(msg)                                                                                  \
        do {                                                                                       \
                if (ret_error)                                                                     \
                        *ret_error = (msg);                                                        \
                return -EINVAL;                                                                    \
        } while (0)

static bool valid_uid(const char *s) {
        char *end;

        if (!isdigit((unsigned char) *s))
                return false;
        errno = 0;
        unsigned long uid = strtoul(s, &end, 10);
        return errno == 0 && *end == '\0' && uid < 0xffffffffUL;
}

static bool valid_unit(const char *s) {
        size_t n = strlen(s);
        const char *suffix = ".service";

        if (n <= strlen(suffix) || !streq(s + n - strlen(suffix), suffix))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr(":-_.\\@", *p))
                        return false;
        return true;
}

int iom_owner_validate(const char *name, const char **ret_error) {
        if (!name || !*name)
                FAIL("the owner name is empty");
        if (strlen(name) > IOM_OWNER_NAME_MAX)
                FAIL("the owner name is longer than 256 bytes");
        for (const unsigned char *p = (const unsigned char *) name; *p; p++) {
                if (*p < 0x20 || *p == 0x7f)
                        FAIL("the owner name contains a control character");
                if (*p == '/')
                        FAIL("the owner name contains '/'");
        }
        if (strncmp(name, "uid:", 4) == 0 && !valid_uid(name + 4))
                FAIL("a local owner 'uid:N' needs a numeric user id");
        if (strncmp(name, "unit:", 5) == 0 && !valid_unit(name + 5))
                FAIL("a local owner 'unit:NAME.service' needs a service unit name");
        return 0;
}

bool iom_owner_is_local(const char *name) {
        return name && (strncmp(name, "uid:", 4) == 0 || strncmp(name, "unit:", 5) == 0);
}
