/* classify.c */
#include "config.h"
#include "internal.h"
#include <stdlib.h>
struct vb_rules { int dummy; };
struct vb_rules *vb_rules_default(void);
void vb_rules_free(struct vb_rules *r);
struct vb_rules *vb_rules_default(void) { return calloc(1, sizeof(struct vb_rules)); }
void vb_rules_free(struct vb_rules *r) { free(r); }
