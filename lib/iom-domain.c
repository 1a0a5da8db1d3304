/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt domain XML parsing (libxml2): which host PCI devices a guest takes.
 *
 * What counts, as libvirt's formatdomain documentation describes it ("Host device
 * assignment", "Network interfaces: PCI Passthrough"): every <hostdev> of mode 'subsystem'
 * (the default) and type 'pci', and every <interface type='hostdev'>, each by its
 * <source><address domain= bus= slot= function=>. The guest-side <address> beside <source>
 * says where the guest sees the device and is never read. Numbers are read as libvirt reads
 * them (strtoul with base 0): "0x" hexadecimal, a leading "0" octal, else decimal.
 *
 * The XML comes from libvirt on stdin of a root process, so it is treated as hostile: a size
 * cap before parsing, no network, no DTD at all (refused when the parser meets the DOCTYPE,
 * before any entity is declared), no entity substitution, libxml2's default depth limits
 * (no XML_PARSE_HUGE). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>

#include "iom-domain.h"
#include "iom-error.h"
#include "iom-log.h"

static const char *const iom_domain_pci_kind_table[_IOM_DOMAIN_PCI_KIND_MAX] = {
        [IOM_DOMAIN_PCI_HOSTDEV] = "hostdev",
        [IOM_DOMAIN_PCI_INTERFACE] = "interface",
};

DEFINE_STRING_TABLE_LOOKUP(iom_domain_pci_kind, enum iom_domain_pci_kind);

struct iom_domain *iom_domain_free(struct iom_domain *d) {
        if (!d)
                return NULL;
        free(d->name);
        free(d->uuid);
        free(d->pci);
        strv_free(d->ignored);
        free(d);
        return NULL;
}

static void xml_freep(xmlChar **p) {
        xmlFree(*p);
}
#define _cleanup_xml_free_ _cleanup_(xml_freep)
DEFINE_TRIVIAL_CLEANUP_FUNC(xmlDocPtr, xmlFreeDoc);
DEFINE_TRIVIAL_CLEANUP_FUNC(xmlParserCtxtPtr, xmlFreeParserCtxt);

/* Where an element sits, for messages: "line 12: <hostdev> #2". */
struct where {
        long line;
        const char *element;
        unsigned index;
};

static bool is_element(const xmlNode *n, const char *name) {
        return n->type == XML_ELEMENT_NODE && streq((const char *) n->name, name);
}

static xmlNode *first_child(const xmlNode *parent, const char *name) {
        for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
                if (is_element(n, name))
                        return n;
        return NULL;
}

static bool prop_is(xmlNode *n, const char *name, const char *value, const char *absent_value) {
        _cleanup_xml_free_ xmlChar *v = xmlGetProp(n, (const xmlChar *) name);
        return streq(v ? (const char *) v : absent_value, value);
}

/* One field of a PCI address, as libvirt's virStrToLong_uip(base 0) reads it, but whole:
 * no sign, no blanks, no trailing text. */
static int parse_field(const char *s, unsigned long max, unsigned long *ret) {
        unsigned base = 10;
        unsigned long v = 0;
        const char *p = s;

        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                base = 16;
                p += 2;
        } else if (p[0] == '0' && p[1])
                base = 8;
        if (!*p)
                return -EINVAL;
        for (; *p; p++) {
                int c = tolower((unsigned char) *p), digit;

                if (isdigit(c))
                        digit = c - '0';
                else if (base == 16 && c >= 'a' && c <= 'f')
                        digit = c - 'a' + 10;
                else
                        return -EINVAL;
                if ((unsigned) digit >= base)
                        return -EINVAL;
                v = v * base + (unsigned long) digit;
                if (v > max)
                        return -ERANGE;
        }
        *ret = v;
        return 0;
}

static int parse_source_address(xmlNode *owner, const struct where *w, struct iom_address *ret,
                                char **ret_error) {
        static const struct {
                const char *name;
                unsigned long max;
                bool required;
        } fields[] = {
                {"domain", 0xffff, false},
                {"bus", 0xff, true},
                {"slot", 0x1f, true},
                {"function", 0x7, false},
        };
        unsigned long v[ELEMENTSOF(fields)] = {};
        xmlNode *address = first_child(first_child(owner, "source"), "address");

        if (!address)
                return iom_error(ret_error, -EINVAL,
                                 "line %ld: <%s> #%u: no <source><address> names the host "
                                 "device",
                                 w->line, w->element, w->index);
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                _cleanup_xml_free_ xmlChar *text =
                        xmlGetProp(address, (const xmlChar *) fields[i].name);
                const char *s = (const char *) text;
                int r;

                if (!s) {
                        if (fields[i].required)
                                return iom_error(ret_error, -EINVAL,
                                                 "line %ld: <%s> #%u: <source><address> has no "
                                                 "%s",
                                                 w->line, w->element, w->index, fields[i].name);
                        continue;
                }
                r = parse_field(s, fields[i].max, &v[i]);
                if (r == -ERANGE)
                        return iom_error(ret_error, -EINVAL,
                                         "line %ld: <%s> #%u: <source><address %s='%.32s'>: %s "
                                         "%.32s is larger than %#lx",
                                         w->line, w->element, w->index, fields[i].name, s,
                                         fields[i].name, s, fields[i].max);
                if (r < 0)
                        return iom_error(ret_error, -EINVAL,
                                         "line %ld: <%s> #%u: <source><address %s='%.32s'>: not a "
                                         "number (decimal, or hexadecimal with 0x)",
                                         w->line, w->element, w->index, fields[i].name, s);
        }
        *ret = (struct iom_address){
                .domain = (uint32_t) v[0],
                .bus = (uint8_t) v[1],
                .slot = (uint8_t) v[2],
                .function = (uint8_t) v[3],
        };
        return 0;
}

