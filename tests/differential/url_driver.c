/*
 * url_driver - the URL parser in batch, for the differential test.
 *
 * Reads lines "BASE_HEX<TAB>INPUT_HEX" on stdin (hex of the UTF-8 bytes;
 * an empty BASE_HEX means no base) and writes one line per input:
 * "OK<TAB>href<TAB>host", "UNSUPPORTED" or "FAIL<TAB>message".
 */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher/url.h"
#include "err.h"

static char *unhex(const char *s, size_t n)
{
	char *out = malloc(n / 2 + 1);
	size_t i;
	unsigned v;

	for (i = 0; i + 1 < n; i += 2) {
		sscanf(s + i, "%2x", &v);
		out[i / 2] = (char)v;
	}
	out[n / 2] = '\0';
	return out;
}

int main(void)
{
	static char line[1 << 17];
	char *base_text = NULL, *tab, *in, *b;
	struct url base, u;
	int have_base = 0, rc;
	struct err e = ERR_INIT;

	memset(&base, 0, sizeof(base));
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		tab = strchr(line, '\t');
		if (!tab)
			return 2;
		b = unhex(line, (size_t)(tab - line));
		if (!base_text || strcmp(b, base_text)) {
			if (have_base)
				url_release(&base);
			have_base = b[0] && url_parse(&base, b, NULL, &e) == 0;
			if (b[0] && !have_base) {
				fprintf(stderr, "base '%s' fails: %s\n", b, e.msg);
				return 2;
			}
			free(base_text);
			base_text = b;
		} else {
			free(b);
		}
		in = unhex(tab + 1, strlen(tab + 1));
		rc = url_parse(&u, in, have_base ? &base : NULL, &e);
		if (rc == 0)
			printf("OK\t%s\t%s\n", u.href, u.host);
		else if (rc == URL_UNSUPPORTED)
			printf("UNSUPPORTED\n");
		else
			printf("FAIL\t%s\n", e.msg);
		url_release(&u);
		free(in);
	}
	if (have_base)
		url_release(&base);
	free(base_text);
	return 0;
}
