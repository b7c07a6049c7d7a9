/* slots.h: the default slot texts of each scenario (slots.c). */
#ifndef VB_SLOTS_H
#define VB_SLOTS_H

#define VB_MAX_SLOTS 16

typedef struct vb_slot_def {
    const char *name;
    const char *tmpl;   /* Mustache over the fill context */
} vb_slot_def;

/* Fills out[] with the default slots of scenario (any id: unknown ones get the generic set)
 * in locale ("ko-KR" when unknown) and returns how many. */
int vb_default_slots(const char *scenario, const char *locale, vb_slot_def out[VB_MAX_SLOTS]);

#endif
