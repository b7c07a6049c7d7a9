/* headers_fuzzer.c: any bytes through the request headers vbill serve reads itself
 * (examples/serve/headers.c): Accept-Encoding (sv_accepts_gzip: a static file gzipped or
 * not) and Accept-Language (sv_page_locale: the language of an unknown or expired link's
 * page).  They must answer, never crash, hang or read past the value; a value naming neither
 * gzip nor "*" never takes gzip; the locale is always one of the page's three, ko-KR when
 * the value names none of them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../examples/serve/headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool names(const char *s, const char *what)
{
    for (const char *p = s; *p; p++)
        if (strncasecmp(p, what, strlen(what)) == 0)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    bool a = sv_accepts_gzip(s);
    if (a != sv_accepts_gzip(s) || (a && !strchr(s, '*') && !names(s, "gzip")))
        abort();
    const char *l = sv_page_locale(s);
    if (strcmp(l, "ko-KR") != 0 && strcmp(l, "ja-JP") != 0 && strcmp(l, "en-US") != 0)
        abort();
    if ((!strcmp(l, "ja-JP") && !names(s, "ja")) || (!strcmp(l, "en-US") && !names(s, "en")))
        abort();
    free(s);
    return 0;
}
