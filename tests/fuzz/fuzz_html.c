/*
 * fuzz_html - libFuzzer target for the HTML tokenizer and the script
 * marker scan. The input is passed at its exact length (no terminator),
 * so AddressSanitizer catches any read past the end. Properties: the
 * kept lists never pass their caps and counts agree with them.
 */
#include "fmacros.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher/html.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct html_facts f;
	int redirects = 0;
	char *copy = malloc(size ? size : 1);

	memcpy(copy, data, size);
	html_scan(copy, size, &f);
	if (f.nform > HTML_MAX_LIST || f.nscript_src > HTML_MAX_LIST ||
	    (size_t)f.forms < f.nform || (size_t)f.scripts < f.nscript_src ||
	    f.hidden_iframes > f.iframes || f.inline_scripts > f.scripts ||
	    strlen(f.title) >= sizeof(f.title))
		abort();
	html_facts_release(&f);
	html_script_markers(copy, size, &redirects);
	free(copy);
	return 0;
}
