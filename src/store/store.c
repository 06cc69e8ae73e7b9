/*
 * store.c - the store API's front: pick a backend by URL scheme, open it
 * (migrating the schema or checking it) and close it.
 *
 * Not here: running calls with retries and fault injection, and reading
 * row values (store_exec.c), SQL text and migrations (store_schema.c),
 * talking to a database (store_sqlite.c, store_libsql.c), states and
 * transitions (state.c). Calls flow one way: store.c -> store_schema.c and
 * the backends -> store_exec.c.
 */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "err.h"
#include "store_int.h"
#include "xalloc.h"
#include "banned.h"

/* URL schemes and their backends. */
static const struct {
	const char *prefix;
	const struct store_ops *ops;
} schemes[] = {
	{ "file:", &store_sqlite_ops },
	{ "libsql://", &store_libsql_ops },
	{ "https://", &store_libsql_ops },
	{ "http://", &store_libsql_ops },
};

static const struct store_ops *pick_backend(const char *url, struct err *e)
{
	size_t i, len;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		len = strlen(schemes[i].prefix);
		if (!strncmp(url, schemes[i].prefix, len))
			return schemes[i].ops;
	}
	err_set(e, ERR_INVALID,
		"store: TURSO_CONNECTION_URL has an unknown scheme: expected "
		"file:, libsql://, https:// or http://");
	return NULL;
}

/*
 * The path of a file: URL ("file:./x.db", "file:///abs/x.db?mode=rw"),
 * into out; 0, or -1 when it does not fit.
 */
static int file_path(const char *url, char *out, size_t size)
{
	const char *p = url + strlen("file:");
	size_t n;

	if (!strncmp(p, "//", 2))
		p += 2;
	n = strcspn(p, "?#");
	if (n >= size)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* A file: database must exist already: reading never creates one. */
static int check_exists(const char *url, struct err *e)
{
	char path[4096];
	struct stat sb;

	if (strncmp(url, "file:", 5) || file_path(url, path, sizeof(path)) ||
	    !strcmp(path, ":memory:") || !stat(path, &sb))
		return 0;
	return err_set(e, ERR_INVALID, "store: database '%s' does not exist "
		       "(TURSO_CONNECTION_URL='%s'): check the URL and the "
		       "working directory, or create it with `safeurl "
		       "migrate`", path, url);
}

static struct store *open_store(const struct config *cfg, int migrate,
				struct err *e);

struct store *store_open(const struct config *cfg, struct err *e)
{
	return open_store(cfg, 1, e);
}

struct store *store_open_existing(const struct config *cfg, struct err *e)
{
	if (pick_backend(cfg->turso_url, e) == NULL ||
	    check_exists(cfg->turso_url, e))
		return NULL;
	return open_store(cfg, 0, e);
}

static struct store *open_store(const struct config *cfg, int migrate,
				struct err *e)
{
	const struct store_ops *ops = pick_backend(cfg->turso_url, e);
	struct store *st;

	if (!ops)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	st->ops = ops;
	st->busy_timeout_ms = cfg->db_busy_timeout_ms;
	st->retry_attempts = cfg->db_retry_attempts;
	st->retry_max_ms = cfg->db_retry_max_ms;
	store_exec_init(st);
	st->auth_token = cfg->turso_auth_token;
	if (store_exec_open(st, cfg->turso_url, e) < 0 ||
	    (migrate ? store_migrate(st, NULL, NULL, e) :
		       store_schema_check(st, cfg->turso_url, e))) {
		store_close(st);
		return NULL;
	}
	st->auth_token = NULL;
#ifdef SAFEURL_TEST
	st->counting = 1;
#endif
	return st;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	st->ops->close(st);
	free(st);
}
