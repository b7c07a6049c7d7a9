#!/usr/bin/env python3
"""Reads libvbill's spoken numbers, amounts and dates back, with a reader of its own.

An independent model of the three languages' rules (standard library only): it parses the
words into numbers and refuses words a speaker would not say (Korean 일만 or 일백; Japanese
さんひゃく, せんまん for 10,000,000, いちセント, よんえん; English "and" inside a number or
"twenty one" without its hyphen).  Two checks:

 1. thousands of random numbers, amounts in each currency (negatives and refunds too),
    dates, periods and counts, spoken by tests/say_dump (libvbill/voice/say.c) and read
    back here: every value must come back exactly;
 2. `vbill narration` of the sample records in every locale and currency, and of random
    records (tests/fill_model.py's generator, huge amounts and 32 lines included): the
    amounts and dates read back from each personal sentence must be those of the
    independent pro-rating model of tests/fill_model.py, and no text may hold a digit.
"""
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys

BUILD = os.environ.get("VBILL_BUILDDIR", ".")
SRC = os.environ.get("VBILL_SRCDIR", ".")
VBILL = os.path.join(BUILD, "examples", "vbill")
DUMP = os.path.join(BUILD, "tests", "say_dump")
sys.path.insert(0, os.path.join(SRC, "tests"))
import fill_model  # noqa: E402  (the independent pro-rating model)