static int add_pci(struct iom_domain *d, xmlNode *n, enum iom_domain_pci_kind kind,
                   const struct where *w, char **ret_error) {
        struct iom_domain_pci pci = {
                .kind = kind,
                .managed = prop_is(n, "managed", "yes", "no"),
        };
        int r;

        r = parse_source_address(n, w, &pci.address, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < d->n_pci; i++)
                if (iom_address_equal(&d->pci[i].address, &pci.address)) {
                        char a[IOM_ADDRESS_STRING_MAX];
                        return iom_error(ret_error, -EINVAL,
                                         "line %ld: <%s> #%u: %s is given twice", w->line,
                                         w->element, w->index, iom_address_format(&pci.address, a));
                }
        if (d->n_pci >= IOM_DOMAIN_PCI_MAX)
                return iom_error(ret_error, -E2BIG, "line %ld: <%s> #%u: more than %u PCI devices",
                                 w->line, w->element, w->index, IOM_DOMAIN_PCI_MAX);
        if (GREEDY_REALLOC(d->pci, d->n_pci + 1) < 0)
                return -ENOMEM;
        d->pci[d->n_pci++] = pci;
        return 0;
}

static int add_ignored(struct iom_domain *d, size_t *n_ignored, xmlNode *n, const struct where *w) {
        _cleanup_xml_free_ xmlChar *type = xmlGetProp(n, (const xmlChar *) "type");
        _cleanup_xml_free_ xmlChar *mode = xmlGetProp(n, (const xmlChar *) "mode");

        if (*n_ignored >= IOM_DOMAIN_PCI_MAX)
                return 0; /* a list for the log: the first ones say enough */
        if (GREEDY_REALLOC(d->ignored, *n_ignored + 2) < 0)
                return -ENOMEM;
        d->ignored[*n_ignored + 1] = NULL;
        if (asprintf(&d->ignored[*n_ignored], "<%s> #%u (mode '%.32s', type '%.32s', line %ld)",
                     w->element, w->index, mode ? (const char *) mode : "subsystem",
                     type ? (const char *) type : "", w->line) < 0) {
                d->ignored[*n_ignored] = NULL;
                return -ENOMEM;
        }
        (*n_ignored)++;
        return 0;
}

static int parse_devices(struct iom_domain *d, xmlNode *devices, char **ret_error) {
        unsigned n_hostdev = 0, n_interface = 0;
        size_t n_ignored = 0;
        int r;

        for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next) {
                struct where w = {.line = xmlGetLineNo(n)};

                if (is_element(n, "hostdev")) {
                        w.element = "hostdev";
                        w.index = ++n_hostdev;
                        if (prop_is(n, "mode", "subsystem", "subsystem") &&
                            prop_is(n, "type", "pci", ""))
                                r = add_pci(d, n, IOM_DOMAIN_PCI_HOSTDEV, &w, ret_error);
                        else
                                r = add_ignored(d, &n_ignored, n, &w);
                } else if (is_element(n, "interface")) {
                        w.element = "interface";
                        w.index = ++n_interface;
                        if (!prop_is(n, "type", "hostdev", ""))
                                continue; /* a virtual NIC: nothing of the host's */
                        r = add_pci(d, n, IOM_DOMAIN_PCI_INTERFACE, &w, ret_error);
                } else
                        continue;
                if (r < 0)
                        return r;
        }
        return 0;
}

int iom_uuid_normalize(const char *s, char **ret) {
        char out[37], *o = out;
        unsigned n = 0;

        for (const char *p = s; *p; p++) {
                if (*p == '-' || isspace((unsigned char) *p))
                        continue;
                if (!isxdigit((unsigned char) *p) || n == 32)
                        return -EINVAL;
                if (n == 8 || n == 12 || n == 16 || n == 20)
                        *o++ = '-';
                *o++ = (char) tolower((unsigned char) *p);
                n++;
        }
        if (n != 32)
                return -EINVAL;
        *o = '\0';
        *ret = strdup(out);
        return *ret ? 0 : -ENOMEM;
}

