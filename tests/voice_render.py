#!/usr/bin/env python3
"""The voice in a rendered bill (issue 18 items 4, 5 and 7), heard and seen through FFmpeg:

- a template with a narration.json speaks each personal sentence in its window: speech energy
  in every personal window, the audio elsewhere sample for sample the template's own, as long
  as the video, no click at the window edges nor where the re-encoded audio starts and ends;
- the slow rendition (0.8) speaks in its stretched windows with the pitch kept;
- captions: a mov_text track in the MP4 and captions.vtt beside the HLS playlist, with the
  words of `vbill narration` at its times (divided by the speed for the slow one);
- a segment rendered on its own (the viewer's on-demand path) sounds as in the whole render;
- a template folder with clips/ speaks with the carrier's recorded clips (here made with
  espeak-ng, one per phrase), in `vbill render` and in `vbill batch` (which copies them into
  its store); a clip or a clips folder that is a symbolic link is refused;
- the built-in templates: the label and its panel only inside the slot window, the fixed
  sentences spoken in the base video (espeak-ng), the captions in the locale's language.

Exits 1 with one line per fault; prints 'N passed, N failed'."""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from array import array

BUILD = os.environ.get("VBILL_BUILDDIR", ".")
SRC = os.environ.get("VBILL_SRCDIR", ".")
VBILL = os.path.join(BUILD, "examples", "vbill")
RATE = 48000
passed, failures = 0, []


def check(what, cond, detail=""):
    global passed
    if cond:
        passed += 1
    else:
        failures.append("%s %s" % (what, detail))


