/*
 * runtime_stream - pure demultiplexer for the Docker engine's stdout/stderr
 * stream (the body of an attach or logs reply when the container has no
 * TTY).
 *
 * The stream is a sequence of frames, each an 8-byte header followed by a
 * payload: byte 0 is the stream (0 stdin and 1 stdout, both taken as
 * stdout as the engine's own stdcopy does; 2 stderr; 3 the engine's own
 * error text, kept with stderr), bytes 1-3 are zero and bytes 4-7 the
 * payload length, big-endian. Chunks may be split anywhere, inside headers
 * included. Stdout is kept whole up to a cap; stderr only as a bounded
 * tail (its last bytes), so a flood on either costs bounded memory.
 *
 * Bytes in, values out: no sockets, no clock, no allocation past the caps.
 * It does not interpret the output (JSON parsing belongs to the caller).
 */
#ifndef SAFEURL_RUNTIME_STREAM_H
#define SAFEURL_RUNTIME_STREAM_H

#include <stddef.h>

#include "buf.h"

struct err;

struct runtime_stream {
	unsigned char hdr[8];
	size_t hdr_len;       /* header bytes seen of the current frame */
	size_t left;          /* payload bytes still to come in the frame */
	int type;             /* stream of the current frame */
	int failed;           /* sticky: a feed returned -1 */
	struct buf out;       /* stdout, at most max_out bytes */
	struct buf tail;      /* stderr tail; holds up to 2*tail_max bytes */
	size_t tail_max;
	unsigned long long out_total; /* stdout bytes seen, kept or not */
	unsigned long long err_total; /* stderr bytes seen */
};

/*
 * Empty demuxer keeping at most max_out stdout bytes and the last tail_max
 * stderr bytes (tail_max > 0). Does not allocate.
 */
void runtime_stream_init(struct runtime_stream *s, size_t max_out,
			 size_t tail_max);
/* Free the buffers; s can be initialised again. */
void runtime_stream_release(struct runtime_stream *s);

/*
 * Feed len bytes (borrowed) of the stream. Returns 0, or -1 and stops for
 * good (later feeds return -1 at once) when stdout would pass max_out
 * (ERR_INVALID "output too large") or a header is malformed (ERR_INVALID).
 * What was kept before the failure stays readable.
 */
int runtime_stream_feed(struct runtime_stream *s, const void *data,
			size_t len, struct err *e);

/*
 * Feed len bytes (borrowed) that are all stdout (is_stderr 0) or all
 * stderr, with no frame headers: the sandbox reads each from its own pipe.
 * Same caps, same failures as runtime_stream_feed().
 */
int runtime_stream_feed_raw(struct runtime_stream *s, int is_stderr,
			    const void *data, size_t len, struct err *e);

/*
 * Call at the end of the stream: -1 with ERR_INVALID when it stopped inside
 * a frame (header or payload), else 0.
 */
int runtime_stream_finish(const struct runtime_stream *s, struct err *e);

/* Stdout kept so far: borrowed, valid until the next feed or release. */
const char *runtime_stream_stdout(const struct runtime_stream *s, size_t *len);
/* The last (up to tail_max) stderr bytes: borrowed, as above. */
const char *runtime_stream_stderr(const struct runtime_stream *s, size_t *len);

#endif
