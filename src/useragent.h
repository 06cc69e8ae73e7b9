/*
 * useragent.h - the User-Agent the fetcher sends unless told otherwise: a
 * current desktop browser's (Chrome on Windows), so that a site that
 * cloaks on a scanner's name shows the page a victim would see. Shared by
 * the fetcher's default and the worker's FETCHER_USER_AGENT default; keep
 * it current with the browser's stable release.
 */
#ifndef SAFEURL_USERAGENT_H
#define SAFEURL_USERAGENT_H

#define SAFEURL_BROWSER_UA \
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 " \
	"(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

#endif
