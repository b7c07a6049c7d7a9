/* voiceover.h: the bill's voice spliced into its video (voiceover.c).  Internal.
 *
 * A template with a narration.json speaks, per bill, the personal sentences of its script in
 * their windows: the AAC packets around each sentence are replaced by packets re-encoded
 * from the prepared bed with the speech mixed in; every other packet is copied.  The
 * re-encoded run starts and ends two AAC frames of bed away from the speech and is fed two
 * frames of bed before it, so the decoder's overlap at each seam joins two encodings of the
 * same bed: no click.  Timestamps and packet counts do not change: the audio stays in sync
 * and as long as the video. */
#ifndef VB_VIDEO_VOICEOVER_H
#define VB_VIDEO_VOICEOVER_H

#include "video/job.h"

#include <openssl/evp.h>

/* Speaks the bill's personal sentences for the job's variant (the slow one at its speed,
 * pitch kept), each fitted into its window (at most 1.15x faster), and keeps the script
 * for captions.  Nothing when the template has no narration or no voice.  Call after
 * vb_job_open_input. */
vbill_status vb_voiceover_prepare(vb_job *j, const vbill_bill *bill);
/* Replaces the payload of an audio packet of the input (timestamps kept) when the voice
 * speaks over it.  Packets of other streams and segments are left alone. */
vbill_status vb_voiceover_apply(vb_job *j, AVPacket *pkt);
/* The script's scenes spoken in this video (JSON array of {"start","end","text"} in seconds
 * of the job's variant), or NULL. */
const cJSON *vb_voiceover_script(const vb_job *j);
/* Adds to md what the voice puts into personal segment k (the segment cache's key): the
 * samples and places of every sentence of its run of personal segments, whose re-encoded
 * audio the segment holds.  Nothing when the voice says nothing there.  False on a digest
 * failure. */
bool vb_voiceover_digest(const vb_job *j, int k, EVP_MD_CTX *md);
void vb_voiceover_free(vb_job *j);

#endif
