/*
 * vbill/video.h: video templates, preparing, rendering (MP4, HLS, one segment, a still),
 * and the built-in templates.  Included by vbill.h; see vbill.h for the conventions.
 *
 * Optional part "video" (FFmpeg, libass): in a library built with --disable-video every
 * call here returns VBILL_ERR_UNSUPPORTED (vbill_has("video") == 0).
 */
#ifndef VBILL_VIDEO_H
#define VBILL_VIDEO_H

#include "vbill/common.h"
#include "vbill/records.h"
#include "vbill/voice.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Video templates.  A template is a directory with template.json and a base video (an
 * MP4/MOV, Matroska/WebM or MPEG-TS file of any codec FFmpeg decodes: H.264, HEVC, VP9,
 * ProRes..., any frame rate, with or without audio):
 *   { "scenario": "mobile_new_bundle", "video": "base.mp4",
 *     "slots": [ { "name": "period", "text": "{{period_text}}", "from": 10.0, "to": 14.0,
 *                  "box": [100, 480, 1080, 80], "size": 56, "color": "#FFFFFF",
 *                  "background": "#00000099", "align": "left", "min_size": 30 } ] }
 * text: Mustache over the bill's fill context (vbill_bill_context); from/to: seconds of
 * the base video (the text is on the frames that start in [from, to)); box: x, y, width,
 * height in pixels of the base video; size/min_size: font pixels (the text shrinks down to
 * min_size, then wraps; it is never cut); colours #RRGGBB or #RRGGBBAA; background and
 * align (left|center|right, default left) and min_size are optional.  Two slots may share
 * a time or a place, not both.  "video" is the name of a file in the template's directory
 * (no '/', no '..'; a symbolic link must stay inside the directory): VBILL_ERR_TEMPLATE
 * otherwise.  Every media file the library reads (base videos, prepared files, stills) is
 * opened with FFmpeg's file protocol only and as one of those containers only: a playlist
 * (HLS, concat), an image sequence or a text file is VBILL_ERR_MEDIA, so that a template
 * can never bring another file of the machine into a customer's video.
 *
 * Preparing normalises the base video once into DIR/.vbill-prepared/<sha256>/ (the key
 * covers the base video's bytes, template.json, the slow speed and the settings version):
 * H.264 High yuv420p at a constant frame rate (the base's average rate; variable rates are
 * resampled), fixed x264 settings without B-frames, closed GOPs with an IDR at the start and
 * at the end of every slot window and about every 4 s elsewhere; AAC stereo 48 kHz (silent
 * when the base has none), trimmed to the video's length.  An odd width or height loses its
 * last column or row (4:2:0 needs even sizes; boxes keep their coordinates).  The slow
 * variant (the context's senior speed, default 0.8) has the same frames shown longer and
 * the audio time-stretched with its pitch kept.  The shared HLS segments are written too
 * (hls-normal/, hls-slow/), and the overlay rendition hls-overlay/index.m3u8: the normal
 * speed base as HLS with no text at all, every segment beside the playlist, for a page that
 * draws the slot texts itself (vbill_template_info gives their boxes, times and drawing);
 * a cache prepared by an older version without it gets it at the next prepare (a stream
 * copy, no encode; where the cache cannot be written it is left without one).
 *
 * Rendering burns a bill's slot texts into the prepared video: only the GOPs holding a
 * slot window are decoded and re-encoded (with the prepare's encoder headers); every other
 * packet and all audio are copied.  Outputs have exactly the prepared duration (duration /
 * speed for the slow variant) and frame count, except in still segments (see
 * vbill_template_info), where the one picture is encoded every half second and each frame
 * is shown for its half second.
 *
 * Thread safety: a template is immutable once prepared; any number of threads may render
 * from one template at once, each with its own vbill_ctx.  Opening and preparing are not
 * thread-safe on the same template object.
 */
typedef struct vbill_template vbill_template;

/* Opens the template in `dir`: parses and validates template.json (VBILL_ERR_TEMPLATE with
 * a message naming the slot and the problem; VBILL_ERR_JSON), probes the base video
 * (VBILL_ERR_MEDIA when it does not decode) and hashes it.  When a prepared form for the
 * same content is already cached, the template is ready to render.  The template keeps
 * ctx's senior speed (its slow variant's speed) and logging callback as they are at this
 * call.  *out is freed with vbill_template_free. */
VBILL_API VBILL_NODISCARD vbill_status vbill_template_open(vbill_ctx *ctx, const char *dir,
                                                           vbill_template **out);

/* Prepares the template (see above) unless already prepared: idempotent, and a re-run with
 * nothing changed only checks the cache.  The cache directory appears atomically.  Errors
 * (the message in vbill_template_errmsg(t)): VBILL_ERR_MEDIA (undecodable base, encoder
 * failure), VBILL_ERR_IO (cannot write DIR). */
VBILL_API VBILL_NODISCARD vbill_status vbill_template_prepare(vbill_template *t);

/*
 * The voice.  A template folder with a narration.json (vbill/voice.h; the built-in
 * templates write one) speaks each bill's personal sentences in its slot windows: the
 * audio packets around a sentence are re-encoded from the prepared bed with the speech
 * mixed in (the sentence starts 0.15 s into its window and ends 0.1 s before its end, and
 * runs at most 1.15x faster to fit; longer, it is cut with a warning logged), all other
 * audio is copied, so timestamps, sync and length do not change and no seam clicks.  The
 * slow rendition speaks at its speed with the pitch kept.  An MP4 gets the script's
 * sentences as a subtitle track (mov_text, the bill's language); an HLS folder gets
 * captions.vtt beside its index.m3u8 (vbill_narration_webvtt at the rendition's speed).
 * The fixed sentences are the base video's own audio (the built-in templates speak them
 * when they are made).  A template without narration.json renders as before.
 *
 * The voice is the carrier's recorded clips when the folder holds DIR/clips/ (a folder of
 * regular files, no symbolic links: vbill_voice_open_clips), else espeak-ng when installed,
 * else silence (a warning is logged at open); vbill_template_set_voice sets another.  The
 * voice must outlive the template; NULL restores the template's own.  Not thread-safe: set
 * it before rendering.
 */
VBILL_API VBILL_NODISCARD vbill_status vbill_template_set_voice(vbill_template *t,
                                                                const vbill_voice *voice);

/* The message of the last failed call on t ("" after a success). */
VBILL_API const char *vbill_template_errmsg(const vbill_template *t);

/* 1 when the template is prepared (renders may start), else 0. */
VBILL_API int vbill_template_is_prepared(const vbill_template *t);

/* The scenario id the template is for (owned by t). */
VBILL_API const char *vbill_template_scenario(const vbill_template *t);

/* A JSON description: {"scenario","prepared","voice" (the voice's kind, null without a
 * narration),"source":{width,height,duration}, and when
 * prepared "cache","width","height","fps":[num,den],"frames","slow_speed","segments":
 * [[first frame, end frame, personal, still],...], and "slots":[{name,text,from,to,box,size,
 * min_size,color,background,align,font,frames:[first,end]}]}.  Segment indexes are those of
 * vbill_render_segment.  A still segment is one where the base holds one picture: a render
 * encodes a frame every half second there, each shown for its half second.  Free with
 * vbill_free; NULL on allocation failure. */
VBILL_API char *vbill_template_info(const vbill_template *t);

VBILL_API void vbill_template_free(vbill_template *t);

/* Renders a bill's video to an MP4 file (faststart, H.264 + AAC), written under a
 * temporary name and renamed: on failure nothing is left at out_path.  speed: 1.0 for
 * normal, the template's slow speed (e.g. 0.8), or 0 for the bill's own (slow for seniors).
 * Errors: VBILL_ERR_NOT_TARGET (the bill has no scenario), VBILL_ERR_ARG (another scenario
 * than the template's, unprepared template, speed not prepared), VBILL_ERR_TEMPLATE (a slot
 * text does not fit its box), VBILL_ERR_FONT, VBILL_ERR_MEDIA, VBILL_ERR_IO. */
VBILL_API VBILL_NODISCARD vbill_status vbill_render_mp4(vbill_ctx *ctx, const vbill_template *t,
                                                        const vbill_bill *bill, double speed,
                                                        const char *out_path);

/* Renders a bill's HLS stream into out_dir (created if needed): out_dir/index.m3u8 and
 * the personal MPEG-TS segments out_dir/pNNNNN.ts; the shared segments are the template's
 * (written once by prepare, in the cache's hls-normal/ or hls-slow/) and the playlist
 * refers to them by shared_url + "/sNNNNN.ts", or when shared_url is NULL by a relative
 * path from out_dir to the cache.  Timestamps are continuous (no discontinuity).  Errors as
 * vbill_render_mp4. */
VBILL_API VBILL_NODISCARD vbill_status vbill_render_hls(vbill_ctx *ctx, const vbill_template *t,
                                                        const vbill_bill *bill, double speed,
                                                        const char *out_dir,
                                                        const char *shared_url);

/* Writes the playlist of vbill_render_hls (out_dir/index.m3u8) without rendering a
 * segment: the playlist of a bill rendered on demand, segment by segment. */
VBILL_API VBILL_NODISCARD vbill_status vbill_render_playlist(vbill_ctx *ctx,
                                                             const vbill_template *t,
                                                             const vbill_bill *bill, double speed,
                                                             const char *out_dir,
                                                             const char *shared_url);

/* Renders one personal segment (index from vbill_template_info, the same name pNNNNN.ts a
 * playlist of vbill_render_hls refers to) to out_path: the call a viewer makes to render
 * a bill on demand.  VBILL_ERR_NOT_FOUND when the segment is not personal. */
VBILL_API VBILL_NODISCARD vbill_status vbill_render_segment(vbill_ctx *ctx,
                                                            const vbill_template *t,
                                                            const vbill_bill *bill, double speed,
                                                            int segment, const char *out_path);

/* The segment cache: when set (dir non-NULL), every personal HLS segment this context
 * renders (vbill_render_hls, vbill_render_segment) is looked up in dir first by a key that
 * covers all its bytes depend on (the prepared template, the variant, the segment, and the
 * pixels, places and frames of the slot texts drawn in it, the library's and the encoder's
 * versions): a segment whose texts are the same as another bill's (a period, a plan, next
 * month's amount, a payment method) is hard-linked from the cache instead of re-encoded,
 * and a rendered one is added to it.  Cache files are named by their SHA-256 key
 * (dir/KK/KEY.ts), are plain hard links of bill segments (no extra bytes on one file
 * system; on another, the cache is not used), and hold what those segments show, so keep
 * dir beside the bills it serves and remove it with them.  Several processes may share
 * dir.  NULL turns the cache off (the default).  MP4s and stills do not use it. */
VBILL_API VBILL_NODISCARD vbill_status vbill_ctx_set_segment_cache(vbill_ctx *ctx,
                                                                   const char *dir);

/* Personal segments this context took from its segment cache (hits) and rendered while a
 * cache was set (misses), since the context was made. */
VBILL_API void vbill_ctx_segment_cache_stats(const vbill_ctx *ctx, uint64_t *hits,
                                             uint64_t *misses);

/* A JPEG still (at most max_width pixels wide, 0 for 640) of the bill's video at
 * position_s seconds of the rendition at `speed` (as vbill_render_mp4), rendered from the
 * template and the bill (no rendered file needed): what the customer saw when they asked a
 * question.  *jpeg is freed with vbill_free. */
VBILL_API VBILL_NODISCARD vbill_status vbill_render_still(vbill_ctx *ctx, const vbill_template *t,
                                                          const vbill_bill *bill, double speed,
                                                          double position_s, int max_width,
                                                          unsigned char **jpeg,
                                                          size_t *jpeg_len);

/* A JPEG still (at most max_width pixels wide, 0 for 640) of the frame shown at position_s
 * seconds of a video file (MP4/MOV, Matroska/WebM or MPEG-TS only).  *jpeg is freed with vbill_free.
 * VBILL_ERR_MEDIA when the file cannot be decoded or has no frame there. */
VBILL_API VBILL_NODISCARD vbill_status vbill_still_jpeg(vbill_ctx *ctx, const char *video_path,
                                                        double position_s, int max_width,
                                                        unsigned char **jpeg, size_t *jpeg_len);

/*
 * Built-in templates: one default video template per scenario of the built-in rule set and
 * locale (ko-KR, ja-JP, en-US), generated by the library itself (no media is shipped).  Each
 * is two minutes of 1280x720, 30 fps H.264 with AAC: scenes that explain the period, the
 * pro-rated charges, next month's bill, the plan and its benefits, the bundle and its
 * discounts and the payment method (the scenes that fit the scenario), with captions in the
 * locale's language burnt in, a soft audio bed with the narration's fixed sentences spoken
 * over it, and six slots of 6.5 s (one per scene, 4 to 10.5 s into it) whose Mustache texts, in
 * the locale's language, are rendered over the bill's fill context and drawn by the
 * renderer.  A slot's label and panel appear with its value, during its window only; the
 * picture holds still there.  The folder's narration.json is the built-in narration of the
 * scenario (vbill_narration_default): a render speaks the personal sentences (see
 * vbill_template_set_voice).
 *
 * Scenario ids: mobile_new_home_new, mobile_new_bundle, mobile_device_change_home,
 * mobile_device_change, home_new_mobile, home_new, home_recontract.
 */

/* Writes DIR/template.json, DIR/narration.json and DIR/base.mp4 of the built-in template of
 * `scenario` in Korean (vbill_template_builtin_make with ko-KR and the default voice),
 * creating DIR (one level) when missing.  Both files appear atomically (temporary name,
 * then rename); existing ones are replaced.  Takes a few seconds of CPU.
 * Errors: VBILL_ERR_NOT_FOUND for an unknown scenario, VBILL_ERR_IO when DIR cannot be
 * created or written, VBILL_ERR_MEDIA when encoding fails, VBILL_ERR_FONT when no font draws
 * the captions.  Thread safety: distinct contexts may generate in parallel (into distinct
 * directories). */
VBILL_API VBILL_NODISCARD vbill_status vbill_template_builtin_write(vbill_ctx *ctx,
                                                                    const char *scenario,
                                                                    const char *dir);

/* As vbill_template_builtin_write, in locale ("ko-KR", "ja-JP", "en-US"; NULL: ko-KR), the
 * fixed sentences spoken by voice (NULL: espeak-ng when installed, else silence with a
 * warning logged).  Also writes DIR/narration.json.  Errors as vbill_template_builtin_write,
 * VBILL_ERR_ARG for another locale, the voice's (VBILL_ERR_MEDIA when espeak-ng fails). */
VBILL_API VBILL_NODISCARD vbill_status vbill_template_builtin_make(vbill_ctx *ctx,
                                                                   const char *scenario,
                                                                   const char *locale,
                                                                   const vbill_voice *voice,
                                                                   const char *dir);

/* The scenario ids that have a built-in template, as a JSON array of strings (static
 * storage, never NULL). */
VBILL_API const char *vbill_template_builtin_list(void);

#ifdef __cplusplus
}
#endif
#endif /* VBILL_VIDEO_H */