static int parse_identity(struct iom_domain *d, xmlNode *root, char **ret_error) {
        xmlNode *name = first_child(root, "name"), *uuid = first_child(root, "uuid");
        _cleanup_xml_free_ xmlChar *name_text = name ? xmlNodeGetContent(name) : NULL;
        _cleanup_xml_free_ xmlChar *uuid_text = uuid ? xmlNodeGetContent(uuid) : NULL;

        if (!name_text || !*name_text)
                return iom_error(ret_error, -EINVAL, "<domain> has no <name>");
        d->name = strdup((const char *) name_text);
        if (!d->name)
                return -ENOMEM;
        if (!uuid_text)
                return 0;
        if (iom_uuid_normalize((const char *) uuid_text, &d->uuid) < 0)
                return iom_error(ret_error, -EINVAL,
                                 "line %ld: <uuid>%.64s</uuid>: not a UUID (32 hexadecimal digits)",
                                 xmlGetLineNo(uuid), (const char *) uuid_text);
        return 0;
}

/* What the parser met that ends the parse: the DOCTYPE's line, the first error. */
struct parse_state {
        int doctype_line;
        int error_line;
        char *error;
};

/* Called when the parser meets <!DOCTYPE, before the internal subset (where entities would
 * be declared) is read: stop right there. */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
                           const xmlChar *system_id) {
        xmlParserCtxtPtr ctxt = ctx;
        struct parse_state *state = ctxt->_private;

        state->doctype_line = ctxt->input ? ctxt->input->line : 1;
        xmlStopParser(ctxt);
}

/* libxml2 goes on after an error and reports what follows from it; the first one is the
 * cause. */
static void record_first_error(void *ctx, xmlErrorPtr e) {
        xmlParserCtxtPtr ctxt = ctx;
        struct parse_state *state = ctxt->_private;

        if (state->error || !e->message || e->level < XML_ERR_ERROR)
                return;
        state->error = strndup(e->message, strcspn(e->message, "\n"));
        state->error_line = e->line;
}

static int read_document(const char *xml, size_t len, xmlDocPtr *ret, char **ret_error) {
        _cleanup_(xmlFreeParserCtxtp) xmlParserCtxtPtr ctxt = NULL;
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        struct parse_state state = {};
        _cleanup_free_ char *error = NULL;

        ctxt = xmlCreateMemoryParserCtxt(xml, (int) len);
        if (!ctxt)
                return -ENOMEM;
        /* Not XML_PARSE_NOENT (it would substitute entities), not XML_PARSE_DTDLOAD, not
         * XML_PARSE_HUGE; errors come to record_first_error(), libxml2 prints nothing. */
        (void) xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                               XML_PARSE_NOCDATA);
        ctxt->sax->internalSubset = refuse_doctype;
        ctxt->sax->serror = record_first_error;
        ctxt->_private = &state;
        (void) xmlParseDocument(ctxt);
        doc = TAKE_PTR(ctxt->myDoc);
        error = TAKE_PTR(state.error);
        if (state.doctype_line > 0)
                return iom_error(ret_error, -EINVAL,
                                 "line %d: <!DOCTYPE> is not allowed in domain XML (libvirt "
                                 "writes none; DTDs and entities are refused)",
                                 state.doctype_line);
        if (!doc || !ctxt->wellFormed)
                return iom_error(ret_error, -EINVAL, "line %d: not well-formed XML: %s",
                                 state.error_line, error ? error : "no document");
        *ret = TAKE_PTR(doc);
        return 0;
}

int iom_domain_parse(const char *xml, size_t len, struct iom_domain **ret, char **ret_error) {
        _cleanup_(iom_domain_freep) struct iom_domain *d = NULL;
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        xmlNode *root;
        int r;

        if (!xml || !ret)
                return -EINVAL;
        if (len == 0)
                return iom_error(ret_error, -EINVAL, "the domain XML is empty");
        if (len > IOM_DOMAIN_XML_MAX)
                return iom_error(ret_error, -E2BIG,
                                 "the domain XML is %zu bytes, more than the %u allowed", len,
                                 IOM_DOMAIN_XML_MAX);
        r = read_document(xml, len, &doc, ret_error);
        if (r < 0)
                return r;
        root = xmlDocGetRootElement(doc);
        if (!root || !is_element(root, "domain"))
                return iom_error(ret_error, -EINVAL, "the root element is <%s>, not <domain>",
                                 root ? (const char *) root->name : "");

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        r = parse_identity(d, root, ret_error);
        if (r < 0)
                return r;
        r = parse_devices(d, first_child(root, "devices"), ret_error);
        if (r < 0)
                return r;
        iom_debug("domain '%s': %zu PCI devices", d->name, d->n_pci);
        *ret = TAKE_PTR(d);
        return 0;
}
