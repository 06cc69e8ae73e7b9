/*
 * yrules.c - libyara: load compiled rules, scan memory, read "weight".
 */
#include "../fmacros.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yara.h>

#include "yrules.h"
#include "../err.h"
#include "../xalloc.h"
#include "../banned.h"

struct yrules {
	YR_RULES *rules;
};

struct scan_state {
	struct yrules_match *m;
	size_t *nm, max;
};

static int init_once(struct err *e);

int yrules_load(struct yrules **out, const char *path, struct err *e)
{
	YR_RULES *rules = NULL;
	int rc;

	*out = NULL;
	if (init_once(e))
		return -1;
	rc = yr_rules_load(path, &rules);
	if (rc == ERROR_COULD_NOT_OPEN_FILE)
		return err_set(e, ERR_INVALID, "yara rules '%s': cannot open the file", path);
	if (rc == ERROR_INVALID_FILE || rc == ERROR_UNSUPPORTED_FILE_VERSION || rc == ERROR_CORRUPT_FILE)
		return err_set(e, ERR_INVALID,
			       "yara rules '%s': not compiled rules of this libyara "
			       "(compile them with yarac %s)", path, YR_VERSION);
	if (rc != ERROR_SUCCESS)
		return err_set(e, ERR_INVALID, "yara rules '%s': cannot load (libyara error %d)",
			       path, rc);
	*out = xmalloc(sizeof(**out));
	(*out)->rules = rules;
	return 0;
}

void yrules_free(struct yrules *y)
{
	if (!y)
		return;
	yr_rules_destroy(y->rules);
	free(y);
}

struct compile_state {
	struct err *e;
	int failed;
};

static void on_compile_error(int level, const char *file, int line,
			     const YR_RULE *rule, const char *msg, void *arg)
{
	struct compile_state *s = arg;

	(void)rule;
	if (level != YARA_ERROR_LEVEL_ERROR || s->failed)
		return;
	s->failed = 1;
	err_set(s->e, ERR_INVALID, "yara rules '%s': line %d: %s", file ? file : "?", line, msg);
}

static int init_once(struct err *e)
{
	static int initialised;

	if (!initialised) {
		if (yr_initialize() != ERROR_SUCCESS)
			return err_set(e, ERR_INTERNAL, "yara: cannot initialise libyara");
		initialised = 1;
	}
	return 0;
}

int yrules_compile(const char *src, const char *dst, struct err *e)
{
	struct compile_state s = { e, 0 };
	YR_COMPILER *c = NULL;
	YR_RULES *rules = NULL;
	FILE *f;
	int rc = -1;

	if (init_once(e))
		return -1;
	f = fopen(src, "r");
	if (!f)
		return err_set_errno(e, ERR_INVALID, errno, "yara rules '%s': cannot open", src);
	if (yr_compiler_create(&c) != ERROR_SUCCESS) {
		fclose(f);
		return err_set(e, ERR_INTERNAL, "yara: cannot create a compiler");
	}
	yr_compiler_set_callback(c, on_compile_error, &s);
	if (yr_compiler_add_file(c, f, NULL, src) != 0) {
		if (!s.failed)
			err_set(e, ERR_INVALID, "yara rules '%s': cannot compile", src);
	} else if (yr_compiler_get_rules(c, &rules) != ERROR_SUCCESS)
		err_set(e, ERR_INTERNAL, "yara rules '%s': cannot build the rules", src);
	else if (yr_rules_save(rules, dst) != ERROR_SUCCESS)
		err_set(e, ERR_INVALID, "yara rules: cannot write '%s'", dst);
	else
		rc = 0;
	if (rules)
		yr_rules_destroy(rules);
	yr_compiler_destroy(c);
	fclose(f);
	return rc;
}

static int weight_of(const YR_RULE *rule)
{
	const YR_META *meta;
	int64_t w;

	yr_rule_metas_foreach(rule, meta)
		if (meta->type == META_TYPE_INTEGER && !strcmp(meta->identifier, "weight")) {
			w = meta->integer;
			return w < 0 ? 0 : w > 100 ? 100 : (int)w;
		}
	return YRULES_DEFAULT_WEIGHT;
}

static int on_message(YR_SCAN_CONTEXT *ctx, int message, void *data, void *arg)
{
	struct scan_state *s = arg;
	const YR_RULE *rule = data;
	size_t i;

	(void)ctx;
	if (message != CALLBACK_MSG_RULE_MATCHING)
		return CALLBACK_CONTINUE;
	for (i = 0; i < *s->nm; i++)
		if (!strcmp(s->m[i].rule, rule->identifier))
			return CALLBACK_CONTINUE;
	if (*s->nm >= s->max)
		return CALLBACK_ABORT;
	snprintf(s->m[*s->nm].rule, sizeof(s->m[*s->nm].rule), "%s", rule->identifier);
	s->m[*s->nm].weight = weight_of(rule);
	(*s->nm)++;
	return CALLBACK_CONTINUE;
}

int yrules_scan(const struct yrules *y, const char *data, size_t n,
		struct yrules_match *m, size_t *nm, size_t max)
{
	struct scan_state s = { m, nm, max };

	return yr_rules_scan_mem(y->rules, (const uint8_t *)data, n, SCAN_FLAGS_FAST_MODE,
				 on_message, &s, YRULES_TIMEOUT_S) == ERROR_SUCCESS ? 0 : -1;
}
