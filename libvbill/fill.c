/* fill.c */
#include "config.h"
#include "internal.h"
void vb_fill_cache_free(struct vb_mustache_cache *c);
void vb_fill_cache_free(struct vb_mustache_cache *c) { (void)c; }
