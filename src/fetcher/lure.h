/*
 * lure - what a page makes the visitor's browser or hands do: ClickFix
 * (a command put on the clipboard with instructions to paste it into the
 * Run dialog or a terminal) and HTML smuggling (a file assembled in the
 * browser from data carried by the page).
 *
 * Pure: reads page facts (html.h), writes evidence; no I/O. Marker lists
 * are tables in lure.c, documented in docs/fetcher.md.
 */
#ifndef SAFEURL_LURE_H
#define SAFEURL_LURE_H

#include <stddef.h>

struct html_facts;

/* A script writes the clipboard and the page carries a Windows or shell command. */
int lure_clipboard_command(const struct html_facts *f, char *d, size_t n);
/* A script writes the clipboard and the page tells the visitor to run or paste it. */
int lure_clickfix(const struct html_facts *f, char *d, size_t n);
/*
 * A script assembles a file: Blob + object URL + download; or a typed
 * array filled from atob/charCodeAt, from a large encoded string or with
 * a download offered (Blob, object URL, download attribute or the word).
 */
int lure_smuggling(const struct html_facts *f, char *d, size_t n);

/* The page says the browser or system needs an update or a check, and links a program to download. */
int lure_fake_update(const struct html_facts *f, char *d, size_t n);

#endif
