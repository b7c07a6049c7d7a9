/* job.h: one render job (a bill over a prepared template, job.c), driven by render.c (MP4),
 * segment.c and hls.c (segments, playlists) and still.c (one frame).  Internal. */
#ifndef VB_VIDEO_JOB_H
#define VB_VIDEO_JOB_H

#include "bill.h"
#include "video/encode.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

/* A slot's text image in YUV (full resolution planes), with the frames it shows on. */
typedef struct vb_overlay {
    int x, y, w, h;
    int64_t f0, f1;
    uint8_t *Y, *U, *V, *A; /* one allocation, Y owns it */
} vb_overlay;

typedef struct vb_ts { int64_t pts, dts, dur; } vb_ts;

typedef struct vb_job vb_job;
/* Receives every output packet (stream_index = the input's stream index, timestamps in the
 * input stream's time base).  The callee may modify the packet. */
typedef vbill_status (*vb_emit_fn)(vb_job *j, AVPacket *pkt, void *user);

struct vb_job {
    vbill_ctx *ctx;
    const vbill_template *t;
    int variant;          /* 0 normal, 1 slow */
    bool no_images;       /* set before vb_job_prepare: timing only, no slot images */
    bool copy;            /* segments of slot windows stream-copied too: the base without
                           * text (the overlay rendition, made by prepare) */
    char record_id[65];
    char locale[8];       /* the bill's */
    vb_overlay ov[VB_MAX_SLOTS];
    int nov;
    AVFormatContext *in;
    int vi, ai;
    AVRational ftb;       /* one frame's duration in the variant */
    AVPacket *pkt;        /* demuxed */
    AVPacket *epkt;       /* from the encoder */
    AVFrame *frm;
    /* re-encoder of the current personal segment (cur >= 0) */
    int cur;
    AVCodecContext *dec, *enc;
    vb_ts *ts;
    size_t tscap;
    int64_t nin, nout, nenc;
    /* still segments: the first picture, encoded every `step` input frames */
    bool still;
    int64_t step;
    AVFrame *still_frame;
    bool headers_checked;
    vb_emit_fn emit;
    void *emit_user;
    /* the voice in the personal windows (voiceover.c; NULL: the audio is copied) */
    struct vb_voiceover *vo;
};

/* Checks the bill against the template, picks the variant for speed (0: the bill's own) and
 * draws the slot texts (unless j->no_images). */
vbill_status vb_job_prepare(vbill_ctx *ctx, const vbill_template *t, const vbill_bill *bill,
                            double speed, vb_job *j);
/* An FFmpeg failure as VBILL_ERR_IO (disk full, permissions, missing file) or
 * VBILL_ERR_MEDIA, with the message "what: FFmpeg's text". */
vbill_status vb_job_media(vb_job *j, const char *what, int r);
/* One frame's duration in the variant (0 normal, 1 slow) of a prepared template. */
static inline AVRational vb_job_frame_time(const vbill_template *t, int variant)
{
    return variant ? av_div_q(av_inv_q(t->fps), t->slow_speed) : av_inv_q(t->fps);
}
/* Opens the variant's prepared MP4 (or the file at path) as the job's input. */
vbill_status vb_job_open_input(vb_job *j);
vbill_status vb_job_open_input_path(vb_job *j, const char *path);
int64_t vb_job_frame_of(const vb_job *j, int64_t pts);
/* Blends into f (writable, the prepared size) the slot texts shown on frame `frame`. */
void vb_job_blend(const vb_job *j, AVFrame *f, int64_t frame);
int vb_job_segment_of(const vb_job *j, int64_t frame);
/* The segment an audio packet of the input belongs to (by its start: the same rule in every
 * segment file), -1 without a timestamp. */
int vb_job_audio_segment(const vb_job *j, int64_t pts);
vbill_status vb_reenc_begin(vb_job *j, int seg);
vbill_status vb_reenc_packet(vb_job *j, const AVPacket *pkt);
vbill_status vb_reenc_end(vb_job *j);
void vb_job_free(vb_job *j);

#endif