def run(args, stdin=None, timeout=600):
    p = subprocess.run(args, input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def vbill(*args, stdin=None):
    rc, out, err = run([VBILL] + list(args), stdin=stdin)
    if rc != 0:
        raise RuntimeError("vbill %s: %s" % (" ".join(args), err.strip()))
    return out.decode()


def ffmpeg(*args):
    rc, out, err = run(["ffmpeg", "-v", "error", "-nostdin"] + list(args))
    if rc != 0:
        raise RuntimeError("ffmpeg %s: %s" % (" ".join(args), err.strip()))
    return out


def pcm(path, rate=RATE):
    """The audio of a video file, mono float."""
    a = array("f")
    a.frombytes(ffmpeg("-i", path, "-map", "0:a:0", "-ac", "1",
                       "-ar", str(rate), "-f", "f32le", "-"))
    return a


def durations(path):
    rc, out, err = run(["ffprobe", "-v", "error", "-show_entries",
                        "stream=codec_type,codec_name,duration,channels:stream_tags=language", "-of",
                        "json", path])
    return json.loads(out)["streams"]


def rms(x, a, b, rate=RATE):
    s, e = max(0, int(a * rate)), min(len(x), int(b * rate))
    return math.sqrt(sum(v * v for v in x[s:e]) / max(1, e - s))


def hf(x, c, half=0.0025, rate=RATE):
    """High-frequency energy around second c: RMS of the first difference over 5 ms."""
    s, e = max(1, int((c - half) * rate)), min(len(x), int((c + half) * rate))
    return math.sqrt(sum((x[i] - x[i - 1]) ** 2 for i in range(s, e)) / max(1, e - s))


def click_at(x, c):
    """A click at second c: a burst of high-frequency energy within 30 ms of c, against the
    blocks 0.1 to 0.5 s around it (which hold the bed and, inside a window, speech)."""
    near = max(hf(x, c + d / 1000.0) for d in range(-30, 31, 5))
    around = sorted(hf(x, c + d / 100.0) for d in list(range(-50, -9, 4)) + list(range(10, 51, 4)))
    median = around[len(around) // 2]
    return near > 3 * median + 1e-4, near, median


def f0(x, a, b, rate=8000):
    """The median pitch (Hz) of the voiced 30 ms frames of [a, b), by autocorrelation."""
    out = []
    n = int(0.03 * rate)
    for s in range(int(a * rate), int(b * rate) - n, n):
        fr = x[s:s + n]
        m = sum(fr) / n
        fr = [v - m for v in fr]
        e = sum(v * v for v in fr)
        if e < n * 1e-4:
            continue
        best, lag = 0, 0
        for L in range(rate // 400, rate // 70):
            c = sum(fr[i] * fr[i + L] for i in range(n - L)) / e
            if c > best:
                best, lag = c, L
        if best > 0.5 and lag:
            out.append(rate / lag)
    out.sort()
    return out[len(out) // 2] if out else 0


def by_scene(cues, scenes, sp):
    """The cues of each scene (a scene's sentences are cues of their own): per scene, its
    cues' first start, last end and words joined, and whether they tile its window."""
    out = []
    for sc in scenes:
        a, z = sc["start"] / sp, sc["end"] / sp
        mine = [c for c in cues if c[0] >= a - 0.002 and c[1] <= z + 0.002]
        tiled = all(abs(x[1] - y[0]) < 0.002 for x, y in zip(mine, mine[1:]))
        out.append((mine[0][0], mine[-1][1], " ".join(c[2] for c in mine), tiled)
                   if mine else None)
    return out


def vtt_cues(text):
    cues = []
    for block in text.strip().split("\n\n")[1:]:
        lines = [l for l in block.split("\n") if l]
        arrow = [i for i, l in enumerate(lines) if "-->" in l][0]
        a, z = (t.strip() for t in lines[arrow].split("-->"))

        def sec(t):
            h, m, s = ([0] + t.split(":"))[-3:]
            return int(h) * 3600 + int(m) * 60 + float(s)
        cues.append((sec(a), sec(z), " ".join(lines[arrow + 1:])))
    return cues


def small_template(tmp, name, narration, layout):
    """A carrier's template, small and quick to prepare: 24 s of 320x240 with a bed of a
    soft tone and pink noise (mono or stereo: the prepared audio keeps it), two slot windows."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=24", "-f", "lavfi",
           "-i", "sine=f=196:r=48000:d=24,volume=0.2", "-f", "lavfi", "-i",
           "anoisesrc=color=pink:amplitude=0.02:r=48000:d=24:seed=7", "-filter_complex",
           "[1][2]amix=inputs=2,aformat=channel_layouts=%s[a]" % layout, "-map", "0:v", "-map", "[a]",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
           os.path.join(d, "base.mp4"))
    box = [10, 180, 300, 40]
    with open(os.path.join(d, "template.json"), "w") as f:
        json.dump({"scenario": "mobile_new_bundle", "video": "base.mp4", "slots": [
            {"name": "this_month", "text": "{{{this_month_text}}}", "from": 4, "to": 10.5,
             "box": box, "size": 24, "color": "#FFFFFF"},
            {"name": "next_month", "text": "{{{next_month_text}}}", "from": 14, "to": 20.5,
             "box": box, "size": 24, "color": "#FFFFFF"}]}, f)
    if narration:
        with open(os.path.join(d, "narration.json"), "w", encoding="utf-8") as f:
            json.dump({"scenario": "mobile_new_bundle", "scenes": [
                {"scene": "intro", "start": 0.5, "end": 3.5, "personal": False,
                 "text": "안녕하세요, 고객님. 첫 요금을 안내해 드립니다."},
                {"scene": "this_month", "start": 4, "end": 10.5,
                 "text": "이번 달 청구 금액은 {{{this_month_spoken}}}입니다."},
                {"scene": "next_month", "start": 14, "end": 20.5,
                 "text": "다음 달 예상 금액은 {{{next_month_spoken}}}입니다."}]}, f,
                ensure_ascii=False)
    vbill("template", "prepare", d)
    return d


def spliced(tmp, record, layout):
    """The voice spliced into a template whose bed is mono or stereo."""
    def check(what, cond, detail=""):
        globals()["check"]("%s bed: %s" % (layout, what), cond, detail)
    tmp = os.path.join(tmp, layout)
    voiced = small_template(tmp, "voiced", True, layout)
    plain = small_template(tmp, "plain", False, layout)
    info = json.loads(vbill("template", "info", voiced))
    check("the template speaks with espeak-ng", info.get("voice") == "espeak-ng", info.get("voice"))
    check("a template without narration.json is silent", json.loads(
        vbill("template", "info", plain)).get("voice") is None)
    script = json.loads(vbill("narration", record, "--template", voiced))
    personal = [s for s in script["scenes"] if s["personal"]]
    check("two personal sentences", len(personal) == 2, script)

    for speed in ("1", "0.8"):
        sp = float(speed)
        out_v = os.path.join(tmp, "voiced-%s.mp4" % speed)
        out_p = os.path.join(tmp, "plain-%s.mp4" % speed)
        vbill("render", "--template", voiced, record, "-o", out_v, "--speed", speed)
        vbill("render", "--template", plain, record, "-o", out_p, "--speed", speed)
        streams = durations(out_v)
        kinds = {s["codec_type"]: s for s in streams}
        check("speed %s: the audio is %s as its bed" % (speed, layout),
              kinds["audio"].get("channels") == (1 if layout == "mono" else 2), kinds["audio"])
        dv, da = float(kinds["video"]["duration"]), float(kinds["audio"]["duration"])
        check("speed %s: audio as long as the video" % speed, abs(dv - da) <= 0.0215, (dv, da))
        check("speed %s: as long as the silent render" % speed,
              abs(dv - 24 / sp) < 0.05, dv)
        sub = kinds.get("subtitle", {})
        check("speed %s: a mov_text captions track in Korean" % speed,
              sub.get("codec_name") == "mov_text" and sub.get("tags", {}).get("language") == "kor",
              sub)
        cues = vtt_cues(ffmpeg("-i", out_v, "-map", "0:s:0", "-f", "webvtt", "-").decode())
        want = [(s["start"] / sp, s["end"] / sp, s["text"]) for s in script["scenes"]]
        got = by_scene(cues, script["scenes"], sp)
        check("speed %s: the captions say the script at its times" % speed,
              all(g and abs(g[0] - a) < 0.002 and abs(g[1] - b) < 0.002 and g[2] == t and g[3]
                  for g, (a, b, t) in zip(got, want)), (cues, want))
        check("speed %s: a cue per sentence" % speed, len(cues) == sum(
            len(re.findall(r"[.?!](?: |$)", s["text"])) or 1 for s in script["scenes"]),
            cues)
        v, p = pcm(out_v), pcm(out_p)
        check("speed %s: decoded lengths match" % speed, abs(len(v) - len(p)) <= 1024,
              (len(v), len(p)))
        n = min(len(v), len(p))
        windows = [(s["start"] / sp, s["end"] / sp) for s in personal]
        for (a, b) in windows:
            ev, ep = rms(v, a, b), rms(p, a, b)
            check("speed %s: speech in the window %.2f-%.2f s" % (speed, a, b), ev > 2 * ep,
                  (ev, ep))
            # the voice where the sentence is: its onset and end, and no click around them
            diff = [i for i in range(int(a * RATE), int(b * RATE)) if abs(v[i] - p[i]) > 0.02]
            check("speed %s: the sentence inside its window" % speed,
                  diff and diff[0] >= (a + 0.1) * RATE and diff[-1] <= (b - 0.05) * RATE,
                  (diff[:1], diff[-1:], a, b))
            edges = [a, b]
            if diff:
                edges += [diff[0] / RATE - 0.06, diff[-1] / RATE + 0.06]
            for c in edges:
                bad, near, med = click_at(v, c)
                check("speed %s: no click at %.3f s" % (speed, c), not bad, (near, med))
        # elsewhere the template's own audio (copied packets): the same samples, but where the
        # bed's noise-like bands are coded as noise (AAC's PNS: the decoder draws them from a
        # generator whose state the re-encoded frames move on) a different draw of the same
        # noise, far below hearing
        worst = 0.0
        for i in range(0, n, 7):
            t = i / RATE
            if any(a - 0.05 <= t <= b + 0.05 for a, b in windows):
                continue
            worst = max(worst, abs(v[i] - p[i]))
        check("speed %s: outside the windows the audio is the template's" % speed, worst < 2e-3,
              worst)
        if speed == "1":
            normal = (pcm(out_v, 8000), windows[0])
        else:
            slow = (pcm(out_v, 8000), windows[0])
    # the pitch kept at 0.8: the same voice, spoken slower
    fn = f0(normal[0], *normal[1])
    fs = f0(slow[0], *slow[1])
    check("the slow voice keeps its pitch", fn > 60 and 0.9 < fs / fn < 1.1, (fn, fs))

    # HLS: captions.vtt beside the playlist; a personal segment alone sounds as in the stream
    hls = os.path.join(tmp, "hls")
    vbill("render", "--template", voiced, record, "--hls", hls, "--speed", "1")
    with open(os.path.join(hls, "captions.vtt"), encoding="utf-8") as f:
        cues = vtt_cues(f.read())
    check("captions.vtt beside the playlist", [g and g[2] for g in by_scene(
        cues, script["scenes"], 1)] == [s["text"] for s in script["scenes"]], cues)
    streams = {s["codec_type"]: float(s["duration"]) for s in durations(os.path.join(hls, "index.m3u8"))
               if s.get("duration")}
    segs = json.loads(vbill("template", "info", voiced))["segments"]
    k = next(i for i, s in enumerate(segs) if s[2] and s[0] / 30.0 >= 4 - 1e-9)
    alone = os.path.join(tmp, "alone.ts")
    vbill("render", "--template", voiced, record, "--segment", str(k), "-o", alone,
          "--speed", "1")
    a1, a2 = pcm(alone), pcm(os.path.join(hls, "p%05d.ts" % k))
    check("a segment rendered alone sounds as in the whole render",
          len(a1) == len(a2) and max(abs(x - y) for x, y in zip(a1, a2)) < 1e-6,
          (len(a1), len(a2)))
    v = pcm(os.path.join(hls, "index.m3u8"))
    a, b = personal[0]["start"], personal[0]["end"]
    check("HLS: speech in the window", rms(v, a, b) > 2 * rms(v, b + 1, b + 3),
          (rms(v, a, b), rms(v, b + 1, b + 3)))


def clipped(tmp, record):
    """A carrier's recorded clips in the template folder: the template's voice everywhere."""
    tmp = os.path.join(tmp, "clips")
    d = small_template(tmp, "clipped", True, "mono")
    plain = small_template(tmp, "plain", False, "mono")
    script = json.loads(vbill("narration", record, "--template", d))
    personal = [sc for sc in script["scenes"] if sc["personal"]]
    out_e = os.path.join(tmp, "espeak.mp4")  # before the clips: espeak-ng's voice
    vbill("render", "--template", d, record, "-o", out_e, "--speed", "1")
    folder = os.path.join(d, "clips", "ko-KR")
    os.makedirs(folder)
    for sc in personal:  # one clip per phrase, as a voice actor would record a whole phrase;
        # another voice than the template's espeak-ng (pitch 85, not 50), to tell them apart
        for phrase in filter(None, (x.strip() for x in re.split(r"[,.!?]", sc["text"]))):
            rc, out, err = run(["espeak-ng", "-v", "ko", "-p", "85", "-w",
                                os.path.join(folder, phrase + ".wav"), phrase])
            check("espeak-ng made the clip '%s'" % phrase, rc == 0, err)
    info = json.loads(vbill("template", "info", d))
    check("a template with clips/ speaks with them", info.get("voice") == "clips", info)
    out_c, out_p = os.path.join(tmp, "clips.mp4"), os.path.join(tmp, "plain.mp4")
    vbill("render", "--template", d, record, "-o", out_c, "--speed", "1")
    vbill("render", "--template", plain, record, "-o", out_p, "--speed", "1")
    v, p = pcm(out_c), pcm(out_p)
    v8, e8 = pcm(out_c, 8000), pcm(out_e, 8000)
    for sc in personal:
        a, b = sc["start"], sc["end"]
        check("clips: speech in the window %.2f-%.2f s" % (a, b), rms(v, a, b) > 2 * rms(p, a, b),
              (rms(v, a, b), rms(p, a, b)))
        check("clips: the recorded voice, not espeak-ng's, at %.2f s" % a,
              f0(v8, a, b) > 1.2 * f0(e8, a, b) > 60, (f0(v8, a, b), f0(e8, a, b)))

    # vbill batch copies the clips into its store and its bills speak with them
    root = os.path.join(tmp, "templates")
    os.makedirs(root)
    shutil.copytree(d, os.path.join(root, "mobile_new_bundle"),
                    ignore=shutil.ignore_patterns(".vbill-prepared"))
    keys = os.path.join(tmp, "keys.json")
    with open(keys, "w") as f:
        f.write(vbill("keygen"))
    os.chmod(keys, 0o600)
    recs = os.path.join(tmp, "records.jsonl")
    with open(record, encoding="utf-8") as f, open(recs, "w", encoding="utf-8") as g:
        g.write(json.dumps(json.load(f), ensure_ascii=False) + "\n")
    store = os.path.join(tmp, "store")
    vbill("batch", recs, "--store", store, "--templates", root, "--key-file", keys,
          "--progress", "none", "--jobs", "1")
    copied = os.path.join(store, "templates", "mobile_new_bundle", "clips", "ko-KR")
    check("batch: the clips copied into the store",
          sorted(os.listdir(copied)) == sorted(os.listdir(folder)) if os.path.isdir(copied)
          else False, copied)
    playlists = [os.path.join(r, "index.m3u8") for r, _, fs in os.walk(os.path.join(store))
                 if "index.m3u8" in fs and "bill.json" in fs]
    check("batch: one bill", len(playlists) == 1, playlists)
    if playlists:
        h = pcm(playlists[0], 8000)
        a, b = personal[0]["start"], personal[0]["end"]
        check("batch: the bill speaks with the clips", f0(h, a, b) > 1.2 * f0(e8, a, b) > 60,
              (f0(h, a, b), f0(e8, a, b)))

    # a clip that is a symbolic link (to a WAV elsewhere on the machine) is refused, and so is
    # a clips folder that is one
    outside = os.path.join(tmp, "elsewhere.wav")
    shutil.copy(os.path.join(folder, sorted(os.listdir(folder))[0]), outside)
    link = os.path.join(folder, "링크.wav")
    os.symlink(outside, link)
    rc, out, err = run([VBILL, "template", "info", d])
    check("a clip that is a symbolic link is refused", rc != 0 and "symbolic link" in err and
          "링크.wav" in err, (rc, err))
    os.unlink(link)
    os.rename(os.path.join(d, "clips"), os.path.join(tmp, "clips-real"))
    os.symlink(os.path.join(tmp, "clips-real"), os.path.join(d, "clips"))
    rc, out, err = run([VBILL, "template", "info", d])
    check("a clips folder that is a symbolic link is refused", rc != 0 and "clips/" in err and
          "symbolic link" in err, (rc, err))
    root2 = os.path.join(tmp, "templates-linked")
    os.makedirs(root2)
    shutil.copytree(d, os.path.join(root2, "mobile_new_bundle"), symlinks=True,
                    ignore=shutil.ignore_patterns(".vbill-prepared"))
    store2 = os.path.join(tmp, "store-linked")
    rc, out, err = run([VBILL, "batch", recs, "--store", store2, "--templates", root2,
                        "--key-file", keys, "--progress", "none", "--jobs", "1"])
    check("batch: a template whose clips/ is a symbolic link is refused, not copied",
          rc != 0 and "symbolic links" in err and not os.path.exists(os.path.join(
              store2, "templates", "mobile_new_bundle", "clips")), (rc, err[-300:]))


def builtin(tmp, record):
    """The built-in Korean template: pictures and the fixed sentences (no prepare: slow)."""
    d = os.path.join(tmp, "builtin")
    vbill("template", "builtin", "mobile_new_bundle", d, "--locale", "ko-KR")
    base = os.path.join(d, "base.mp4")

    def frame(t):
        return ffmpeg("-ss", str(t), "-i", base, "-frames:v", "1", "-f", "rawvideo",
                      "-pix_fmt", "rgb24", "-")

    def label_pixels(img):
        """The label's yellow text (#FFD479) in the label's box (x 90-1090, y 360-416)."""
        n = 0
        for y in range(360, 416, 2):
            row = img[y * 1280 * 3:(y + 1) * 1280 * 3]
            for x in range(90, 1090, 2):
                r, g, b = row[3 * x], row[3 * x + 1], row[3 * x + 2]
                n += r > 200 and g > 160 and b < 170
        return n

    def panel_luma(img):
        y, x = 500, 1000  # inside the panel, right of any value text
        r, g, b = img[(y * 1280 + x) * 3:(y * 1280 + x) * 3 + 3]
        return 0.299 * r + 0.587 * g + 0.114 * b

    for scene in range(6):
        at = 10 + 16 * scene
        before, inside, after = frame(at + 2), frame(at + 6), frame(at + 13)
        check("scene %d: no label before its window" % scene, label_pixels(before) == 0,
              label_pixels(before))
        check("scene %d: no label after its window" % scene, label_pixels(after) == 0,
              label_pixels(after))
        check("scene %d: the label with the panel" % scene, label_pixels(inside) > 50,
              label_pixels(inside))
        check("scene %d: the panel only in the window" % scene,
              panel_luma(inside) + 15 < panel_luma(before), (panel_luma(inside),
                                                             panel_luma(before)))
    x = pcm(base)
    for scene in range(6):
        at = 10 + 16 * scene
        fixed, window, quiet = rms(x, at + 0.5, at + 4), rms(x, at + 4, at + 10.5), \
            rms(x, at + 11, at + 15.5)
        check("scene %d: the fixed sentence is spoken in the base" % scene, fixed > 2 * quiet,
              (fixed, quiet))
        check("scene %d: the window is left for the personal one" % scene, window < 1.5 * quiet,
              (window, quiet))
    with open(os.path.join(d, "template.json"), encoding="utf-8") as f:
        tj = json.load(f)
    check("the built-in template is Korean", tj.get("locale") == "ko-KR" and
          "일" in tj["slots"][0]["text"], tj.get("locale"))


def main():
    tmp = tempfile.mkdtemp(prefix="vbill-voice.")
    try:
        record = os.path.join(SRC, "tests", "vectors", "spec_example.json")
        for layout in ("stereo", "mono"):
            spliced(tmp, record, layout)
        clipped(tmp, record)
        builtin(tmp, record)
    except (RuntimeError, subprocess.TimeoutExpired, KeyError, ValueError) as e:
        failures.append("error: %s" % e)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures[:40]:
        print("FAIL:", f)
    print("voice_render: %d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