class Unreadable(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Unreadable(why)


# ---- Korean ------------------------------------------------------------------------------

KO_DIGIT = dict(zip("일이삼사오육칠팔구", range(1, 10)))
KO_SMALL = {"십": 10, "백": 100, "천": 1000}
KO_BIG = {"만": 10**4, "억": 10**8, "조": 10**12, "경": 10**16}
KO_NUM_CHARS = "영일이삼사오육칠팔구십백천만억조경"
KO_MONTHS = ["일월", "이월", "삼월", "사월", "오월", "유월", "칠월", "팔월", "구월", "시월", "십일월", "십이월"]


def ko_group(s):
    """A group below 10,000: no 일 before 십, 백, 천; places in decreasing order."""
    value, digit, last_place = 0, None, 10**5
    for ch in s:
        if ch in KO_DIGIT:
            need(digit is None, "two digits in a row in %r" % s)
            digit = KO_DIGIT[ch]
        elif ch in KO_SMALL:
            place = KO_SMALL[ch]
            need(place < last_place, "places out of order in %r" % s)
            need(digit != 1, "일 before %s in %r" % (ch, s))
            value += (digit or 1) * place
            digit, last_place = None, place
        else:
            raise Unreadable("not a Korean numeral: %r" % s)
    return value + (digit or 0)


def ko_number(text):
    """'육만 구백육십' -> 60960; spaces only between myriad groups."""
    neg = text.startswith("마이너스 ")
    if neg:
        text = text[len("마이너스 "):]
    if text == "영":
        return 0
    need(text and all(c in KO_NUM_CHARS[1:] + " " for c in text), "not a number: %r" % text)
    total, last_big = 0, 10**20
    for word in text.split(" "):
        need(word, "double space in %r" % text)
        big = KO_BIG.get(word[-1], 1)
        body = word[:-1] if big > 1 else word
        need(big < last_big, "myriad units out of order in %r" % text)
        last_big = big
        if big == 10**4 and body == "":
            g = 1  # 만, never 일만
        else:
            need(body != "", "a lone unit in %r" % text)
            g = ko_group(body)
            need(not (big == 10**4 and g == 1), "일만 in %r" % text)
        need(0 < g < 10000, "bad group in %r" % text)
        total += g * big
    return -total if neg else total


KO_NUM = "[%s]+(?: [%s]+)*" % (KO_NUM_CHARS, KO_NUM_CHARS)
KO_MONEY = re.compile(
    r"(?<![가-힣])(환급 |마이너스 )?(?:(%s) (원|엔|달러)(?: (%s) 센트)?|(%s) 센트)"
    % (KO_NUM, KO_NUM, KO_NUM))


def ko_moneys(text):
    """Every amount in a text: [(minor units, currency)]."""
    out = []
    for m in KO_MONEY.finditer(text):
        sign, major, unit, cents, cents_only = m.groups()
        if cents_only is not None:
            value, cur = ko_number(cents_only), "USD"
            need(0 < value < 100, "cents out of range")
        else:
            cur = {"원": "KRW", "엔": "JPY", "달러": "USD"}[unit]
            value = ko_number(major)
            if cur == "USD":
                c = ko_number(cents) if cents else 0
                need(cents is None or 0 < c < 100, "cents out of range")
                value = value * 100 + c
            else:
                need(cents is None, "센트 after %s" % unit)
        out.append((-value if sign else value, cur))
    return out


KO_DATE = re.compile(r"(?<![가-힣])(?:([%s]+)년 )?(%s) ([%s]+)일" % (
    KO_NUM_CHARS, "|".join(sorted(KO_MONTHS, key=len, reverse=True)), KO_NUM_CHARS))


def ko_dates(text):
    out = []
    for m in KO_DATE.finditer(text):
        y = ko_number(m.group(1)) if m.group(1) else None
        out.append((y, KO_MONTHS.index(m.group(2)) + 1, ko_number(m.group(3))))
    return out


def ko_days(text):
    m = re.fullmatch(r"하루|(%s) 일" % KO_NUM, text)
    need(m, "not a number of days: %r" % text)
    return 1 if text == "하루" else ko_number(m.group(1))


def ko_months(text):
    m = re.fullmatch(r"(%s) 개월" % KO_NUM, text)
    need(m, "not a number of months: %r" % text)
    return ko_number(m.group(1))


def ko_dom(text):
    m = re.fullmatch(r"(%s)일" % KO_NUM, text)
    need(m, "not a day of the month: %r" % text)
    return ko_number(m.group(1))


KO_NATIVE_ONES = ["", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉"]
KO_NATIVE_TENS = ["", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔"]


KO_NATIVE = {("스무" if t == 2 and o == 0 else KO_NATIVE_TENS[t]) + KO_NATIVE_ONES[o]: t * 10 + o
             for t in range(10) for o in range(10) if t or o}


def ko_count(text):
    return KO_NATIVE[text] if text in KO_NATIVE else ko_number(text)


def ko_lines(text):
    need(text.endswith(" 회선"), "not a number of lines: %r" % text)
    return ko_count(text[:-3])


# ---- Japanese ----------------------------------------------------------------------------

# Morphemes of kana numerals: (kana, kind, value).  Sound-changed forms carry the sounds
# that may follow them.
JA_MORPHS = [
    ("きゅう", "d", 9), ("いち", "d", 1), ("に", "d", 2), ("さん", "d", 3), ("よん", "d", 4),
    ("ご", "d", 5), ("ろく", "d", 6), ("なな", "d", 7), ("はち", "d", 8),
    ("いっ", "d1s", 1), ("はっ", "d8s", 8), ("ろっ", "d6s", 6),
    ("じゅう", "t", 10), ("じゅっ", "ts", 10),
    ("ひゃく", "h", 100), ("びゃく", "hb", 100), ("ぴゃく", "hp", 100),
    ("ひゃっ", "hs", 100), ("びゃっ", "hbs", 100), ("ぴゃっ", "hps", 100),
    ("せん", "k", 1000), ("ぜん", "kz", 1000),
    ("まん", "B", 10**4), ("おく", "B", 10**8), ("ちょう", "B", 10**12), ("けい", "B", 10**16),
]
JA_MORPHS.sort(key=lambda m: -len(m[0]))


H_KINDS = {"h": ("h", False), "hb": ("hb", False), "hp": ("hp", False),
           "hs": ("h", True), "hbs": ("hb", True), "hps": ("hp", True)}


def ja_tokens(s, pos):
    """The longest run of numeral morphemes from pos: [(kana, kind, value)], end."""
    toks = []
    while pos < len(s):
        for kana, kind, value in JA_MORPHS:
            if s.startswith(kana, pos):
                toks.append((kana, kind, value))
                pos += len(kana)
                break
        else:
            break
    return toks, pos


def ja_cuts(s, pos):
    """Every prefix of the numeral run at pos, longest first: (tokens, end).  A word after a
    number may begin like a numeral (にち after じゅういち), so callers try shorter runs."""
    toks, _ = ja_tokens(s, pos)
    out = []
    for k in range(len(toks), 0, -1):
        out.append((toks[:k], pos + sum(len(t[0]) for t in toks[:k])))
    return out


def ja_value(toks, follow):
    """The value of numeral morphemes, checking the sound changes; follow is the sound
    after the number: 'ts' (ちょう, セント), 'k' (けい, かげつ), 'y' (よえん...) or ''."""
    need(toks, "no number")
    total, group, digit, dkind, last_small, last_big = 0, 0, None, None, 10**5, 10**20
    for i, (kana, kind, value) in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        after = nxt[0] if nxt else follow
        if kind.startswith("d"):
            need(digit is None, "two digits in a row")
            if kind == "d1s":  # いっ: before せん (then a myriad unit), ちょう/けい, counters
                need(after in ("せん", "ちょう", "けい") or after in ("ts", "k"), "いっ before %s" % after)
                if after == "せん":
                    rest = toks[i + 2] if i + 2 < len(toks) else None
                    need(group == 0 and rest and rest[1] == "B", "いっせん not before a unit")
            if kind == "d8s":
                need(after in ("ぴゃく", "ぴゃっ", "せん", "ちょう", "けい", "ts", "k"), "はっ before %s" % after)
            if kind == "d6s":
                need(after in ("ぴゃく", "ぴゃっ", "けい", "k"), "ろっ before %s" % after)
            if kind == "d" and value == 1:
                need(after not in ("ちょう", "けい", "ts", "k"), "いち before %s" % after)
            if kind == "d" and value == 8:
                need(after not in ("ちょう", "けい", "ts", "k", "ひゃく", "せん"), "はち before %s" % after)
            if kind == "d" and value == 6:
                need(after not in ("けい", "k", "ひゃく", "ぴゃく"), "ろく before %s" % after)
            if kind == "d" and value == 3:
                need(after not in ("ひゃく", "せん"), "さん before %s" % after)
            digit, dkind = value, kind
            continue
        if kind == "B":
            g = group + (digit or 0)
            need(g > 0, "a lone %s" % kana)
            need(value < last_big, "units out of order")
            total += g * value
            group, digit, dkind, last_small, last_big = 0, None, None, 10**5, value
            continue
        # small places
        need(value < last_small, "places out of order")
        need(not (dkind == "d" and digit == 1), "いち before %s" % kana)
        if kind in H_KINDS:
            base, sokuon = H_KINDS[kind]
            need(base == {3: "hb", 6: "hp", 8: "hp"}.get(digit, "h"), "%s after %s" % (kana, digit))
            need(base != "hp" or dkind in ("d6s", "d8s"), "%s after %s" % (kana, dkind))
            need(sokuon == (after in ("けい", "k")), "%s before %s" % (kana, after))
        if kind in ("k", "kz"):
            need(kind == ("kz" if digit == 3 else "k"), "%s after %s" % (kana, digit))
            need(not (digit is None and group == 0 and nxt and nxt[1] == "B"),
                 "せん before %s: いっせん" % (nxt[0] if nxt else ""))
        if kind in ("t", "ts"):
            need((kind == "ts") == (after in ("ちょう", "けい", "ts", "k")), "%s before %s" % (kana, after))
        group += (digit or 1) * value
        digit, dkind, last_small = None, None, value
    return total + group + (digit or 0)


def ja_number_at(s, pos, follow=""):
    if s.startswith("ゼロ", pos):
        return 0, pos + 2
    neg = s.startswith("マイナス", pos)
    if neg:
        pos += 4
    toks, end = ja_tokens(s, pos)
    v = ja_value(toks, follow)
    return (-v if neg else v), end


def ja_number(s):
    v, end = ja_number_at(s, 0)
    need(end == len(s), "trailing kana in %r" % s)
    return v


def ja_moneys(text):
    """Every amount: numbers followed by えん/よえん, ドル [セント], セント, ウォン."""
    out, i, s = [], 0, text
    while i < len(s):
        try:
            out_i, amount = ja_money_at(s, i)
        except Unreadable:
            out_i = None
        if out_i is None:
            i += 1
            continue
        out.append(amount)
        i = out_i
    return out


def ja_money_at(s, i):
    refund = s.startswith("へんきん ", i)
    if refund:
        i += len("へんきん ")
    if not (s.startswith("ゼロ", i) or s.startswith("マイナス", i) or s.startswith("よえん", i)
            or ja_tokens(s, i)[0]):
        return None, None
    neg = refund
    if s.startswith("マイナス", i):
        neg, i = True, i + 4
    toks, end = ja_tokens(s, i)
    zero = s.startswith("ゼロ", i)
    if zero:
        toks, end = [], i + 2
    # 4円 is よえん: the number's last よん is said よ
    if not zero and s.startswith("よえん", end):
        v = (ja_value(toks, "y") if toks else 0) + 4
        need(not toks or toks[-1][1] != "d", "digit before よえん")
        return end + 3, (-v if neg else v, "JPY")
    for unit, cur in (("えん", "JPY"), ("ウォン", "KRW"), ("ドル", "USD"), ("セント", "USD")):
        if s.startswith(unit, end):
            follow = "ts" if unit == "セント" else ""
            v = 0 if zero else ja_value(toks, follow)
            if unit == "えん":
                need(zero or not (toks[-1][0] == "よん"), "よんえん")
            end += len(unit)
            if unit == "ドル":
                v *= 100
                if s.startswith(" ", end):
                    toks2, e2 = ja_tokens(s, end + 1)
                    if toks2 and s.startswith("セント", e2):
                        c = ja_value(toks2, "ts")
                        need(0 < c < 100, "cents out of range")
                        v, end = v + c, e2 + 3
            elif unit == "セント":
                need(0 < v < 100, "cents out of range")
            return end, (-v if neg else v, cur)
    return None, None


JA_MONTHS = ["いちがつ", "にがつ", "さんがつ", "しがつ", "ごがつ", "ろくがつ", "しちがつ", "はちがつ",
             "くがつ", "じゅうがつ", "じゅういちがつ", "じゅうにがつ"]
JA_DAY_NATIVE = {"ついたち": 1, "ふつか": 2, "みっか": 3, "よっか": 4, "いつか": 5, "むいか": 6,
                 "なのか": 7, "ようか": 8, "ここのか": 9, "とおか": 10, "はつか": 20}


def ja_day_at(s, i, one):
    """A day word at i ('one' is the word for 1): (value, end)."""
    for word, v in sorted(JA_DAY_NATIVE.items(), key=lambda kv: -len(kv[0])):
        if v == 1:
            continue
        if s.startswith(word, i):
            return v, i + len(word)
    if s.startswith(one, i):
        return 1, i + len(one)
    for toks, end in ja_cuts(s, i):
        # じゅうよっか, にじゅうよっか: tens then よっか; しち and く stand for 7 and 9
        if s.startswith("よっか", end):
            v = ja_value(toks, "")
            need(v % 10 == 0 and v >= 10, "よっか after %d" % v)
            return v + 4, end + 3
        for word, d in (("しちにち", 7), ("くにち", 9)):
            if s.startswith(word, end):
                v = ja_value(toks, "")
                need(v % 10 == 0, "%s after %d" % (word, v))
                return v + d, end + len(word)
        if s.startswith("にち", end):
            v = ja_value(toks, "")
            need(v % 10 not in (4, 7, 9) and v not in (2, 3, 5, 6, 8, 10, 20) and v != 1,
                 "にち after %d" % v)
            return v, end + 2
    raise Unreadable("not a day at %r" % s[i:i + 12])


def ja_year_at(s, i):
    for toks, end in ja_cuts(s, i):
        if s.startswith("よねん", end):
            v = ja_value(toks, "")
            need(v % 10 == 0, "よねん after %d" % v)
            return v + 4, end + 3
        if s.startswith("しちねん", end):
            v = ja_value(toks, "")
            need(v % 10 == 0, "しちねん after %d" % v)
            return v + 7, end + 4
        if s.startswith("ねん", end):
            v = ja_value(toks, "")
            need(v % 10 not in (4, 7), "year ending in %d" % (v % 10))
            return v, end + 2
    raise Unreadable("not a year")


def ja_dates(text):
    out, i = [], 0
    months = sorted(enumerate(JA_MONTHS), key=lambda m: -len(m[1]))
    while i < len(text):
        year = None
        j = i
        try:
            y, e = ja_year_at(text, i)
            if text.startswith(" ", e):
                year, j = y, e + 1
        except Unreadable:
            pass
        for k, name in months:
            if text.startswith(name, j) and (year is not None or j == 0 or not is_kana(text[j - 1])):
                d, end = ja_day_at(text, j + len(name), "ついたち")
                out.append((year, k + 1, d))
                i = end
                break
        else:
            i += 1
    return out


def is_kana(c):
    return "\u3040" <= c <= "\u30ff"


def ja_days(text):
    need(text.endswith("かん"), "not a number of days: %r" % text)
    v, end = ja_day_at(text, 0, "いちにち")
    need(end == len(text) - 2, "trailing kana in %r" % text)
    return v


def ja_months(text):
    need(text.endswith("かげつ"), "not a number of months: %r" % text)
    if text == "ゼロかげつ":
        return 0
    toks, end = ja_tokens(text, 0)
    need(end == len(text) - 3, "trailing kana in %r" % text)
    return ja_value(toks, "k")


def ja_dom(text):
    v, end = ja_day_at(text, 0, "ついたち")
    need(end == len(text), "trailing kana in %r" % text)
    return v


JA_TSU = ["ひとつ", "ふたつ", "みっつ", "よっつ", "いつつ", "むっつ", "ななつ", "やっつ", "ここのつ", "とお"]


def ja_count(text):
    return JA_TSU.index(text) + 1 if text in JA_TSU else ja_number(text)


def ja_lines(text):
    need(text.endswith("かいせん"), "not a number of lines: %r" % text)
    toks, end = ja_tokens(text, 0)
    need(end == len(text) - 4, "trailing kana in %r" % text)
    return ja_value(toks, "k")


# ---- English -----------------------------------------------------------------------------

EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
           "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
           "eighteen", "nineteen"]
EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
EN_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
             "quadrillion": 10**15, "quintillion": 10**18}
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]
EN_ORD = {"first": 1, "second": 2, "third": 3, "fifth": 5, "eighth": 8, "ninth": 9, "twelfth": 12}


