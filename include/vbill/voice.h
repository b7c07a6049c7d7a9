/*
 * vbill/voice.h: the voice of a video bill: narration scripts (the words a bill's video
 * says, amounts and dates written out as words) and voices that speak them (espeak-ng run
 * as a program, a carrier's recorded clips, a silent fallback).  Included by vbill.h; see
 * vbill.h for the conventions every function follows.
 *
 * Narration scripts need nothing but the bill.  Voices use FFmpeg's libraries (resampling,
 * tempo): in a library built with --disable-video the vbill_voice_* calls and
 * vbill_wav_write return VBILL_ERR_UNSUPPORTED.
 */
#ifndef VBILL_VOICE_H
#define VBILL_VOICE_H

#include "vbill/common.h"
#include "vbill/records.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Narration: the words a bill's video says, scene by scene, with the customer's amounts,
 * dates and counts written out as words ("육만 구백육십 원", "ろくまんきゅうひゃくろくじゅうえん",
 * "six hundred nine dollars and sixty cents"): the script is exactly what a voice speaks.
 * Korean follows myriad grouping (만, 억, 조) with no 일 before 십/백/천/만, months 유월 and
 * 시월; Japanese is written in kana (espeak-ng cannot read kanji) with the sound changes
 * (さんびゃく, ろっぴゃく, はっせん, いっせんまん, よえん, じゅうよっか...); English as
 * Americans say it ("November fourteenth", "twenty twenty-six").
 *
 * A script is JSON:
 *   {"id","scenario","locale","scenes":[{"scene","start","end","personal","text"}]}
 * start and end are seconds of the template at normal speed (the speech belongs in that
 * window; a slower rendition divides them by its speed); personal is true for the
 * sentences that say the customer's own values (spoken in the personal windows), false for
 * the fixed ones (the same for every customer of a scenario and locale).
 *
 * The texts are Mustache templates over the fill context (vbill_fill_context) plus these
 * spoken values, computed from the context's numbers and dates in the record's locale and
 * currency:
 *   this_month_spoken, next_month_spoken, bundle_prorated_spoken        money
 *   period_spoken ("11월 14일부터 11월 30일까지" in words), period_start_spoken,
 *   period_end_spoken, period_days_spoken ("십칠 일"), cycle_spoken, issue_date_spoken
 *   (with the year), payment_method_spoken, payment_day_spoken ("이십오일"; absent when
 *   the record has no payment day), benefits_count_spoken ("두 가지", "ふたつ", "two
 *   benefits"; absent without benefits), lines_count_spoken ("세 회선", "さんかいせん",
 *   "three lines") with lines_count, one_line and few_lines (at most two) to choose
 *   between saying each line's amount and pointing at the screen
 *   lines[]: monthly_fee_spoken, net_spoken, prorated_spoken, next_month_spoken,
 *     discount_total_spoken, days_spoken, from_spoken, start_spoken, kind_spoken;
 *     device.installment_spoken, device.months_left_spoken; discounts[].amount_spoken
 *   bundle: discount_spoken, prorated_spoken, days_spoken, start_spoken
 *   bill: other_total_spoken, other_charges[].amount_spoken
 * Use triple braces ({{{name}}}): double braces escape HTML, as the Mustache
 * specification says, which a voice would read out.
 *
 * The built-in narration of each of the seven built-in scenarios follows the built-in video
 * templates: an intro (0.5-9.5 s), per scene a fixed sentence (+0.5 to +4 s) and a personal
 * one in its window (+4 to +10.5 s), an outro (106.5-119.5 s).  It never says the record's free
 * texts (names, products, institutions, benefits): the screen shows them, and recorded
 * clips could not say them.
 *
 * A carrier replaces it with a narration.json in the template folder:
 *   {"scenario": "mobile_new_bundle",        optional; another scenario's bill is refused
 *    "scenes": [                             1 to 64, in order, not overlapping
 *      {"scene": "intro",                    optional name, at most 64 bytes
 *       "start": 0.5, "end": 9.5,            seconds, 0 <= start < end <= 3600
 *       "personal": false,                   optional; default: true when the text
 *                                            looks up any value
 *       "text": {"ko-KR": "...", "ja-JP": "...", "en-US": "..."}},
 *                                            or one string for every locale; a locale
 *                                            left out says nothing in that scene
 *      ...],
 *    "partials": {"name": "mustache text"}}  optional, for {{> name}}
 * Each text is at most 4,096 bytes.  A scene whose text renders empty (e.g. a device
 * sentence for a bill without a device) is left out of the script; runs of white space
 * become one space.
 */

