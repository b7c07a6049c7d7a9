/*
 * headers.c: request headers vbill serve reads for itself (see headers.h): Accept-Encoding
 * and Accept-Language.
 */
#include "config.h"
#include "headers.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One item of a comma-separated header list with q-values ("gzip;q=0.5, *;q=0"): its token
 * (*n bytes at *tok) and quality; returns where the next item starts. */
static const char *list_item(const char *p, const char **tok, size_t *n, double *quality)
{
    p += strspn(p, " \t,");
    *tok = p;
    *n = strcspn(p, " \t;,");
    const char *end = p + strcspn(p, ",");
    const char *qv = strstr(p, "q=");
    *quality = qv && qv < end ? strtod(qv + 2, NULL) : 1;
    return end;
}

bool sv_accepts_gzip(const char *h)
{
    double gzip = -1, star = -1;
    for (const char *p = h; p && *p;) {
        const char *t;
        size_t n;
        double quality;
        p = list_item(p, &t, &n, &quality);
        if (n == 4 && strncasecmp(t, "gzip", 4) == 0)
            gzip = quality;
        else if (n == 1 && *t == '*')
            star = quality;
    }
    return gzip >= 0 ? gzip > 0 : star > 0;
}

const char *sv_page_locale(const char *h)
{
    static const char *const langs[][2] = {{"ko", "ko-KR"}, {"ja", "ja-JP"}, {"en", "en-US"}};
    const char *best = "ko-KR";
    double best_q = 0;
    for (const char *p = h; p && *p;) {
        const char *t;
        size_t n;
        double quality;
        p = list_item(p, &t, &n, &quality);
        for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++)
            if (n >= 2 && strncasecmp(t, langs[i][0], 2) == 0 && (n == 2 || t[2] == '-') &&
                quality > best_q) {
                best = langs[i][1];
                best_q = quality;
            }
    }
    return best;
}
