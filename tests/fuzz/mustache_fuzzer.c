/* mustache_fuzzer.c: any bytes as a Mustache template (up to the first NUL byte) over a
 * fixed context, or over the JSON after the NUL when it parses; partials include recursive
 * ones and the template itself.  Every input must render or fail with a message, never
 * crash, hang or exhaust memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "vbill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context[] =
    "{\"name\": \"Kim <&> \\\"Lee\\\"\", \"n\": 42, \"pi\": 3.14159, \"t\": true, \"f\": false,"
    " \"z\": null, \"e\": [], \"s\": \"\","
    " \"a\": {\"b\": {\"c\": \"deep\", \"list\": [1, 2, 3]}, \"name\": \"inner\"},"
    " \"list\": [{\"id\": \"L1\", \"v\": 1, \"list\": [{\"id\": \"x\"}]}, {\"id\": \"L2\"}, \"str\", 7,"
    "          [\"nested\", [\"more\"]]],"
    " \"tree\": {\"content\": \"X\", \"nodes\": [{\"content\": \"Y\", \"nodes\": [{\"content\": \"Z\"}]}]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vbill_ctx *ctx;
    if (!ctx && vbill_ctx_new(&ctx) != VBILL_OK)
        abort();
    const char *text = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t)(nul - data) : size;

    /* the data: what follows the NUL when it is JSON, else the fixed context */
    char *json = NULL;
    if (nul) {
        size_t dlen = size - tlen - 1;
        cJSON *d = cJSON_ParseWithLength((const char *)nul + 1, dlen);
        if (d)
            json = cJSON_PrintUnformatted(d);
        cJSON_Delete(d);
    }

    /* partials: recursive ones, indented ones, and the template itself */
    cJSON *p = cJSON_CreateObject();
    char *self = malloc(tlen + 1);
    if (!p || !self)
        abort();
    memcpy(self, text, tlen);
    self[tlen] = '\0';
    cJSON_AddStringToObject(p, "self", self);
    cJSON_AddStringToObject(p, "node", "{{content}}<{{#nodes}}{{>node}}{{/nodes}}>");
    cJSON_AddStringToObject(p, "loop", "{{#list}}{{>loop}}{{/list}}");
    cJSON_AddStringToObject(p, "ind", "|\n  {{{name}}}\n{{#list}}\n  {{>ind}}\n{{/list}}\n");
    cJSON_AddStringToObject(p, "bad", "{{#x}}");
    cJSON_AddStringToObject(p, "delim", "{{=<% %>=}}<% name %>");
    cJSON_AddStringToObject(p, "parent", "[{{$b}}default {{n}}{{/b}}]{{<self}}{{/self}}");
    char *pjson = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!pjson)
        abort();

    char *out = NULL;
    size_t out_len = 0;
    vbill_status st = vbill_mustache_render(ctx, self, tlen, json ? json : context, pjson, &out,
                                            &out_len);
    if (st == VBILL_OK) {
        if (!out || out_len != strlen(out))
            abort(); /* text is NUL-free here, so the length must match */
    } else if (out || out_len || vbill_ctx_errmsg(ctx)[0] == '\0') {
        abort(); /* a failure returns nothing and says why */
    }
    vbill_free(out);
    free(pjson);
    free(self);
    cJSON_free(json);
    return 0;
}
