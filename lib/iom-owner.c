/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owner and driver names. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iom-error.h"
#include "iom-owner.h"
#include "iom-utf8.h"
#include "macro.h"

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

int iom_owner_validate(const char *name, char **ret_error) {
        static const char *const what[_IOM_UNICHAR_CLASS_MAX] = {
                [IOM_UNICHAR_CONTROL] = "a control character",
                [IOM_UNICHAR_BIDI] = "a bidi control",
                [IOM_UNICHAR_INVISIBLE] = "an invisible format character",
        };
        size_t n;
        uint32_t c;

        if (!name || !*name)
                return iom_error(ret_error, -EINVAL, "the owner name is empty");
        n = strlen(name);
        if (n > IOM_OWNER_NAME_MAX)
                return iom_error(ret_error, -EINVAL, "the owner name is longer than %d bytes",
                                 IOM_OWNER_NAME_MAX);
        for (size_t i = 0; i < n;) {
                int len = iom_utf8_decode(name + i, n - i, &c);
                if (len < 0)
                        return iom_error(ret_error, -EINVAL,
                                         "the owner name is not valid UTF-8 at byte %zu", i + 1);
                enum iom_unichar_class class = iom_unichar_classify(c);
                if (what[class])
                        return iom_error(ret_error, -EINVAL,
                                         "the owner name contains %s U+%04X at byte %zu",
                                         what[class], (unsigned) c, i + 1);
                if (c == '/')
                        return iom_error(ret_error, -EINVAL, "the owner name contains '/'");
                if (class == IOM_UNICHAR_SPACE && i == 0)
                        return iom_error(ret_error, -EINVAL,
                                         "the owner name starts with a blank U+%04X", (unsigned) c);
                if (class == IOM_UNICHAR_SPACE && i + (size_t) len == n)
                        return iom_error(ret_error, -EINVAL,
                                         "the owner name ends with a blank U+%04X", (unsigned) c);
                i += (size_t) len;
        }
        if (strncmp(name, "uid:", 4) == 0 && !valid_uid(name + 4))
                return iom_error(ret_error, -EINVAL,
                                 "a local owner 'uid:N' needs a numeric user id");
        if (strncmp(name, "unit:", 5) == 0 && !valid_unit(name + 5))
                return iom_error(ret_error, -EINVAL,
                                 "a local owner 'unit:NAME.service' needs a service unit name");
        return 0;
}

int iom_driver_name_validate(const char *name, char **ret_error) {
        size_t n;

        if (!name || !*name)
                return iom_error(ret_error, -EINVAL, "it is empty");
        n = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
        if (name[n]) {
                char bad[5] = "";
                uint32_t c;
                int len = iom_utf8_decode(name + n, strlen(name + n), &c);

                memcpy(bad, name + n, len > 0 ? (size_t) len : 1);
                return iom_error(ret_error, -EINVAL,
                                 "'%s' at byte %zu is not a letter, digit, '_', '.' or '-'",
                                 IOM_ESCAPE(bad), n + 1);
        }
        if (n > IOM_DRIVER_NAME_MAX)
                return iom_error(ret_error, -EINVAL, "it is longer than %d bytes",
                                 IOM_DRIVER_NAME_MAX);
        return 0;
}
