/* builtin.c: built-in templates (being written). */
#include "internal.h"

static const char builtin_list[] =
    "[\"mobile_new_home_new\",\"mobile_new_bundle\",\"mobile_device_change_home\","
    "\"mobile_device_change\",\"home_new_mobile\",\"home_new\",\"home_recontract\"]";

VBILL_API const char *vbill_template_builtin_list(void) { return builtin_list; }

VBILL_API vbill_status vbill_template_builtin_write(vbill_ctx *ctx, const char *scenario,
                                                   const char *dir)
{
    (void)dir;
    return vb_error(ctx, VBILL_ERR_NOT_FOUND, "built-in template '%s': not available yet",
                    scenario ? scenario : "(null)");
}
