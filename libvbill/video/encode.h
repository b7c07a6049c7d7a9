/* encode.h: the H.264 encoder settings (encode.c).  Internal. */
#ifndef VB_VIDEO_ENCODE_H
#define VB_VIDEO_ENCODE_H

#include "video/video.h"

/* The fixed encoder settings shared by prepare and render (headers must be identical so
 * re-encoded GOPs splice into copied ones).  `fast` picks the cheaper motion search etc. of
 * the render side; nothing that reaches the SPS/PPS differs. */
struct AVCodecContext;
vbill_status vb_h264_encoder_open(vbill_ctx *ctx, int w, int h, AVRational fps, bool fast,
                                  struct AVCodecContext **out);

#endif
