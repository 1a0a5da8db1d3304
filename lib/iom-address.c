/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI address parsing and formatting. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iom-address.h"
#include "iom-error.h"
#include "macro.h"

/* Reads up to @max_digits hex digits; returns how many were read, 0 when none. */
static size_t parse_hex(const char *s, size_t max_digits, uint64_t *ret) {
        uint64_t v = 0;
        size_t n = 0;

        while (n < max_digits && isxdigit((unsigned char) s[n])) {
                int c = tolower((unsigned char) s[n]);
                v = v * 16 + (uint64_t) (isdigit(c) ? c - '0' : c - 'a' + 10);
                n++;
        }
        *ret = v;
        return n;
}

int iom_address_parse(const char *s, struct iom_address *ret, char **ret_error) {
        uint64_t fields[3], function;
        size_t n_fields = 0;
        const char *p;

        if (!s || !ret)
                return iom_error(ret_error, -EINVAL, "no address given");
        if (!*s)
                return iom_error(ret_error, -EINVAL, "the address is empty");

        /* Colon-separated hex fields: [domain:]bus:slot, then '.' function. */
        p = s;
        for (;;) {
                size_t n = parse_hex(p, 9, &fields[n_fields]);
                if (n == 0)
                        return iom_error(ret_error, -EINVAL,
                                         "expected hexadecimal digits, as in 0000:01:00.0");
                if (n > 8)
                        return iom_error(ret_error, -EINVAL, "a field has too many digits");
                p += n;
                n_fields++;
                if (*p != ':')
                        break;
                if (n_fields == 3)
                        return iom_error(ret_error, -EINVAL,
                                         "too many ':'-separated fields, expected "
                                         "[domain:]bus:slot.function");
                p++;
        }
        if (n_fields < 2)
                return iom_error(ret_error, -EINVAL,
                                 "expected [domain:]bus:slot.function, as in 0000:01:00.0");

        uint64_t domain = n_fields == 3 ? fields[0] : 0;
        uint64_t bus = fields[n_fields - 2], slot = fields[n_fields - 1];
        if (domain > UINT32_MAX)
                return iom_error(ret_error, -EINVAL, "the domain is out of range");
        if (bus > 0xff)
                return iom_error(ret_error, -EINVAL, "the bus must be 00-ff");
        if (slot > 0x1f)
                return iom_error(ret_error, -EINVAL, "the slot (device) must be 00-1f");
        if (*p != '.')
                return iom_error(ret_error, -EINVAL,
                                 "expected '.' and a function number after the slot");
        p++;
        if (parse_hex(p, 2, &function) != 1 || p[1] != '\0')
                return iom_error(ret_error, -EINVAL,
                                 "the function must be one digit 0-7 and end the address");
        if (function > 7)
                return iom_error(ret_error, -EINVAL, "the function must be 0-7");

        *ret = (struct iom_address){
                .domain = (uint32_t) domain,
                .bus = (uint8_t) bus,
                .slot = (uint8_t) slot,
                .function = (uint8_t) function,
        };
        return 0;
}

char *iom_address_format(const struct iom_address *a, char buf[static IOM_ADDRESS_STRING_MAX]) {
        (void) snprintf(buf, IOM_ADDRESS_STRING_MAX, "%04x:%02x:%02x.%x", a->domain, a->bus,
                        a->slot, a->function);
        return buf;
}

char *iom_address_format_path(const struct iom_address *a,
                              char buf[static IOM_ADDRESS_STRING_MAX]) {
        (void) snprintf(buf, IOM_ADDRESS_STRING_MAX, "%04x_%02x_%02x_%x", a->domain, a->bus,
                        a->slot, a->function);
        return buf;
}

int iom_address_parse_path(const char *s, struct iom_address *ret) {
        char spelled[IOM_ADDRESS_STRING_MAX], check[IOM_ADDRESS_STRING_MAX];
        struct iom_address a;
        char *last;
        size_t n;

        if (!s || !ret)
                return -EINVAL;
        n = strlen(s);
        if (n >= sizeof(spelled))
                return -EINVAL;
        /* dddd_bb_ss_f -> dddd:bb:ss.f: the last '_' is the '.', the others ':'. */
        memcpy(spelled, s, n + 1);
        last = strrchr(spelled, '_');
        if (!last)
                return -EINVAL;
        *last = '.';
        for (char *p = spelled; p < last; p++)
                if (*p == '_')
                        *p = ':';
        if (iom_address_parse(spelled, &a, NULL) < 0 ||
            !streq(iom_address_format_path(&a, check), s))
                return -EINVAL;
        *ret = a;
        return 0;
}

bool iom_address_equal(const struct iom_address *a, const struct iom_address *b) {
        return iom_address_compare(a, b) == 0;
}

int iom_address_compare(const struct iom_address *a, const struct iom_address *b) {
        if (a->domain != b->domain)
                return a->domain < b->domain ? -1 : 1;
        if (a->bus != b->bus)
                return a->bus < b->bus ? -1 : 1;
        if (a->slot != b->slot)
                return a->slot < b->slot ? -1 : 1;
        if (a->function != b->function)
                return a->function < b->function ? -1 : 1;
        return 0;
}