def en_under100(w):
    if w in EN_ONES:
        return EN_ONES.index(w)
    if w in EN_TENS:
        return EN_TENS.index(w) * 10
    t, _, o = w.partition("-")
    need(t in EN_TENS[2:] and o in EN_ONES[1:10], "not a number word: %r" % w)
    return EN_TENS.index(t) * 10 + EN_ONES.index(o)


def en_is_number_word(w):
    try:
        en_under100(w)
        return True
    except Unreadable:
        return w in ("hundred", "minus") or w in EN_SCALES


def en_number_words(words):
    """['sixty', 'thousand', 'nine', 'hundred', 'sixty'] -> 60960."""
    need(words, "no number")
    if words == ["zero"]:
        return 0
    neg = words[0] == "minus"
    if neg:
        words = words[1:]
    total, group, last_scale, i = 0, 0, 10**21, 0
    while i < len(words):
        w = words[i]
        if w in EN_SCALES:
            need(0 < group < 1000 and EN_SCALES[w] < last_scale, "bad scale %r" % w)
            total += group * EN_SCALES[w]
            group, last_scale = 0, EN_SCALES[w]
        elif w == "hundred":
            raise Unreadable("hundred without a digit")
        else:
            v = en_under100(w)
            need(v != 0, "zero inside a number")
            if i + 1 < len(words) and words[i + 1] == "hundred":
                need(1 <= v <= 9 and group == 0, "bad hundred")
                group = v * 100
                i += 1
            else:
                need(group % 100 == 0 and group < 1000, "two tens/ones in a row")
                group += v
        i += 1
    total += group
    need(total > 0, "empty number")
    return -total if neg else total


