/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rendering the exports: the listed groups whole, per vendor:device where the consumer names
 * devices by id (KubeVirt, Nova's aliases, NFD), by address where an id is ambiguous (Nova's
 * device_spec), and the daemon's gauges and counters for Prometheus. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iom-export.h"
#include "macro.h"

static const char *const iom_export_format_table[_IOM_EXPORT_FORMAT_MAX] = {
        [IOM_EXPORT_KUBEVIRT] = "kubevirt",
        [IOM_EXPORT_KUBEVIRT_YAML] = "kubevirt-yaml",
        [IOM_EXPORT_NOVA] = "nova",
        [IOM_EXPORT_NFD] = "nfd",
        [IOM_EXPORT_PROMETHEUS] = "prometheus",
};

DEFINE_STRING_TABLE_LOOKUP(iom_export_format, enum iom_export_format);

bool iom_export_host_assigns(const struct iom_host *h) {
        return h && h->groups_present && (h->interrupt_remapping || h->allow_unsafe_interrupts);
}

static bool autobound(const struct iom_inventory *inv, const struct iom_policy *policy,
                      const struct iom_device *d) {
        struct iom_policy_subject s;
        char dsn[IOM_DSN_STRING_MAX];

        if (!policy)
                return false;
        iom_policy_subject_from_device(inv, d, &s, dsn);
        return iom_policy_autobind(policy, &s) != NULL;
}

bool iom_export_group_listed(const struct iom_inventory *inv, const struct iom_policy *policy,
                             const struct iom_group *g) {
        bool endpoint = false;

        /* Quarantined: kept from guests until released by hand, whatever its driver. */
        if (!inv || !g || g->quarantine || !iom_export_host_assigns(inv->host))
                return false;
        for (size_t i = 0; i < g->n_devices; i++) {
                const struct iom_device *d = g->devices[i];

                if (iom_device_is_bridge(d))
                        continue;
                endpoint = true;
                if (iom_device_blocks_viability(d) && !autobound(inv, policy, d))
                        return false;
        }
        return endpoint;
}

/* One vendor:device among the listed endpoints. */
struct id_entry {
        uint16_t vendor, device;
        const struct iom_device *first; /* the first listed device with this id, by address */
        unsigned listed;                /* listed devices with it */
        unsigned available;             /* of which in groups nobody owns */
        unsigned unlisted;              /* devices with it that are not listed */
        const char *resource_name;      /* from the policy, or NULL */
};

struct iom_export_listing {
        const struct iom_inventory *inv;
        const struct iom_policy *policy;
        bool *group_listed;     /* per group of the inventory, by index */
        unsigned listed_groups; /* how many are */
        unsigned viable_groups; /* groups whose endpoints are all on VFIO drivers or none */
        bool *listed;           /* per device of the inventory, by index */
        struct id_entry *ids;
        size_t n_ids;
};

struct iom_export_listing *iom_export_listing_free(struct iom_export_listing *l) {
        if (!l)
                return NULL;
        free(l->group_listed);
        free(l->listed);
        free(l->ids);
        return mfree(l);
}

static struct id_entry *find_id(const struct iom_export_listing *l, uint16_t vendor,
                                uint16_t device) {
        for (size_t i = 0; i < l->n_ids; i++)
                if (l->ids[i].vendor == vendor && l->ids[i].device == device)
                        return &l->ids[i];
        return NULL;
}

static int compare_ids(const void *a, const void *b) {
        const struct id_entry *x = a, *y = b;
        uint32_t kx = (uint32_t) x->vendor << 16 | x->device,
                 ky = (uint32_t) y->vendor << 16 | y->device;
        return kx < ky ? -1 : kx > ky;
}

static const char *resource_name_of(const struct iom_export_listing *l,
                                    const struct iom_device *d) {
        const struct iom_policy_rule *rule;
        struct iom_policy_subject s;
        char dsn[IOM_DSN_STRING_MAX];

        if (!l->policy)
                return NULL;
        iom_policy_subject_from_device(l->inv, d, &s, dsn);
        rule = iom_policy_resource_name(l->policy, &s);
        return rule ? rule->resource_name : NULL;
}

