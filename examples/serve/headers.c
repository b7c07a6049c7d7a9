/*
 * headers.c: request headers vbill serve reads for itself (see headers.h): Accept-Encoding
 * and Accept-Language.
 */
#include "config.h"
#include "headers.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool sv_accepts_gzip(const char *h)
{
    double gzip = -1, star = -1;
    for (const char *p = h; p && *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t;,");
        const char *end = p + strcspn(p, ",");
        const char *qv = strstr(p, "q=");
        double quality = qv && qv < end ? strtod(qv + 2, NULL) : 1;
        if (n == 4 && strncasecmp(p, "gzip", 4) == 0)
            gzip = quality;
        else if (n == 1 && *p == '*')
            star = quality;
        p = end;
    }
    return gzip >= 0 ? gzip > 0 : star > 0;
}

const char *sv_page_locale(const char *h)
{
    static const char *const langs[][2] = {{"ko", "ko-KR"}, {"ja", "ja-JP"}, {"en", "en-US"}};
    const char *best = "ko-KR";
    double best_q = 0;
    for (const char *p = h; p && *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t;,");
        const char *end = p + strcspn(p, ",");
        const char *qv = strstr(p, "q=");
        double quality = qv && qv < end ? strtod(qv + 2, NULL) : 1;
        for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++)
            if (n >= 2 && strncasecmp(p, langs[i][0], 2) == 0 && (n == 2 || p[2] == '-') &&
                quality > best_q) {
                best = langs[i][1];
                best_q = quality;
            }
        p = end;
    }
    return best;
}