def en_words(text):
    return re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)?", text)


def en_number(text):
    return en_number_words(text.split(" "))


def en_moneys(text):
    ws, out, i = en_words(text), [], 0
    while i < len(ws):
        j = i
        sign = 1
        if ws[i:i + 3] == ["a", "refund", "of"]:
            sign, j = -1, i + 3
        elif ws[i] == "minus":
            sign, j = -1, i + 1
        k = j
        while k < len(ws) and en_is_number_word(ws[k]) and ws[k] != "minus":
            k += 1
        if k == j or k >= len(ws) or ws[k] not in ("dollar", "dollars", "cent", "cents", "won", "yen"):
            i += 1
            continue
        v = en_number_words(ws[j:k]) if ws[j:k] != ["zero"] else 0
        unit = ws[k]
        k += 1
        if unit in ("won", "yen"):
            out.append((sign * v, "KRW" if unit == "won" else "JPY"))
        elif unit.startswith("cent"):
            need(0 < v < 100 and (unit == "cent") == (v == 1), "bad cents")
            out.append((sign * v, "USD"))
        else:
            need((unit == "dollar") == (v == 1), "dollar/dollars")
            cents = 0
            if k < len(ws) and ws[k] == "and":
                m = k + 1
                while m < len(ws) and en_is_number_word(ws[m]):
                    m += 1
                need(m < len(ws) and ws[m] in ("cent", "cents"), "and without cents")
                cents = en_number_words(ws[k + 1:m])
                need(0 < cents < 100 and (ws[m] == "cent") == (cents == 1), "bad cents")
                k = m + 1
            need(v > 0 or cents == 0, "zero dollars and cents")
            out.append((sign * (v * 100 + cents), "USD"))
        i = k
    return out


