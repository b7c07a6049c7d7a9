/*
 * headers.h: request headers vbill serve reads for itself (headers.c), apart from the
 * daemon so that a fuzz harness reaches them (tests/fuzz/accept_encoding_fuzzer.c).
 */
#ifndef VBILL_SERVE_HEADERS_H
#define VBILL_SERVE_HEADERS_H

#include <stdbool.h>

/* Whether an Accept-Encoding value (NULL: the header is absent) takes gzip: named with a
 * quality above 0, or not named and "*" above 0 (RFC 9110 section 12.5.3). */
bool sv_accepts_gzip(const char *accept_encoding);

/* The page locale (ko-KR, ja-JP or en-US) an Accept-Language value (NULL: absent) prefers
 * most, by quality then order ("ja", "ja-JP", "en-GB" match by language); "ko-KR" when it
 * names none of them.  For the pages shown before a bill is known (an unknown or expired
 * link). */
const char *sv_page_locale(const char *accept_language);

#endif
