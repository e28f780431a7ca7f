/* A JSON Schema checker for tool arguments and JSON answers: the subset that
 * function-calling schemas use in practice. Checked: "type" (a name or a list
 * of names; "integer" accepts a real with no fraction), "enum", "const",
 * "properties", "required", "additionalProperties" (false or a schema),
 * "items" (a schema), "minItems"/"maxItems", "anyOf"/"oneOf" (taken as anyOf),
 * "allOf". Every other keyword ("$ref", "format", "pattern", ...) is accepted
 * without a check. Pure; recursion is capped at JSCHEMA_MAX_DEPTH (deeper
 * parts are accepted). */
#ifndef GLM_JSCHEMA_H
#define GLM_JSCHEMA_H

#include <stddef.h>

#include <jansson.h>

#define JSCHEMA_MAX_DEPTH 32

/* 0 when value satisfies schema (borrowed; NULL or a non-object schema
 * accepts anything), -1 when not: msg gets one sentence naming the first
 * problem and where it is ("arguments.city: expected a string"), at most
 * cap bytes with the NUL. root names the value in messages. */
int jschema_check(const json_t *schema, const json_t *value, const char *root, char *msg,
                  size_t cap);

/* Whether a schema (a property's) says its value is text: "type" is "string"
 * or a list whose only non-null name is "string". A value written as raw text
 * for such a property is taken as a string, any other as JSON. */
int jschema_is_string(const json_t *schema);

#endif