def en_ordinal(w):
    """'twenty-first' -> 21."""
    head, _, last = w.rpartition("-")
    if last in EN_ORD:
        v = EN_ORD[last]
    elif last.endswith("ieth") and last[:-4] + "y" in EN_TENS:
        v = EN_TENS.index(last[:-4] + "y") * 10
    elif last.endswith("th") and last[:-2] in EN_ONES[4:] and last[:-2] not in (
            "five", "eight", "nine", "twelve"):
        v = EN_ONES.index(last[:-2])
    else:
        raise Unreadable("not an ordinal: %r" % w)
    if head:
        need(head in EN_TENS[2:] and 0 < v < 10, "bad ordinal %r" % w)
        v += EN_TENS.index(head) * 10
    return v


def en_year(ws):
    """The year words at the start of ws: (year, words used).  Pairs ("twenty twenty-six"),
    "nineteen oh five", "nineteen hundred", "two thousand [five]"."""
    need(len(ws) >= 2, "not a year")
    if ws[1] == "thousand":
        need(ws[0] in EN_ONES[1:10], "not a year")
        base = EN_ONES.index(ws[0]) * 1000
        if len(ws) > 2:
            try:
                v = en_under100(ws[2])
                need(0 < v < 10, "a year after two thousand nine is said in pairs")
                return base + v, 3
            except Unreadable:
                pass
        return base, 2
    hi = en_under100(ws[0])
    need(10 <= hi <= 99, "not a year")
    if ws[1] == "hundred":
        return hi * 100, 2
    if ws[1] == "oh":
        need(len(ws) > 2 and ws[2] in EN_ONES[1:10], "not a year")
        return hi * 100 + EN_ONES.index(ws[2]), 3
    lo = en_under100(ws[1])
    need(10 <= lo, "not a year")
    need(hi % 10 != 0 or lo >= 10, "not a year")
    return hi * 100 + lo, 2


