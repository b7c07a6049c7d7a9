/*
 * narration.h: a bill's narration script (narration.c): per scene the start and end
 * seconds of the template at normal speed and the exact words spoken, rendered from a
 * Mustache template per scenario and locale (built in, or a carrier's narration.json) over
 * the fill context plus the spoken forms of its values (say.h).
 */
#ifndef VB_NARRATION_H
#define VB_NARRATION_H

#include "internal.h"

#define VB_NARRATION_FILE "narration.json"
/* A template folder's recorded clips (its voice instead of espeak-ng) */
#define VB_CLIPS_DIR "clips"
#define VB_NARRATION_MAX_SCENES 64
#define VB_NARRATION_MAX_SECONDS 3600.0
#define VB_NARRATION_MAX_TEXT 4096  /* bytes of one scene's template */

/* The script of a bill:
 *   {"id","scenario","locale","scenes":[{"scene","start","end","personal","text"}]}
 * from fill_context (the object vb_context_build / vbill_fill_context make) and narration (a
 * parsed narration.json; NULL for the built-in narration of the context's scenario).  Scenes
 * whose text is empty once rendered (a device scene without a device) are left out; white
 * space is collapsed.  NULL on failure with *st set and the message in ctx:
 * VBILL_ERR_NOT_TARGET (no scenario), VBILL_ERR_NOT_FOUND (no built-in narration for the
 * scenario), VBILL_ERR_TEMPLATE (a malformed narration, named by scene and locale; or
 * another scenario's), VBILL_ERR_NOMEM. */
cJSON *vb_narration_build(vbill_ctx *ctx, const cJSON *fill_context, const cJSON *narration,
                          vbill_status *st);

/* Adds the spoken forms of the context's values (this_month_spoken, period_spoken, per line
 * prorated_spoken...: the list is in include/vbill.h) to a context held in an arena tree.
 * False on allocation failure. */
struct vb_jval;
struct vb_jdoc;
bool vb_narration_add_spoken(struct vb_jdoc *d, struct vb_jval *context);

/* The built-in narration of a scenario in the narration.json format (every locale), or NULL
 * when the scenario has none (not one of the seven built-in ones) or memory ran out. */
cJSON *vb_narration_builtin(const char *scenario);

/* Reads DIR/narration.json.  *out is NULL (and VBILL_OK returned) when the file does not
 * exist; VBILL_ERR_JSON when it is not JSON, VBILL_ERR_IO when it cannot be read. */
vbill_status vb_narration_load(vbill_ctx *ctx, const char *dir, cJSON **out);

/* Calls fn with every fixed phrase of the built-in narration in language l (0 ko, 1 ja,
 * 2 en), cut at its Mustache tags and at the characters that make pauses, and every word
 * it puts in the spoken values (kinds of line, payment methods, counters). */
void vb_narration_vocabulary(int l, void (*fn)(void *arg, const char *text), void *arg);

/* Checks a narration (as vb_narration_build would use it) without a bill. */
vbill_status vb_narration_check(vbill_ctx *ctx, const char *name, const cJSON *narration);

/* The script's captions: [{"start","end","text"}] in seconds divided by speed (the slow
 * rendition's times), one cue per sentence (a scene of several sentences shares its window
 * among them by their letters, so a caption stays two lines on a phone and follows the
 * voice).  NULL when memory ran out. */
cJSON *vb_narration_cues(const cJSON *script, double speed);
/* The same as WebVTT; cue text escaped (&, <, >) on one line.  NULL when memory ran out. */
char *vb_narration_webvtt(const cJSON *script, double speed);
#endif
