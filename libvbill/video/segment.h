/* segment.h: MPEG-TS segments of the prepared video (segment.c).  Internal. */
#ifndef VB_VIDEO_SEGMENT_H
#define VB_VIDEO_SEGMENT_H

#include "video/job.h"

/* Writes segment k of the job's variant to path (temporary name, then rename),
 * re-encoding it when personal; and every shared segment of a prepared MP4 into outdir
 * (prepare). */
vbill_status vb_segment_write(vb_job *j, int k, const char *path);
vbill_status vb_segment_write_shared(vbill_ctx *ctx, const vbill_template *t, int variant,
                                     const char *mp4, const char *outdir);
/* A VOD playlist's header for the template (the longest segment in whole seconds). */
void vb_playlist_head(vb_buf *pl, const vbill_template *t, AVRational ftb);

#endif