def en_dates(text):
    spans = [(m.group(), m.end()) for m in re.finditer(r"[A-Za-z]+(?:-[A-Za-z]+)?", text)]
    ws = [w for w, _ in spans]
    out, i = [], 0
    while i < len(ws):
        if ws[i] in EN_MONTHS and i + 1 < len(ws):
            d = en_ordinal(ws[i + 1])
            y, j = None, i + 2
            # "November fourteenth, twenty twenty-six": the year after a comma
            if text.startswith(", ", spans[i + 1][1]) and j < len(ws):
                y, used = en_year(ws[j:j + 3])
                j += used
            out.append((y, EN_MONTHS.index(ws[i]) + 1, d))
            i = j
        else:
            i += 1
    return out


def en_days(text):
    ws = text.split(" ")
    need(ws[-1] == ("day" if ws[:-1] == ["one"] else "days"), "day/days in %r" % text)
    return en_number_words(ws[:-1])


def en_months(text):
    ws = text.split(" ")
    need(ws[-1] == ("month" if ws[:-1] == ["one"] else "months"), "month/months in %r" % text)
    return en_number_words(ws[:-1])


def en_lines(text):
    ws = text.split(" ")
    need(ws[-1] == ("line" if ws[:-1] == ["one"] else "lines"), "line/lines in %r" % text)
    return en_number_words(ws[:-1])


def en_dom(text):
    need(text.startswith("the "), "no 'the' in %r" % text)
    return en_ordinal(text[4:])


# ---- the readers by locale ----------------------------------------------------------------

def read_number(loc, t):
    return {"ko-KR": ko_number, "ja-JP": ja_number, "en-US": en_number}[loc](t)


def read_moneys(loc, t):
    return {"ko-KR": ko_moneys, "ja-JP": ja_moneys, "en-US": en_moneys}[loc](t)


def read_dates(loc, t):
    return {"ko-KR": ko_dates, "ja-JP": ja_dates, "en-US": en_dates}[loc](t)


def read_period(loc, t):
    pat = {"ko-KR": r"(.+)부터 (.+)까지", "ja-JP": r"(.+)から (.+)まで", "en-US": r"from (.+) to (.+)"}[loc]
    m = re.fullmatch(pat, t)
    need(m, "not a period: %r" % t)
    a, b = read_dates(loc, m.group(1)), read_dates(loc, m.group(2))
    need(len(a) == 1 and len(b) == 1, "not two dates in %r" % t)
    return a[0], b[0]


READERS = {
    "days": {"ko-KR": ko_days, "ja-JP": ja_days, "en-US": en_days},
    "months": {"ko-KR": ko_months, "ja-JP": ja_months, "en-US": en_months},
    "dom": {"ko-KR": ko_dom, "ja-JP": ja_dom, "en-US": en_dom},
    "count": {"ko-KR": ko_count, "ja-JP": ja_count, "en-US": en_number},
    "lines": {"ko-KR": ko_lines, "ja-JP": ja_lines, "en-US": en_lines},
}

# ---- 1. random values through say_dump -----------------------------------------------------

EDGES = [0, 1, 4, 7, 8, 9, 10, 11, 14, 20, 99, 100, 101, 300, 600, 800, 1000, 1001, 3000, 8000,
         10000, 10001, 100000, 1000000, 1000001, 10000000, 11000000, 100000000, 100010000,
         10**11, 999999999999, 10**12, 32 * 999999999999, 10**16, 6 * 10**16, 10**18,
         2**63 - 1, -1, -4, -10000, -(2**63)]


def rand_amount():
    r = random.random()
    if r < 0.15:
        return random.choice(EDGES)
    if r < 0.5:
        return random.randint(0, 10**random.randint(1, 6))
    if r < 0.9:
        return random.randint(0, 10**12 - 1)
    return random.randint(-(2**63), 2**63 - 1)


def rand_date():
    d = dt.date(1900, 1, 1) + dt.timedelta(days=random.randint(0, 365 * 200))
    return d


