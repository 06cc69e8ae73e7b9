/* fmacros.h - feature-test macros; include first in every .c file. */
#ifndef SAFEURL_FMACROS_H
#define SAFEURL_FMACROS_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#endif
