/*
 * text.h: the text rasteriser of the video renderer (internal).  Text is shaped and drawn by
 * libass (HarfBuzz shaping, FreeType outlines, fontconfig fallback) into an RGBA image the
 * size of a slot's box; the renderer composites that image onto the video frames.
 */
#ifndef VB_VIDEO_TEXT_H
#define VB_VIDEO_TEXT_H

#include "vbill.h"
#include <stdbool.h>
#include <stdint.h>

typedef enum vb_align { VB_ALIGN_LEFT, VB_ALIGN_CENTER, VB_ALIGN_RIGHT } vb_align;

typedef struct vb_text_style {
    int size;            /* wanted font size in pixels (of the base video) */
    int min_size;        /* shrink down to this before wrapping; 0 = default (60% of size, >= 12) */
    uint32_t color;      /* 0xRRGGBBAA */
    uint32_t background; /* 0xRRGGBBAA fill of the whole box; alpha 0 = none */
    vb_align align;
} vb_text_style;

typedef struct vb_text_image {
    int w, h;
    uint8_t *rgba;       /* w*h*4, straight (not premultiplied) alpha */
} vb_text_image;

typedef struct vb_text_engine vb_text_engine;

/* One engine per thread (libass is not thread-safe); creating one loads fontconfig.
 * VBILL_ERR_FONT if no font is found. */
vbill_status vb_text_engine_new(vbill_ctx *ctx, vb_text_engine **out);
void vb_text_engine_free(vb_text_engine *e);

/* Renders utf8 fitted into a box_w x box_h box (shrink, then wrap, never cut): out->w == box_w,
 * out->h == box_h.  `what` names the thing for error messages (e.g. "slot 'period'").
 * VBILL_ERR_TEMPLATE when the text cannot fit even wrapped at the minimum size. */
vbill_status vb_text_render(vb_text_engine *e, vbill_ctx *ctx, const char *what, const char *utf8,
                            const vb_text_style *style, int box_w, int box_h, vb_text_image *out);
void vb_text_image_free(vb_text_image *img);

/* Parses "#RRGGBB" or "#RRGGBBAA" -> 0xRRGGBBAA; false when malformed. */
bool vb_color_parse(const char *s, uint32_t *out);

#endif
