/*
 * lure.c - marker tables and the three behaviour checks.
 */
#include "../fmacros.h"

#include <stdio.h>
#include <string.h>

#include "lure.h"
#include "html.h"
#include "../banned.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))


/* The first marker of list found in s[0..n), or NULL. */
static const char *first_of(const char *const *list, size_t nl, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < nl; i++)
		if (html_find_ci(s, n, list[i]))
			return list[i];
	return NULL;
}

static const char *const clipboard_writes[] = {
	"clipboard.writetext(", "clipboard.write(", "execcommand(\"copy\")",
	"execcommand('copy')", "execcommand(`copy`)", "clipboarddata.setdata(",
};

/* Commands ClickFix pages paste: Windows interpreters and download cradles. */
static const char *const lure_commands[] = {
	"powershell", "pwsh ", "cmd /c", "cmd.exe", "mshta", "iex(", "iex (",
	"invoke-expression", "invoke-webrequest", "invoke-restmethod", "downloadstring(",
	"certutil", "bitsadmin", "rundll32", "regsvr32", "wscript", "cscript",
	"-encodedcommand", " -enc ", "start-process", "osascript",
};

/* What they tell the visitor to do, and the stories around it. */
static const char *const lure_instructions[] = {
	"win+r", "win + r", "windows+r", "windows + r", "windows key + r",
	"windows key and r", "windows key and press r", "\xe2\x8a\x9e", "run dialog",
	"run box", "ctrl+v", "ctrl + v", "cmd+v", "cmd + v", "verify you are human",
	"not a robot", "human verification", "verification steps", "threats detected",
	"threats found", "hidden threats", "your computer is infected", "has been infected",
	"virus detected", "to fix this", "fix the error",
};

static int writes_clipboard(const struct html_facts *f)
{
	return first_of(clipboard_writes, N(clipboard_writes), f->script_text.data,
			f->script_text.len) != NULL;
}

int lure_clipboard_command(const struct html_facts *f, char *d, size_t n)
{
	const char *m;

	if (!writes_clipboard(f))
		return 0;
	m = first_of(lure_commands, N(lure_commands), f->script_text.data, f->script_text.len);
	if (!m)
		m = first_of(lure_commands, N(lure_commands), f->text.data, f->text.len);
	if (m)
		snprintf(d, n, "clipboard write, '%s'", m);
	return m != NULL;
}

int lure_clickfix(const struct html_facts *f, char *d, size_t n)
{
	const char *m;

	if (!writes_clipboard(f))
		return 0;
	m = first_of(lure_instructions, N(lure_instructions), f->text.data, f->text.len);
	if (!m)
		m = first_of(lure_instructions, N(lure_instructions), f->script_text.data,
			     f->script_text.len);
	if (m)
		snprintf(d, n, "clipboard write, '%s'", m);
	return m != NULL;
}

/* Stories of fake update and fake check pages. */
static const char *const update_stories[] = {
	"update your browser", "browser is out of date", "browser is outdated",
	"outdated browser", "browser update", "chrome update", "critical update",
	"security update required", "update required", "install the update",
	"install the latest version to continue", "missing font", "font was not found",
	"verify you are human", "not a robot", "your computer is infected", "virus detected",
};

int lure_fake_update(const struct html_facts *f, char *d, size_t n)
{
	const char *m;

	if (!f->download_links)
		return 0;
	m = first_of(update_stories, N(update_stories), f->text.data, f->text.len);
	if (m)
		snprintf(d, n, "'%s', %d program links", m, f->download_links);
	return m != NULL;
}

static size_t longest_token(const char *s, size_t n)
{
	size_t best = 0, cur = 0, i;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '\n' || c == '\r' || c == '\\')
			continue; /* long literals are split over lines */
		cur = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '=' ? cur + 1 : 0;
		if (cur > best)
			best = cur;
	}
	return best;
}

int lure_smuggling(const struct html_facts *f, char *d, size_t n)
{
	const char *s = f->script_text.data;
	size_t len = f->script_text.len, run;
	int blob = html_find_ci(s, len, "new blob(") != NULL || html_find_ci(s, len, "mssaveoropenblob") ||
		   html_find_ci(s, len, "mssaveblob");
	int url = html_find_ci(s, len, "createobjecturl(") != NULL;
	int dl = html_find_ci(s, len, ".download=") || html_find_ci(s, len, ".download =") ||
		 html_find_ci(s, len, "'download'") || html_find_ci(s, len, "\"download\"");
	int typed = html_find_ci(s, len, "uint8array") || html_find_ci(s, len, "arraybuffer");
	int decode = html_find_ci(s, len, "atob(") || html_find_ci(s, len, "charcodeat(");

	if (blob + url + dl >= 3 || (blob && url && typed)) {
		snprintf(d, n, "Blob, object URL and download in a script");
		return 1;
	}
	if (typed && decode && (run = longest_token(s, len)) >= 4096) {
		snprintf(d, n, "typed array from a %zu-character encoded string", run);
		return 1;
	}
	if (typed && decode && (blob || url || dl || html_find_ci(f->text.data, f->text.len, "download"))) {
		snprintf(d, n, "typed array from decoded data, offered as a download");
		return 1;
	}
	return 0;
}
