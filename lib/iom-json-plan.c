/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rendering a plan as JSON with json-c. */
#include <string.h>

#include <json-c/json.h>

#include "iom-json-plan.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

char *iom_json_plan(const struct iom_plan *p, bool dry_run) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *steps = json_object_new_array();
        const char *s;

        if (!o || !steps) {
                json_object_put(steps);
                return NULL;
        }
        json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
        for (size_t i = 0; i < p->n_steps; i++) {
                const struct iom_plan_step *step = &p->steps[i];
                json_object *row = json_object_new_object();
                char a[IOM_ADDRESS_STRING_MAX], why[IOM_PLAN_REASON_MAX];

                json_object_object_add(
                        row, "address",
                        json_object_new_string(iom_address_format(&step->address, a)));
                json_object_object_add(row, "from",
                                       step->from ? json_object_new_string(step->from) : NULL);
                json_object_object_add(row, "to",
                                       step->to ? json_object_new_string(step->to) : NULL);
                json_object_object_add(row, "named", json_object_new_boolean(step->named));
                json_object_object_add(row, "rule",
                                       step->rule ? json_object_new_string(step->rule) : NULL);
                json_object_object_add(row, "reason",
                                       json_object_new_string(iom_plan_step_reason(step, why)));
                json_object_array_add(steps, row);
        }
        json_object_object_add(o, "plan", steps);
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
        return s ? strdup(s) : NULL;
}
