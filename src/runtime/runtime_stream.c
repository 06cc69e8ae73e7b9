/*
 * runtime_stream.c - the engine's 8-byte-header frame demultiplexer.
 *
 * A small state machine: collect header bytes until there are 8, check and
 * decode them, then route `left` payload bytes to stdout or to the stderr
 * tail, and start over. See runtime_stream.h for the format.
 */
#include "fmacros.h"

#include <string.h>

#include "err.h"
#include "runtime_stream.h"
#include "banned.h"

enum { FRAME_STDIN, FRAME_STDOUT, FRAME_STDERR, FRAME_SYSERR, FRAME_TYPES };

void runtime_stream_init(struct runtime_stream *s, size_t max_out,
			 size_t tail_max)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->out, max_out);
	buf_init(&s->tail, 0);
	s->tail_max = tail_max ? tail_max : 1;
}

void runtime_stream_release(struct runtime_stream *s)
{
	buf_release(&s->out);
	buf_release(&s->tail);
}

static int fail(struct runtime_stream *s, struct err *e, const char *fmt,
		unsigned long long n)
{
	s->failed = 1;
	return err_set(e, ERR_INVALID, fmt, n);
}

static int decode_header(struct runtime_stream *s, struct err *e)
{
	const unsigned char *h = s->hdr;

	if (h[0] >= FRAME_TYPES || h[1] || h[2] || h[3])
		return fail(s, e, "runtime: bad stream frame header (type %llu)",
			    (unsigned long long)h[0]);
	s->type = h[0];
	s->left = (size_t)h[4] << 24 | (size_t)h[5] << 16 |
		  (size_t)h[6] << 8 | (size_t)h[7];
	s->hdr_len = 0;
	return 0;
}

/* Keep the last tail_max bytes; compact only when 2*tail_max would pass. */
static void tail_add(struct runtime_stream *s, const char *p, size_t n)
{
	size_t max = s->tail_max, keep;

	if (n >= max) {
		buf_reset(&s->tail);
		buf_add(&s->tail, p + n - max, max, NULL);
		return;
	}
	if (s->tail.len + n > 2 * max) {
		keep = s->tail.len < max - n ? s->tail.len : max - n;
		memmove(s->tail.data, s->tail.data + s->tail.len - keep, keep);
		buf_truncate(&s->tail, keep);
	}
	buf_add(&s->tail, p, n, NULL);
}

static int payload(struct runtime_stream *s, const char *p, size_t n,
		   struct err *e)
{
	if (s->type == FRAME_STDERR || s->type == FRAME_SYSERR) {
		s->err_total += n;
		tail_add(s, p, n);
		return 0;
	}
	s->out_total += n;
	if (s->out.max && n > s->out.max - s->out.len) {
		buf_add(&s->out, p, s->out.max - s->out.len, NULL);
		return fail(s, e, "runtime: output too large: more than %llu bytes on stdout",
			    (unsigned long long)s->out.max);
	}
	buf_add(&s->out, p, n, NULL);
	return 0;
}

int runtime_stream_feed(struct runtime_stream *s, const void *data,
			size_t len, struct err *e)
{
	const char *p = data;
	size_t n;

	if (s->failed)
		return err_set(e, ERR_INVALID, "runtime: stream already failed");
	while (len > 0) {
		if (s->left == 0) {
			n = sizeof(s->hdr) - s->hdr_len;
			n = n < len ? n : len;
			memcpy(s->hdr + s->hdr_len, p, n);
			s->hdr_len += n;
			if (s->hdr_len == sizeof(s->hdr) && decode_header(s, e) < 0)
				return -1;
		} else {
			n = s->left < len ? s->left : len;
			if (payload(s, p, n, e) < 0)
				return -1;
			s->left -= n;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int runtime_stream_feed_raw(struct runtime_stream *s, int is_stderr,
			    const void *data, size_t len, struct err *e)
{
	if (s->failed)
		return err_set(e, ERR_INVALID, "runtime: stream already failed");
	s->type = is_stderr ? FRAME_STDERR : FRAME_STDOUT;
	return payload(s, data, len, e);
}

int runtime_stream_finish(const struct runtime_stream *s, struct err *e)
{
	if (s->hdr_len || s->left)
		return err_set(e, ERR_INVALID,
			       "runtime: stream ended inside a frame (%zu header bytes, %zu payload bytes missing)",
			       s->hdr_len ? sizeof(s->hdr) - s->hdr_len : 0,
			       s->left);
	return 0;
}

const char *runtime_stream_stdout(const struct runtime_stream *s, size_t *len)
{
	*len = s->out.len;
	return s->out.data;
}

const char *runtime_stream_stderr(const struct runtime_stream *s, size_t *len)
{
	size_t n = s->tail.len < s->tail_max ? s->tail.len : s->tail_max;

	*len = n;
	return s->tail.data + s->tail.len - n;
}