def check_random(n):
    locales = ["ko-KR", "ja-JP", "en-US"]
    reqs = []  # (request line, kind, expected)
    for loc in locales:
        for _ in range(n):
            v = rand_amount()
            reqs.append(("%s number %d" % (loc, v), loc, "number", v))
            for cur in ("KRW", "JPY", "USD"):
                a = rand_amount()
                reqs.append(("%s money %s %d" % (loc, cur, a), loc, "money", (a, cur)))
            a = -random.randint(1, 10**9)
            cur = random.choice(["KRW", "JPY", "USD"])
            reqs.append(("%s refund %s %d" % (loc, cur, a), loc, "money", (a, cur)))
            d = rand_date()
            reqs.append(("%s date %s" % (loc, d), loc, "date", (None, d.month, d.day)))
            reqs.append(("%s date_year %s" % (loc, d), loc, "date", (d.year, d.month, d.day)))
            e = d + dt.timedelta(days=random.randint(0, 40))
            reqs.append(("%s period %s %s" % (loc, d, e), loc, "period",
                         ((None, d.month, d.day), (None, e.month, e.day))))
            k = random.choice([random.randint(1, 31), random.randint(1, 1000)])
            reqs.append(("%s days %d" % (loc, k), loc, "days", k))
            k = random.choice([random.randint(0, 60), random.randint(1, 10**6)])
            reqs.append(("%s months %d" % (loc, k), loc, "months", k))
            k = random.randint(1, 31)
            reqs.append(("%s dom %d" % (loc, k), loc, "dom", k))
            k = random.randint(1, 150)
            reqs.append(("%s count %d" % (loc, k), loc, "count", k))
            k = random.choice([random.randint(1, 32), random.randint(1, 10**5)])
            reqs.append(("%s lines %d" % (loc, k), loc, "lines", k))
    p = subprocess.run([DUMP], input="\n".join(r[0] for r in reqs).encode() + b"\n",
                       capture_output=True, timeout=300)
    if p.returncode != 0:
        return ["say_dump failed: %s" % p.stderr.decode()]
    answers = p.stdout.decode().split("\n")
    bad = []
    for (req, loc, kind, want), got in zip(reqs, answers):
        try:
            if kind == "number":
                back = read_number(loc, got)
            elif kind == "money":
                ms = read_moneys(loc, got)
                need(len(ms) == 1, "%d amounts" % len(ms))
                back = ms[0]
                need(not (req.split()[1] == "refund") or re.search("환급|へんきん|refund", got), "no refund word")
            elif kind == "date":
                ds = read_dates(loc, got)
                need(len(ds) == 1, "%d dates" % len(ds))
                back = ds[0]
            elif kind == "period":
                back = read_period(loc, got)
            else:
                back = READERS[kind][loc](got)
        except (Unreadable, ValueError, IndexError) as e:
            back = "unreadable (%s)" % e
        if back != want:
            bad.append("%s -> %r read back as %r" % (req, got, back))
    print("random values: %d spoken and read back, %d wrong" % (len(reqs), len(bad)))
    return bad


# ---- 2. narration scripts against the independent pro-rating model --------------------------

