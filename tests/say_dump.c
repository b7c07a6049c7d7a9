/*
 * say_dump.c: the words of libvbill/voice/say.c for requests on standard input, one per
 * line, for tests/say_model.py (which reads them back with its own model):
 *   LOCALE number N | money CUR N | refund CUR N | date YYYY-MM-DD | date_year YYYY-MM-DD |
 *   period YYYY-MM-DD YYYY-MM-DD | days N | months N | dom N | count N | lines N
 * Each answer is one line of words; a malformed request answers "?".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "voice/say.h"

static bool parse_int(const char *s, int64_t *v)
{
    if (!s)
        return false;
    char *end;
    *v = strtoimax(s, &end, 10);
    return *s && !*end;
}

static bool answer(vb_buf *b, char *line)
{
    char *save = NULL;
    const char *locale = strtok_r(line, " \n", &save), *kind = strtok_r(NULL, " \n", &save);
    const char *a = strtok_r(NULL, " \n", &save), *c = strtok_r(NULL, " \n", &save);
    if (!locale || !kind || !a)
        return false;
    vb_lang l = vb_say_lang(locale);
    int64_t v;
    vb_date d1, d2;
    if (!strcmp(kind, "number") && parse_int(a, &v))
        vb_say_number(b, v, l);
    else if ((!strcmp(kind, "money") || !strcmp(kind, "refund")) && parse_int(c, &v))
        vb_say_money(b, v, a, l, kind[0] == 'r' ? VB_SAY_REFUND : 0);
    else if (!strcmp(kind, "date") && vb_date_parse(a, &d1))
        vb_say_date(b, d1, l, 0);
    else if (!strcmp(kind, "date_year") && vb_date_parse(a, &d1))
        vb_say_date(b, d1, l, VB_SAY_YEAR);
    else if (!strcmp(kind, "period") && c && vb_date_parse(a, &d1) && vb_date_parse(c, &d2))
        vb_say_period(b, d1, d2, l, 0);
    else if (!strcmp(kind, "days") && parse_int(a, &v))
        vb_say_days(b, v, l);
    else if (!strcmp(kind, "months") && parse_int(a, &v))
        vb_say_months(b, v, l);
    else if (!strcmp(kind, "dom") && parse_int(a, &v) && v >= 1 && v <= 31)
        vb_say_day_of_month(b, (int)v, l);
    else if (!strcmp(kind, "count") && parse_int(a, &v))
        vb_say_count(b, v, l);
    else if (!strcmp(kind, "lines") && parse_int(a, &v))
        vb_say_lines(b, v, l);
    else
        return false;
    return true;
}

int main(void)
{
    char line[512];
    vb_buf b = {0};
    while (fgets(line, sizeof line, stdin)) {
        b.len = 0;
        vb_buf_append(&b, "", 0);
        if (!answer(&b, line) || b.failed)
            puts("?");
        else
            puts(b.data);
    }
    vb_buf_free(&b);
    return ferror(stdout) ? 1 : 0;
}