/* Whether @g (a group of the listing's inventory, or NULL) is listed, as decided once. */
static bool group_listed(const struct iom_export_listing *l, const struct iom_group *g) {
        size_t i;

        if (!g)
                return false;
        i = iom_inventory_group_index(l->inv, g->id);
        return i < l->inv->n_groups && l->inv->groups[i] == g && l->group_listed[i];
}

int iom_export_listing_new(const struct iom_inventory *inv, const struct iom_policy *policy,
                           struct iom_export_listing **ret) {
        _cleanup_(iom_export_listing_freep) struct iom_export_listing *l = NULL;

        if (!inv || !inv->host || !ret)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (struct iom_export_listing){.inv = inv, .policy = policy};
        l->group_listed = calloc(inv->n_groups + 1, sizeof(bool));
        l->listed = calloc(inv->n_devices + 1, sizeof(bool));
        if (!l->group_listed || !l->listed)
                return -ENOMEM;

        /* The policy's verdict on each group, once: every format and count reads it. */
        for (size_t i = 0; i < inv->n_groups; i++) {
                l->group_listed[i] = iom_export_group_listed(inv, policy, inv->groups[i]);
                l->listed_groups += l->group_listed[i];
                l->viable_groups += inv->groups[i]->viable;
        }
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct iom_device *d = inv->devices[i];
                struct id_entry *e;

                if (iom_device_is_bridge(d))
                        continue;
                l->listed[i] = group_listed(l, d->group);
                e = find_id(l, d->vendor_id, d->device_id);
                if (!e) {
                        if (GREEDY_REALLOC(l->ids, l->n_ids + 1) < 0)
                                return -ENOMEM;
                        e = &l->ids[l->n_ids++];
                        *e = (struct id_entry){.vendor = d->vendor_id, .device = d->device_id};
                }
                if (!l->listed[i]) {
                        e->unlisted++;
                        continue;
                }
                if (!e->first) {
                        e->first = d;
                        e->resource_name = resource_name_of(l, d);
                }
                e->listed++;
                e->available += !d->group->owner;
        }
        if (l->n_ids > 0)
                qsort(l->ids, l->n_ids, sizeof(*l->ids), compare_ids);
        *ret = TAKE_PTR(l);
        return 0;
}

/* A JSON string (also a YAML double-quoted scalar). */
static void put_json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (*c == '"' || *c == '\\')
                        fprintf(f, "\\%c", *c);
                else if (*c < 0x20 || *c == 0x7f)
                        fprintf(f, "\\u%04x", *c);
                else
                        fputc(*c, f);
        fputc('"', f);
}

/* The resource name of @e: the policy's, or "iommud.io/10de_1db4". */
static void put_resource_name(FILE *f, const struct id_entry *e) {
        char name[64];

        if (!e->resource_name)
                (void) snprintf(name, sizeof(name), IOM_EXPORT_RESOURCE_DOMAIN "/%04x_%04x",
                                e->vendor, e->device);
        put_json_string(f, e->resource_name ? e->resource_name : name);
}

static size_t listed_ids(const struct iom_export_listing *l) {
        size_t n = 0;
        for (size_t i = 0; i < l->n_ids; i++)
                n += l->ids[i].listed > 0;
        return n;
}

/* KubeVirt's device plugin takes devices already on vfio-pci that match pciVendorSelector
 * ("VVVV:DDDD", as its documentation spells it) and offers them as resourceName. */
static void render_kubevirt_json(FILE *f, const struct iom_export_listing *l) {
        bool first = true;

        fputs("{\n"
              "  \"spec\": {\n"
              "    \"configuration\": {\n"
              "      \"permittedHostDevices\": {\n"
              "        \"pciHostDevices\": [",
              f);
        for (size_t i = 0; i < l->n_ids; i++) {
                const struct id_entry *e = &l->ids[i];
                if (e->listed == 0)
                        continue;
                fprintf(f,
                        "%s\n"
                        "          {\n"
                        "            \"pciVendorSelector\": \"%04X:%04X\",\n"
                        "            \"resourceName\": ",
                        first ? "" : ",", e->vendor, e->device);
                put_resource_name(f, e);
                fputs("\n          }", f);
                first = false;
        }
        fputs(first ? "]\n" : "\n        ]\n", f);
        fputs("      }\n"
              "    }\n"
              "  }\n"
              "}\n",
              f);
}

