/* accept_encoding_fuzzer.c: any bytes through the Accept-Encoding reader of vbill serve
 * (sv_accepts_gzip, examples/serve/headers.c), which decides whether a static file goes out
 * gzipped.  It must answer, never crash, hang or read past the value; a value that names
 * neither gzip nor "*" never takes gzip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../examples/serve/headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    bool a = sv_accepts_gzip(s);
    if (a != sv_accepts_gzip(s))
        abort();
    bool named = strchr(s, '*') != NULL;
    for (const char *p = s; *p && !named; p++)
        named = strncasecmp(p, "gzip", 4) == 0;
    if (a && !named)
        abort();
    free(s);
    return 0;
}
