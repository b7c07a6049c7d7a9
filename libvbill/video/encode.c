/* encode.c: the fixed H.264 encoder settings that prepare and render share: re-encoded GOPs
 * splice into copied ones only when both sides' SPS/PPS are identical. */
#include "config.h"
#include "video/encode.h"

#include <math.h>

#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>

vbill_status vb_h264_encoder_open(vbill_ctx *ctx, int w, int h, AVRational fps, bool fast,
                                  AVCodecContext **out)
{
    *out = NULL;
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec)
        return vb_error(ctx, VBILL_ERR_MEDIA, "H.264 encoder libx264 is not available");
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    if (!enc)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = av_inv_q(fps);
    enc->framerate = fps;
    enc->max_b_frames = 0;
    /* one thread per render: a server runs many renders side by side */
    enc->thread_count = fast ? 1 : 0;
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    /* keyint bounds log2_max_frame_num in the SPS: it must be the same on both sides, and
     * larger than any planned GOP so that x264 never places a keyframe of its own. */
    int keyint = (int)ceil(VB_GOP_SECONDS * av_q2d(fps)) * 2 + 10;
    enc->gop_size = keyint;
    char params[512];
    /* Everything that reaches the SPS/PPS is fixed here explicitly; the presets differ only
     * in search effort (subme, me, trellis, lookahead), which stays inside slice data. */
    /* Render side: the cheapest search that keeps the headers (fullpel motion search, no
     * sub-partitions, no lookahead, no psy): 720p testsrc2, 720 frames, one thread, CRF 22.5
     * (the personal GOPs' bytes near the shared ones'): 5.99 CPU-s with subme=2/me=dia/
     * lookahead 10, 4.47 with these settings, bytes +9.5%, SSIM against the source 0.9976
     * vs 0.9975 (aq-mode=0 saved nothing more and cost 25% more bytes).  One reference
     * frame on both sides (it is in the SPS): 4.74 -> 4.27 CPU-s, bytes +1.6%. */
    const char *fastp = ":rc-lookahead=0:mbtree=0:subme=0:trellis=0:me=dia:partitions=none:"
                        "psy=0:mixed-refs=0";
    snprintf(params, sizeof params,
             "keyint=%d:min-keyint=1:scenecut=0:bframes=0:b-pyramid=none:open-gop=0:ref=1:"
             "weightp=0:8x8dct=1:cabac=1:stitchable=1:repeat-headers=0:aud=0:"
             "nal-hrd=none:deblock=0,0:crf=%s%s",
             keyint, fast ? "22.5" : "21", fast ? fastp : "");
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "preset", fast ? "superfast" : "veryfast", 0);
    av_dict_set(&opts, "profile", "high", 0);
    av_dict_set(&opts, "forced-idr", "1", 0);
    av_dict_set(&opts, "x264-params", params, 0);
    int r = avcodec_open2(enc, codec, &opts);
    av_dict_free(&opts);
    if (r < 0) {
        char eb[128];
        avcodec_free_context(&enc);
        return vb_error(ctx, VBILL_ERR_MEDIA, "cannot open the H.264 encoder: %s",
                        vb_averr(r, eb));
    }
    *out = enc;
    return VBILL_OK;
}