static void render_kubevirt_yaml(FILE *f, const struct iom_export_listing *l) {
        fprintf(f,
                "spec:\n"
                "  configuration:\n"
                "    permittedHostDevices:\n"
                "      pciHostDevices:%s\n",
                listed_ids(l) == 0 ? " []" : "");
        for (size_t i = 0; i < l->n_ids; i++) {
                const struct id_entry *e = &l->ids[i];
                if (e->listed == 0)
                        continue;
                fprintf(f, "        - pciVendorSelector: \"%04X:%04X\"\n          resourceName: ",
                        e->vendor, e->device);
                put_resource_name(f, e);
                fputc('\n', f);
        }
}

/* Nova's device_type: a physical function must be asked for as type-PF to be passed whole. */
static const char *nova_device_type(const struct iom_device *d) {
        return d->is_vf ? "type-VF" : d->sriov ? "type-PF" : "type-PCI";
}

static void put_nova_alias(FILE *f, const char *name, const struct id_entry *e) {
        fputs("alias = {\"name\": ", f);
        put_json_string(f, name);
        fprintf(f,
                ", \"vendor_id\": \"%04x\", \"product_id\": \"%04x\", \"device_type\": \"%s\"}\n",
                e->vendor, e->device, nova_device_type(e->first));
}

/* device_spec is one JSON list (nova.conf(5) allows it); alias is repeated, one per line, as
 * Nova wants it. An id that devices outside the listing share is specified by address, so
 * Nova never takes a device whose group is not listed. */
static void render_nova(FILE *f, const struct iom_export_listing *l) {
        const struct iom_inventory *inv = l->inv;
        bool first = true;

        fputs("# nova.conf for this host, from iommud (iommud.export(7)): the devices whose\n"
              "# IOMMU groups can be given whole to a guest.\n"
              "[pci]\n"
              "device_spec = [",
              f);
        for (size_t i = 0; i < l->n_ids; i++) {
                const struct id_entry *e = &l->ids[i];
                if (e->listed == 0 || e->unlisted > 0)
                        continue;
                fprintf(f, "%s{\"vendor_id\": \"%04x\", \"product_id\": \"%04x\"}",
                        first ? "" : ", ", e->vendor, e->device);
                first = false;
        }
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct iom_device *d = inv->devices[i];
                const struct id_entry *e = find_id(l, d->vendor_id, d->device_id);
                char a[IOM_ADDRESS_STRING_MAX];

                if (!l->listed[i] || !e || e->unlisted == 0)
                        continue;
                fprintf(f,
                        "%s{\"address\": \"%s\", \"vendor_id\": \"%04x\", \"product_id\": "
                        "\"%04x\"}",
                        first ? "" : ", ", iom_address_format(&d->address, a), d->vendor_id,
                        d->device_id);
                first = false;
        }
        fputs("]\n", f);

        /* An alias per id, named after its resource ("10de_1db4", or the name part of the
         * policy's resource_name); and one per policy alias of a listed device. */
        for (size_t i = 0; i < l->n_ids; i++) {
                const struct id_entry *e = &l->ids[i];
                char name[64];

                if (e->listed == 0)
                        continue;
                if (e->resource_name)
                        put_nova_alias(f, strchr(e->resource_name, '/') + 1, e);
                else {
                        (void) snprintf(name, sizeof(name), "%04x_%04x", e->vendor, e->device);
                        put_nova_alias(f, name, e);
                }
        }
        for (size_t i = 0; l->policy && i < l->policy->n_aliases; i++) {
                const struct iom_policy_alias *a = &l->policy->aliases[i];
                const struct iom_device *d = iom_inventory_find_device(inv, &a->address);
                struct id_entry *e;

                if (!d || !group_listed(l, d->group) || iom_device_is_bridge(d))
                        continue;
                e = find_id(l, d->vendor_id, d->device_id);
                if (e)
                        put_nova_alias(f, a->name, e);
        }
}

static const char *true_false(bool b) {
        return b ? "true" : "false";
}

