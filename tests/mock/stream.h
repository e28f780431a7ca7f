/* Writing one SSE answer to one client, frame by frame, with pacing,
 * backpressure and the failure scenarios (stall, cut, trickle, ...). A stream
 * owns itself: it ends when the answer is written, when it cuts the connection
 * on purpose, or at once when the client goes away; each way releases the
 * account's stream slot. */
#ifndef MOCK_STREAM_H
#define MOCK_STREAM_H

#include <event2/event.h>
#include <event2/http.h>

#include "fixture.h"
#include "state.h"

enum mock_stream_mode {
    MOCK_STREAM_NORMAL,        /* every frame, then the end of the body */
    MOCK_STREAM_STALL,         /* headers and stall_after frames (at least 1), then nothing */
    MOCK_STREAM_STALL_BEFORE,  /* not even the headers */
    MOCK_STREAM_CLOSE_MID,     /* close_after frames, then close the socket (with
                                  cut_reset: a TCP reset; with cut_in_chunk: first a
                                  chunk header promising more than follows) */
    MOCK_STREAM_TRICKLE,       /* one byte per write: trickle_ms apart inside a
                                  frame, trickle_frame_ms between frames */
    MOCK_STREAM_ENDLESS,       /* growing frames every 10 ms, forever */
};

struct mock_stream_spec {
    enum mock_stream_mode mode;
    struct mock_answer *answer;     /* borrowed (the stream takes a reference); NULL for endless */
    struct mock_endless *endless;   /* stolen; endless mode only */
    const char *conv_id;            /* replace the answer's ids with these */
    const char *msg_id;
    const char *assistant_id;       /* NULL: keep the answer's */
    int delay_ms;                   /* between frames */
    int trickle_ms;
    int trickle_frame_ms;
    int close_after;                /* close-mid: frames before the cut */
    int cut_reset;                  /* close-mid: abortive close (RST) */
    int cut_in_chunk;               /* close-mid: end inside a chunk */
    int stall_after;                /* stall: frames before the silence (0 = 1) */
    size_t big_frame;               /* > 0: an extra frame of this many bytes after the first */
    int close_connection;           /* answer with Connection: close */
    const char *uid;                /* the stream slot to release */
    unsigned epoch;
};

struct mock_streams;

struct mock_streams *mock_streams_new(struct event_base *base, struct mock_state *state);
/* Frees streams still alive without touching their connections: call it after
 * evhttp_free(), which already ended every stream through its close callback. */
void mock_streams_free(struct mock_streams *ss);
/* Starts answering req. The slot of spec->uid must already be taken. */
void mock_stream_start(struct mock_streams *ss, struct evhttp_request *req,
                       const struct mock_stream_spec *spec);

#endif