/* The narration script of a bill (its fill context gives the values).
 * template_dir: a template folder whose narration.json replaces the built-in narration
 * (NULL, or a folder without one: the built-in narration of the bill's scenario).
 * *out_json is freed with vbill_free.  Errors: VBILL_ERR_NOT_TARGET (no scenario),
 * VBILL_ERR_NOT_FOUND (a carrier's scenario without a narration.json), VBILL_ERR_TEMPLATE
 * (a malformed narration.json: the message names the scene and the locale; or another
 * scenario's), VBILL_ERR_JSON (narration.json is not JSON), VBILL_ERR_IO (narration.json
 * unreadable). */
VBILL_API VBILL_NODISCARD vbill_status vbill_narration(vbill_ctx *ctx, const vbill_bill *bill,
                                                       const char *template_dir, char **out_json);

/* A script's sentences as WebVTT captions (what a page shows, timed to the voice): one cue
 * per sentence (". ", "?", "!", "。" end one), a scene's window shared among its sentences
 * by their letters, times divided by speed (1 for the normal rendition, the slow one's e.g.
 * 0.8: the times of that video), the text on one line with &, < and > escaped.
 * script_json is vbill_narration's.  *out_vtt is freed with vbill_free.
 * VBILL_ERR_JSON for a malformed script, VBILL_ERR_ARG for a speed outside 0.25..4. */
VBILL_API VBILL_NODISCARD vbill_status vbill_narration_webvtt(vbill_ctx *ctx,
                                                              const char *script_json,
                                                              double speed, char **out_vtt);

/* The built-in narration of a scenario in the narration.json format, every locale, to
 * start a carrier's own from.  VBILL_ERR_NOT_FOUND for a scenario without one. */
VBILL_API VBILL_NODISCARD vbill_status vbill_narration_default(vbill_ctx *ctx,
                                                               const char *scenario,
                                                               char **out_json);

/* Checks a narration.json (len may be (size_t)-1 for a NUL-terminated string): its shape
 * and every text's Mustache.  VBILL_ERR_JSON, VBILL_ERR_TEMPLATE. */
VBILL_API VBILL_NODISCARD vbill_status vbill_narration_check(vbill_ctx *ctx,
                                                             const char *narration_json,
                                                             size_t len);

/*
 * Voices turn a script's text into speech: PCM, mono, 48,000 samples per second, 32-bit
 * float in [-1, 1] (what the AAC encoder of the video path takes, each channel alike).
 *
 *  - espeak-ng (Debian's espeak-ng, GPL: run as a separate program, never linked): one
 *    process per text, the text on its standard input, the WAV it writes on standard output
 *    read back, with a timeout (default 20 s); voices ko, ja, en-us by the locale.
 *  - recorded clips: a folder with one sub-folder per locale (ko-KR/, ja-JP/, en-US/) of
 *    WAV files (PCM 8-32 bit or float, any rate, mono or stereo), one per word, number piece
 *    or phrase; a clip's text is its file name without ".wav", or is given by the folder's
 *    clips.json ({"text": "file.wav", ...}).  A text is cut into the fewest clips that spell
 *    it (spaces are free; English words must end at a word boundary); commas and full stops
 *    become short pauses; clips are trimmed of their silent ends (below -50 dBFS, keeping
 *    10 ms) and joined with 10 ms equal-power crossfades, so there is no gap and no click.
 *    libvbill/voice/README.md lists the clips a voice actor records per locale, and
 *    vbill_voice_clip_list gives every text the built-in narration can need.
 *  - silent: the fallback when espeak-ng is missing: silence as long as the text would take
 *    to say (an estimate from its syllables), with a warning logged, so a video keeps its
 *    timing and its captions.
 *
 * Thread safety: a voice is immutable once its options are set; any number of threads may
 * call vbill_voice_say on it at once, each with its own context.
 */
#define VBILL_VOICE_SAMPLE_RATE 48000
typedef struct vbill_voice vbill_voice;

/* espeak-ng as a voice.  program: the executable (a path, or a name looked up in PATH);
 * NULL means "espeak-ng".  VBILL_ERR_NOT_FOUND with a clear message when it is not
 * installed (Debian: apt-get install espeak-ng). */
