/*
 * video.h: what the video engine's files (template.c, prepare.c, render.c, hls.c) share.
 * Internal: every name is vb_ and hidden.
 *
 * The prepared form of a template lives in DIR/.vbill-prepared/<sha256>/ :
 *   normal.mp4   H.264 High yuv420p (fixed x264 settings, no B-frames, closed GOPs with an
 *                IDR at every slot window's start and end and about every 4 s elsewhere)
 *                + AAC 48 kHz, mono when the base's audio is mono or missing (silent then),
 *                stereo otherwise, 64 kb/s a channel; constant frame rate
 *   slow.mp4     the same video packets with timestamps stretched by 1/speed (same frame
 *                count) + the audio time-stretched with pitch kept (atempo), re-encoded
 *   hls-normal/, hls-slow/   MPEG-TS segments of the GOPs that hold no slot (shared)
 *   hls-overlay/ the overlay rendition: index.m3u8 and every segment of the normal speed
 *                (sNNNNN.ts), the slot windows' ones cut from the base without any text, the
 *                others hard links to hls-normal/'s; a page plays it and draws the texts itself
 *   meta.json    frame rate, size, frame count, GOP starts, segments, the slow speed
 * The directory is built under a temporary name and renamed: it exists complete or not at all.
 */
#ifndef VB_VIDEO_H
#define VB_VIDEO_H

#include "mustache.h"
#include "video/text.h"

#include <libavformat/avformat.h>
#include <libavutil/rational.h>

/* Bumped whenever prepared output would change (encoder settings, layout). */
#define VB_PREPARE_VERSION "vbill-prepare-7"
/* AAC bits a second per channel, in the prepared files and in the re-encoded voice */
#define VB_AAC_RATE_PER_CHANNEL 64000
#define VB_PREPARED_DIR ".vbill-prepared"
#define VB_MAX_SLOTS 64
#define VB_GOP_SECONDS 4.0

typedef struct vb_slot {
    char *name;
    char *text;            /* Mustache source */
    vb_mustache *tmpl;     /* compiled */
    double from, to;       /* seconds of the base video */
    int box[4];            /* x, y, w, h in pixels of the base video */
    vb_text_style style;
    /* after prepare: frames [f0, f1) of the prepared video carry the text */
    int64_t f0, f1;
} vb_slot;

/* A segment: a run of whole GOPs [f0, f1) of the prepared video.  Personal segments hold
 * at least one slot window and are rendered per customer; the others are shared. */
typedef struct vb_segment {
    int64_t f0, f1;
    bool personal;
    bool still;            /* every frame of the base after f0 is the same picture as f0 */
} vb_segment;

struct vbill_template {
    vbill_ctx *ctx;        /* the template's own: messages of calls on it, logging */
    char *dir;
    char *scenario;
    char *video_path;      /* absolute or relative to the process, resolved from dir */
    char *json_text;       /* template.json bytes (part of the cache key) */
    int nslots;
    vb_slot slots[VB_MAX_SLOTS];
    /* probed from the base video */
    int src_w, src_h;
    double src_duration;
    /* prepared (valid when prepared == true) */
    bool prepared;
    char hash[65];
    char *cache_dir;       /* DIR/.vbill-prepared/<hash> */
    AVRational fps;        /* frames per second of the prepared video */
    int w, h;              /* prepared size (even) */
    int64_t nframes;
    AVRational slow_speed; /* e.g. 4/5 */
    int nsegments;
    vb_segment *segments;
    /* the voice: DIR/narration.json when the template has one (NULL: a silent template,
     * rendered as before), and the voice that speaks its personal sentences */
    cJSON *narration;
    const vbill_voice *voice;  /* vbill_template_set_voice's, else own_voice */
    vbill_voice *own_voice;    /* the default voice (espeak-ng, else silent) */
};

/* FFmpeg error text for messages. */
const char *vb_averr(int err, char buf[128]);

/* Opens a media file for reading, as every input of the library is opened: through the file
 * protocol only, and only as one of the container formats a video may have here (MP4/MOV,
 * Matroska/WebM, MPEG-TS), never as a playlist (HLS, concat), an image sequence or a text
 * demuxer that would pull other files in or draw text as frames.  0, or an AVERROR with
 * why[] saying what is wrong with the file in words (empty when FFmpeg's error says it). */
int vb_av_open_input(AVFormatContext **fc, const char *path, char why[200]);

/* template.c */
vbill_status vb_template_cache_key(vbill_ctx *ctx, vbill_template *t);
vbill_status vb_template_load_meta(vbill_ctx *ctx, vbill_template *t);
/* Map slot windows to frames and plan keyframes/segments for nframes at fps. */
vbill_status vb_template_plan(vbill_ctx *ctx, vbill_template *t, AVRational fps, int64_t nframes,
                              uint8_t **out_key, int64_t *out_nkeys);

/* prepare.c */
vbill_status vb_prepare_run(vbill_ctx *ctx, vbill_template *t, const char *tmpdir);



#endif