/* NFD's local source reads "name=value" lines; names without a prefix are put under
 * feature.node.kubernetes.io/. Names and values stay within label syntax (at most 63 of
 * [A-Za-z0-9._-]). */
static void render_nfd(FILE *f, const struct iom_export_listing *l) {
        const struct iom_host *h = l->inv->host;
        fputs("# Node Feature Discovery features of this host, kept written by iommud\n"
              "# (iommud.export(7)).\n",
              f);
        fprintf(f, "iommu.present=%s\n", true_false(h->groups_present));
        fprintf(f, "iommu.interrupt_remapping=%s\n", true_false(h->interrupt_remapping));
        fprintf(f, "iommu.acs_override=%s\n", true_false(h->acs_override));
        fprintf(f, "iommud.assignable_groups=%u\n", l->listed_groups);
        for (size_t i = 0; i < l->n_ids; i++)
                if (l->ids[i].listed > 0)
                        fprintf(f, "iommud.assignable.%04x_%04x=%u\n", l->ids[i].vendor,
                                l->ids[i].device, l->ids[i].listed);
        for (size_t i = 0; i < l->n_ids; i++)
                if (l->ids[i].listed > 0)
                        fprintf(f, "iommud.available.%04x_%04x=%u\n", l->ids[i].vendor,
                                l->ids[i].device, l->ids[i].available);
}

/* A label value of the exposition format: backslash, double quote and newline escaped. */
static void put_label_value(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++)
                if (*s == '\\' || *s == '"')
                        fprintf(f, "\\%c", *s);
                else if (*s == '\n')
                        fputs("\\n", f);
                else
                        fputc(*s, f);
        fputc('"', f);
}