VBILL_API VBILL_NODISCARD vbill_status vbill_voice_open_espeak(vbill_ctx *ctx,
                                                               const char *program,
                                                               vbill_voice **out);

/* A carrier's recorded clips in dir (see above); every WAV is read and checked now.
 * VBILL_ERR_NOT_FOUND when dir holds no locale folder with clips, VBILL_ERR_MEDIA for a WAV
 * that does not parse (the message names the file), VBILL_ERR_IO (also for a clip, a
 * clips.json or a locale folder that is a symbolic link or not a regular file: clips are
 * read from the folder itself only), VBILL_ERR_JSON.  A template folder's clips/ is opened
 * so as the template's voice (vbill/video.h). */
VBILL_API VBILL_NODISCARD vbill_status vbill_voice_open_clips(vbill_ctx *ctx, const char *dir,
                                                              vbill_voice **out);

/* The silent fallback voice (see above). */
VBILL_API VBILL_NODISCARD vbill_status vbill_voice_open_silent(vbill_ctx *ctx, vbill_voice **out);

/* espeak-ng when it is installed, else the silent voice with a warning logged. */
VBILL_API VBILL_NODISCARD vbill_status vbill_voice_open_default(vbill_ctx *ctx,
                                                                vbill_voice **out);

/* "espeak-ng", "clips" or "silent". */
VBILL_API const char *vbill_voice_kind(const vbill_voice *v);

/* Speaking rate, 1.0 normal (espeak-ng: 175 words a minute), from 0.5 to 2.0.  Clips are
 * time-stretched with their pitch kept. */
VBILL_API VBILL_NODISCARD vbill_status vbill_voice_set_rate(vbill_voice *v, double rate);

/* How long one espeak-ng run may take, in milliseconds (default 20,000; 100 to 600,000). */
VBILL_API VBILL_NODISCARD vbill_status vbill_voice_set_timeout(vbill_voice *v, int ms);

/* Speaks text (UTF-8) in locale ("ko-KR", "ja-JP", "en-US"; NULL: ko-KR).  *pcm (freed
 * with vbill_free; NULL when *samples is 0) holds *samples samples at 48 kHz.  Errors:
 * VBILL_ERR_ARG (invalid UTF-8, text over 64 KiB), VBILL_ERR_NOT_FOUND (espeak-ng missing;
 * a clips voice without the locale, or with no clip for a piece of the text: the message
 * quotes it), VBILL_ERR_MEDIA (espeak-ng failed, timed out or wrote no WAV). */
VBILL_API VBILL_NODISCARD vbill_status vbill_voice_say(vbill_ctx *ctx, const vbill_voice *v,
                                                       const char *locale, const char *text,
                                                       float **pcm, size_t *samples);

/* Speaks a script (vbill_narration's JSON) on its timeline: each scene's speech starts at
 * its start second; the result lasts until the last scene's end, or longer when the last
 * speech runs past it.  A speech longer than its scene's window is kept whole and a warning
 * is logged.  which: VBILL_SCENES_ALL, or only the personal scenes (the part that differs
 * per bill) or only the fixed ones (the same for every bill of a scenario and locale).
 * Errors as vbill_voice_say, VBILL_ERR_JSON for a malformed script. */
typedef enum vbill_scenes {
    VBILL_SCENES_ALL = 0,
    VBILL_SCENES_PERSONAL = 1,
    VBILL_SCENES_FIXED = 2
} vbill_scenes;
VBILL_API VBILL_NODISCARD vbill_status vbill_voice_narration(vbill_ctx *ctx, const vbill_voice *v,
                                                             const char *script_json,
                                                             vbill_scenes which, float **pcm,
                                                             size_t *samples);

/* The texts of the clips the built-in narration can need in a locale, as a JSON array of
 * strings (number pieces, units, month and day names, every fixed phrase).  A clips folder
 * with a WAV for each of them says every built-in script. */
VBILL_API VBILL_NODISCARD vbill_status vbill_voice_clip_list(vbill_ctx *ctx, const char *locale,
                                                             char **out_json);

VBILL_API void vbill_voice_free(vbill_voice *v);

/* Writes 48 kHz mono PCM (as the voices make it) to a 16-bit WAV file, atomically. */
VBILL_API VBILL_NODISCARD vbill_status vbill_wav_write(vbill_ctx *ctx, const char *path,
                                                       const float *pcm, size_t samples);

#ifdef __cplusplus
}
#endif
#endif /* VBILL_VOICE_H */