def narration(rec):
    p = subprocess.run([VBILL, "narration", "-"], input=json.dumps(rec, ensure_ascii=False).encode(),
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def check_script(rec, script):
    """The problems of one script: amounts and dates read back against the model."""
    loc, cur = rec.get("locale", "ko-KR"), rec.get("currency", "KRW")
    m = fill_model.model(rec)
    am = m["amounts"]
    bad = []
    if script["locale"] != loc or script["scenario"] != m["scenario"]:
        bad.append("locale/scenario %s/%s" % (script["locale"], script["scenario"]))
    seen = set()
    for s in script["scenes"]:
        t = s["text"]
        if re.search(r"[0-9]", t):
            bad.append("a digit in %r" % t)
        if not s["personal"]:
            continue
        seen.add(s["scene"])
        moneys = [a for a, c in read_moneys(loc, t)]
        curs = {c for a, c in read_moneys(loc, t)}
        if curs - {cur}:
            bad.append("currency %s in %r" % (curs, t))
        sc = s["scene"]
        want = None
        if sc == "this_month":
            want = [am["this_month"]]
        elif sc == "next_month":
            want = [am["next_month"]]
        elif sc == "bundle":
            want = [am["bundle_prorated"]]
        elif sc == "plan":
            n = len(am["lines"])
            if n <= (1 if loc == "en-US" else 2):
                want = [l["prorated"] for l in am["lines"]]
            else:  # many lines: their number, and the screen
                want = []
                pat = {"ko-KR": r"(\S+ 회선)의", "ja-JP": r"([ぁ-ゖ]+かいせん)の", "en-US": r"your (.+ lines?) on"}[loc]
                m2 = re.search(pat, t)
                if not m2 or READERS["lines"][loc](m2.group(1)) != n:
                    bad.append("plan: the number of lines (%d) in %r" % (n, t))
        elif sc == "device":
            devs = [l["device"] for l in rec["lines"] if "device" in l]
            want = [d["installment_monthly"] for d in devs]
            got_months = [READERS["months"][loc](x) for x in months_phrases(loc, t)]
            if got_months != [d["months_left"] for d in devs]:
                bad.append("device months %r in %r" % (got_months, t))
        elif sc == "period":
            ps, pe = dt.date.fromisoformat(m["period"]["start"]), dt.date.fromisoformat(m["period"]["end"])
            ds = read_dates(loc, t)
            if ds != [(None, ps.month, ps.day), (None, pe.month, pe.day)]:
                bad.append("period %r in %r" % (ds, t))
            days = days_phrase(loc, t)
            if days != (pe - ps).days + 1:
                bad.append("period days %r in %r" % (days, t))
            want = []
        elif sc == "payment":
            day = rec.get("payment", {}).get("day")
            got = payment_day(loc, t)
            if got != day:
                bad.append("payment day %r in %r" % (got, t))
            want = []
        elif sc == "benefits":
            n = len(rec.get("benefits", []))
            pat = {"ko-KR": r"혜택 (\S+) 가지", "ja-JP": r"とくてんは (\S+)です", "en-US": r"You get (.+) benefits?,"}[loc]
            m2 = re.search(pat, t)
            got = READERS["count"][loc](m2.group(1)) if m2 else 0
            if got != n:
                bad.append("benefits %r, the record has %d: %r" % (got, n, t))
            want = []
        if want is not None and moneys != want:
            bad.append("%s: amounts %r, the model says %r: %r" % (sc, moneys, want, t))
    if m["scenario"] and not {"period", "this_month", "next_month", "payment"} <= seen:
        bad.append("personal scenes missing: %r" % seen)
    return bad


def months_phrases(loc, t):
    pat = {"ko-KR": r"((?:%s) 개월) 남았습니다" % KO_NUM, "ja-JP": r"のこりは ([ぁ-ゖァ-ヺ]+かげつ)",
           "en-US": r"for ([a-z -]+? months?)\."}[loc]
    return re.findall(pat, t)


def days_phrase(loc, t):
    if loc == "ko-KR":
        m = re.search(r", (하루|(?:%s) 일)입니다" % KO_NUM, t)
    elif loc == "ja-JP":
        m = re.search(r"、([ぁ-ゖ]+かん)です", t)
    else:
        m = re.search(r": ([a-z -]+ days?)\.", t)
    return READERS["days"][loc](m.group(1)) if m else None


def payment_day(loc, t):
    if loc == "ko-KR":
        m = re.search(r"매월 ((?:%s)일)" % KO_NUM, t)
    elif loc == "ja-JP":
        m = re.search(r"まいつき ([ぁ-ゖ]+)です", t)
    else:
        m = re.search(r"on (the [a-z-]+) of each month", t)
    return READERS["dom"][loc](m.group(1)) if m else None


def sample_records():
    """The sample records that vbill classify accepts, each with its scenario (None when it
    has none)."""
    path = os.path.join(SRC, "examples", "data", "subscribers.jsonl")
    p = subprocess.run([VBILL, "classify", path], capture_output=True, timeout=60)
    scen = {c["id"]: c["scenario"] for c in map(json.loads, p.stdout.decode().splitlines())}
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("id") in scen:
                yield rec, scen[rec["id"]]


def check_narrations(n_random):
    bad, count = [], 0
    samples = [rec for rec, scenario in sample_records() if scenario]
    variants = [("ko-KR", "KRW"), ("ja-JP", "JPY"), ("en-US", "USD"), ("en-US", "KRW"), ("ko-KR", "USD"),
                ("ja-JP", "USD")]
    recs = []
    for rec in samples:
        for loc, cur in variants:
            r = json.loads(json.dumps(rec))
            r["locale"], r["currency"] = loc, cur
            recs.append(r)
    random.seed(int(os.environ.get("VBILL_SEED", "1")))
    while n_random > 0:
        r = fill_model.rand_record(len(recs))
        if fill_model.scenario(r):
            recs.append(r)
            n_random -= 1
    for rec in recs:
        rc, out, err = narration(rec)
        if rc != 0:
            bad.append("%s: exit %d: %s" % (rec["id"], rc, err.strip()))
            continue
        count += 1
        try:
            problems = check_script(rec, json.loads(out))
        except Unreadable as e:
            problems = ["unreadable: %s" % e]
        bad += ["%s (%s %s): %s" % (rec["id"], rec.get("locale"), rec.get("currency"), p) for p in problems]
    print("narration scripts: %d read back against the pro-rating model, %d problems" % (count, len(bad)))
    return bad


def main():
    random.seed(int(os.environ.get("VBILL_SEED", "1")))
    n = int(os.environ.get("VBILL_SAY_CASES", "1000"))
    bad = check_random(n) + check_narrations(int(os.environ.get("VBILL_NARRATION_RECORDS", "150")))
    for b in bad[:40]:
        print("FAIL:", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