static void put_family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_sample(FILE *f, const char *name, uint64_t value) {
        fprintf(f, "%s %" PRIu64 "\n", name, value);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Prints "@name{@label="value"} count" for each distinct value of @values (@n of them, NULL
 * counted as @null_value), in order. */
static void put_counted(FILE *f, const char *name, const char *label, const char **values, size_t n,
                        const char *null_value) {
        for (size_t i = 0; i < n; i++)
                if (!values[i])
                        values[i] = null_value;
        if (n > 0)
                qsort(values, n, sizeof(*values), compare_strings);
        for (size_t i = 0; i < n;) {
                size_t k = i;
                while (k < n && streq(values[k], values[i]))
                        k++;
                fprintf(f, "%s{%s=", name, label);
                put_label_value(f, values[i]);
                fprintf(f, "} %zu\n", k - i);
                i = k;
        }
}

static int render_prometheus(FILE *f, const struct iom_export_listing *l,
                             const struct iom_export_state *st) {
        static const struct iom_export_state zero = {};
        const struct iom_inventory *inv = l->inv;
        _cleanup_free_ const char **values = NULL;
        size_t n;

        if (!st)
                st = &zero;
        values = calloc(MAX(inv->n_devices, inv->n_groups) + 1, sizeof(char *));
        if (!values)
                return -ENOMEM;

        put_family(f, "iommud_iommu_present", "gauge",
                   "Whether the host has IOMMU groups (1) or not (0).");
        put_sample(f, "iommud_iommu_present", inv->host->groups_present);
        put_family(f, "iommud_interrupt_remapping", "gauge",
                   "Whether interrupt remapping is on (1) or not (0).");
        put_sample(f, "iommud_interrupt_remapping", inv->host->interrupt_remapping);
        put_family(f, "iommud_groups", "gauge", "IOMMU groups of the host.");
        put_sample(f, "iommud_groups", inv->n_groups);
        put_family(f, "iommud_groups_viable", "gauge",
                   "IOMMU groups whose every endpoint is on a VFIO driver or none.");
        put_sample(f, "iommud_groups_viable", l->viable_groups);
        put_family(f, "iommud_groups_assignable", "gauge",
                   "IOMMU groups the exports list: viable, or viable once autobind ran.");
        put_sample(f, "iommud_groups_assignable", l->listed_groups);
        put_family(f, "iommud_groups_owned", "gauge",
                   "IOMMU groups a guest or local owner holds, by owner.");
        n = 0;
        for (size_t i = 0; i < inv->n_groups; i++)
                if (inv->groups[i]->owner)
                        values[n++] = inv->groups[i]->owner;
        put_counted(f, "iommud_groups_owned", "owner", values, n, NULL);
        put_family(f, "iommud_groups_quarantined", "gauge",
                   "IOMMU groups held back after a failed reset.");
        put_sample(f, "iommud_groups_quarantined", st->quarantined_groups);
        put_family(f, "iommud_devices", "gauge",
                   "PCI devices, by the driver bound to them (\"none\" when unbound).");
        for (size_t i = 0; i < inv->n_devices; i++)
                values[i] = inv->devices[i]->driver;
        put_counted(f, "iommud_devices", "driver", values, inv->n_devices, "none");
        put_family(f, "iommud_binder_failures_total", "counter",
                   "Changes of drivers that ran and failed: refused, or rolled back.");
        put_sample(f, "iommud_binder_failures_total", st->binder_failures);
        put_family(f, "iommud_policy_reloads_total", "counter",
                   "Policy reloads that replaced the policy in force.");
        put_sample(f, "iommud_policy_reloads_total", st->policy_reloads);
        put_family(f, "iommud_policy_reload_errors_total", "counter",
                   "Policy reloads refused for errors: the policy in force stayed.");
        put_sample(f, "iommud_policy_reload_errors_total", st->policy_reload_errors);
        put_family(f, "iommud_policy_rules", "gauge", "Rules of the policy in force.");
        put_sample(f, "iommud_policy_rules", l->policy ? l->policy->n_rules : 0);
        put_family(f, "iommud_spaces", "gauge", "Mediated I/O address spaces.");
        put_sample(f, "iommud_spaces", st->n_spaces);
        if (st->n_spaces == 0)
                return 0;
        put_family(f, "iommud_space_mappings", "gauge",
                   "Mappings of a mediated I/O address space.");
        for (size_t i = 0; i < st->n_spaces; i++) {
                fprintf(f, "iommud_space_mappings{space=\"%" PRIu32 "\",guest=", st->spaces[i].id);
                put_label_value(f, strempty(st->spaces[i].guest));
                fprintf(f, "} %" PRIu64 "\n", st->spaces[i].mappings);
        }
        put_family(f, "iommud_space_mapped_bytes", "gauge",
                   "Bytes mapped in a mediated I/O address space.");
        for (size_t i = 0; i < st->n_spaces; i++) {
                fprintf(f,
                        "iommud_space_mapped_bytes{space=\"%" PRIu32 "\",guest=", st->spaces[i].id);
                put_label_value(f, strempty(st->spaces[i].guest));
                fprintf(f, "} %" PRIu64 "\n", st->spaces[i].mapped_bytes);
        }
        return 0;
}

int iom_export_listing_render(const struct iom_export_listing *l, enum iom_export_format format,
                              const struct iom_export_state *state, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        FILE *f;
        int r = 0;

        if (!l || !ret || format < 0 || format >= _IOM_EXPORT_FORMAT_MAX)
                return -EINVAL;
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        switch (format) {
        case IOM_EXPORT_KUBEVIRT:
                render_kubevirt_json(f, l);
                break;
        case IOM_EXPORT_KUBEVIRT_YAML:
                render_kubevirt_yaml(f, l);
                break;
        case IOM_EXPORT_NOVA:
                render_nova(f, l);
                break;
        case IOM_EXPORT_NFD:
                render_nfd(f, l);
                break;
        case IOM_EXPORT_PROMETHEUS:
                r = render_prometheus(f, l, state);
                break;
        default:
                break;
        }
        if (ferror(f))
                r = r < 0 ? r : -ENOMEM;
        if (fclose(f) != 0)
                r = r < 0 ? r : -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(text);
        return 0;
}

int iom_export_render(enum iom_export_format format, const struct iom_inventory *inv,
                      const struct iom_policy *policy, const struct iom_export_state *state,
                      char **ret) {
        _cleanup_(iom_export_listing_freep) struct iom_export_listing *l = NULL;
        int r;

        if (!ret || format < 0 || format >= _IOM_EXPORT_FORMAT_MAX)
                return -EINVAL;
        r = iom_export_listing_new(inv, policy, &l);
        if (r < 0)
                return r;
        return iom_export_listing_render(l, format, state, ret);
}
