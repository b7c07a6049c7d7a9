/*
 * builtin.c: the built-in templates.  No media is shipped: each scenario's base video is
 * generated here (120 s, 1280x720, 30 fps): per scene a background gradient, a title and a
 * Korean caption drawn with our own rasteriser (text.c), converted to YUV once per scene;
 * per frame only a drifting glow and a progress bar are drawn, so generating is cheap.  The
 * audio bed is a soft chord from libavfilter sources (sine, amix, tremolo, lowpass).  Video is
 * encoded with libx264 (ultrafast: prepare re-encodes it anyway) and AAC into MP4.
 *
 * Each of the six slot scenes shows, during its slot window only, an empty panel: the slot's
 * box, where the renderer draws the customer's text, and the picture holds still meanwhile.
 * The rest of the scene explains it.
 */
#include "internal.h"
#include "video/text.h"
#include "voice/narration.h"
#include "voice/voice.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#define BW 1280
#define BH 720
#define FPS 30
#define INTRO_S 10
#define SCENE_S 16
#define NSLOTS 6
#define OUTRO_S (120 - INTRO_S - NSLOTS * SCENE_S)
#define TOTAL_S 120
/* The slot window within its scene, in frames: 4 to 10.5 s, room for the longest personal
 * sentence measured (bench/voice_bench: 5.8 s at espeak-ng's rate) inside its margins. */
#define WIN_FROM (4 * FPS)
#define WIN_TO (21 * FPS / 2)

/* The slot's box (and the panel drawn in the base during its window). */
static const int panel[4] = {100, 420, 1080, 112};

/* The built-in locales, in the order of every table below. */
#define NLOC 3
static const char *const LOCALES[NLOC] = {"ko-KR", "ja-JP", "en-US"};

typedef struct scene_def {
    const char *slot;            /* slot name */
    const char *title[NLOC];
    const char *caption[NLOC];   /* burnt into the base */
    const char *label[NLOC];     /* above the panel, shown with it */
    const char *text[NLOC];      /* the slot's Mustache text over the fill context */
} scene_def;

static const scene_def SC_PERIOD = {
    "period",
    {"이용 기간", "ご利用期間", "Your service period"},
    {"이번 달 요금은 가입일부터 월말까지 일할 계산됩니다",
     "今月の料金は、ご契約日から月末まで日割りで計算します",
     "This month is charged by the day, from the day you joined to the end of the month"},
    {"이번 달에 이용하신 기간", "今月ご利用の期間", "Days of service this month"},
    {"{{{period_text}}} ({{period_days}}일)", "{{{period_text}}}（{{period_days}}日間）",
     "{{{period_text}}} ({{period_days}} days)"}};
static const scene_def SC_THIS = {
    "this_month",
    {"이번 달 요금", "今月のご請求", "This month's bill"},
    {"이용하신 날짜만큼만 계산한 금액이 청구됩니다", "ご利用の日数分だけをご請求します",
     "You pay only for the days you used"},
    {"이번 달 청구 금액", "今月のご請求額", "This month's amount"},
    {"{{{this_month_text}}}", "{{{this_month_text}}}", "{{{this_month_text}}}"}};
static const scene_def SC_PLAN = {
    "plan",
    {"요금제와 일할 요금", "プランと日割り料金", "Plans and prorated charges"},
    {"요금제마다 가입일부터 계산한 금액입니다", "プランごとにご契約日から計算した金額です",
     "Each plan is charged from the day it started"},
    {"가입하신 요금제", "ご契約のプラン", "Your plans"},
    {"{{#lines}}{{{product}}} {{{prorated_text}}}{{^last}} · {{/last}}{{/lines}}",
     "{{#lines}}{{{product}}} {{{prorated_text}}}{{^last}} · {{/last}}{{/lines}}",
     "{{#lines}}{{{product}}} {{{prorated_text}}}{{^last}} · {{/last}}{{/lines}}"}};
static const scene_def SC_DEVICE = {
    "device",
    {"기기 할부금", "端末の分割払い", "Phone installments"},
    {"새 기기의 할부금은 다음 달 요금부터 함께 청구됩니다",
     "新しい端末の分割払いは、来月のご請求から始まります",
     "Installments for your new phone start with next month's bill"},
    {"기기 할부", "分割払い", "Installments"},
    {"{{#lines}}{{#device}}{{{model}}} 월 {{{installment_text}}} ({{months_left}}개월) "
     "{{/device}}{{/lines}}",
     "{{#lines}}{{#device}}{{{model}}} 月々{{{installment_text}}}（残り{{months_left}}回） "
     "{{/device}}{{/lines}}",
     "{{#lines}}{{#device}}{{{model}}} {{{installment_text}}}/month ({{months_left}} months) "
     "{{/device}}{{/lines}}"}};
static const scene_def SC_BUNDLE = {
    "bundle",
    {"결합 할인", "セット割引", "Bundle discount"},
    {"결합 할인도 결합하신 날부터 일할로 적용됩니다", "セット割引も、セットにした日から日割りで適用します",
     "Your bundle discount is prorated from the day you bundled"},
    {"이번 달 결합 할인", "今月のセット割引", "This month's bundle discount"},
    {"{{#bundle}}{{{name}}} -{{{prorated_text}}}{{/bundle}}",
     "{{#bundle}}{{{name}}} -{{{prorated_text}}}{{/bundle}}",
     "{{#bundle}}{{{name}}} -{{{prorated_text}}}{{/bundle}}"}};
static const scene_def SC_BENEFITS = {
    "benefits",
    {"요금제 혜택", "プランの特典", "Plan benefits"},
    {"가입하신 요금제로 받으시는 혜택입니다", "ご契約のプランでお受けいただける特典です",
     "What comes with your plan"},
    {"받으시는 혜택", "ご利用いただける特典", "Your benefits"},
    {"{{#has_benefits}}{{{benefits_text}}}{{/has_benefits}}"
     "{{^has_benefits}}기본 혜택이 함께 제공됩니다{{/has_benefits}}",
     "{{#has_benefits}}{{{benefits_text}}}{{/has_benefits}}"
     "{{^has_benefits}}基本の特典が付いています{{/has_benefits}}",
     "{{#has_benefits}}{{{benefits_text}}}{{/has_benefits}}"
     "{{^has_benefits}}Standard benefits are included{{/has_benefits}}"}};
static const scene_def SC_NEXT = {
    "next_month",
    {"다음 달 요금", "来月のご請求", "Next month"},
    {"다음 달부터는 한 달 전체 요금이 청구됩니다", "来月からは、ひと月分の料金をご請求します",
     "From next month you pay for the whole month"},
    {"다음 달 예상 청구 금액", "来月のご請求予定額", "Next month's expected bill"},
    {"{{{next_month_text}}}", "{{{next_month_text}}}", "{{{next_month_text}}}"}};
static const scene_def SC_PAY = {
    "payment",
    {"납부 방법", "お支払い方法", "How you pay"},
    {"등록하신 방법으로 매월 자동 납부됩니다", "ご登録の方法で毎月自動でお支払いいただきます",
     "Your bill is paid automatically each month"},
    {"등록하신 납부 방법", "ご登録のお支払い方法", "Your payment method"},
    {"{{#has_payment}}{{{payment_text}}}{{/has_payment}}"
     "{{^has_payment}}지로 또는 가상계좌로 납부해 주세요{{/has_payment}}",
     "{{#has_payment}}{{{payment_text}}}{{/has_payment}}"
     "{{^has_payment}}払込票でお支払いください{{/has_payment}}",
     "{{#has_payment}}{{{payment_text}}}{{/has_payment}}"
     "{{^has_payment}}Please pay by giro or bank transfer{{/has_payment}}"}};

typedef struct builtin_def {
    const char *id;
    const char *subtitle[NLOC]; /* the intro's line about the scenario */
    const scene_def *scenes[NSLOTS];
} builtin_def;

static const builtin_def builtins[] = {
    {"mobile_new_home_new",
     {"휴대폰과 인터넷을 새로 가입하고 결합하셨습니다",
      "携帯電話とインターネットをセットでご契約いただきました",
      "You joined with new mobile lines and home internet, bundled together"},
     {&SC_PERIOD, &SC_THIS, &SC_PLAN, &SC_BUNDLE, &SC_NEXT, &SC_PAY}},
    {"mobile_new_bundle",
     {"휴대폰을 새로 가입하고 가족 결합을 하셨습니다", "携帯電話を家族のセットでご契約いただきました",
      "You joined with new mobile lines on a family bundle"},
     {&SC_PERIOD, &SC_THIS, &SC_PLAN, &SC_BUNDLE, &SC_NEXT, &SC_PAY}},
    {"mobile_device_change_home",
     {"기기를 바꾸시고 인터넷과 결합하셨습니다", "端末を変えていただき、インターネットとセットになりました",
      "You changed your phone and bundled it with home internet"},
     {&SC_PERIOD, &SC_THIS, &SC_DEVICE, &SC_BUNDLE, &SC_NEXT, &SC_PAY}},
    {"mobile_device_change",
     {"휴대폰 기기를 바꾸셨습니다", "携帯電話の端末を変えていただきました", "You changed your phone"},
     {&SC_PERIOD, &SC_THIS, &SC_DEVICE, &SC_PLAN, &SC_NEXT, &SC_PAY}},
    {"home_new_mobile",
     {"인터넷을 새로 가입하고 휴대폰과 결합하셨습니다",
      "インターネットを携帯電話とセットでご契約いただきました",
      "You joined home internet, bundled with your mobile line"},
     {&SC_PERIOD, &SC_THIS, &SC_PLAN, &SC_BUNDLE, &SC_NEXT, &SC_PAY}},
    {"home_new",
     {"인터넷을 새로 가입하셨습니다", "インターネットを新しくご契約いただきました",
      "You joined home internet"},
     {&SC_PERIOD, &SC_THIS, &SC_PLAN, &SC_BENEFITS, &SC_NEXT, &SC_PAY}},
    {"home_recontract",
     {"인터넷 약정을 다시 맺으셨습니다", "インターネットのご契約を更新いただきました",
      "You renewed your home internet contract"},
     {&SC_PERIOD, &SC_THIS, &SC_PLAN, &SC_BENEFITS, &SC_NEXT, &SC_PAY}},
};

/* The intro's and the outro's screens. */
static const char *const intro_title[NLOC] = {"첫 요금 안내", "はじめてのご請求のご案内",
                                              "Your first bill"};
static const char *const intro_line[NLOC] = {"고객님의 이번 달 요금을 차근차근 설명해 드립니다",
                                             "今月の料金を順を追ってご説明します",
                                             "Here is this month's bill, step by step"};
static const char *const outro_title[NLOC] = {"궁금한 점이 있으신가요?", "ご不明な点はありませんか？",
                                              "Any questions?"};
static const char *const outro_line[NLOC] = {"화면의 문의하기 버튼으로 언제든 물어보세요",
                                             "画面のお問い合わせボタンからいつでもどうぞ",
                                             "Tap the Ask button on the screen at any time"};
static const char *const outro_thanks[NLOC] = {"감사합니다", "ありがとうございました", "Thank you"};

static const char builtin_list[] =
    "[\"mobile_new_home_new\",\"mobile_new_bundle\",\"mobile_device_change_home\","
    "\"mobile_device_change\",\"home_new_mobile\",\"home_new\",\"home_recontract\"]";

VBILL_API const char *vbill_template_builtin_list(void) { return builtin_list; }

/* Background colours (top, bottom) per scene, calm blues and teals. */
static const uint32_t scene_bg[NSLOTS + 2][2] = {
    {0x0E2A47, 0x1F5C8A}, {0x123B4F, 0x2A7A8C}, {0x1B2E4D, 0x3D5A99}, {0x143D3A, 0x2E7F6E},
    {0x2A2450, 0x574C99}, {0x1A3550, 0x3A6E9E}, {0x203448, 0x466E8E}, {0x0E2A47, 0x1F5C8A}};

/* ---- drawing into an RGBA canvas ---------------------------------------------------- */

typedef struct canvas { uint8_t *p; } canvas;

static void fill_gradient(canvas *c, uint32_t top, uint32_t bot)
{
    for (int y = 0; y < BH; y++) {
        double k = (double)y / (BH - 1);
        uint8_t r = (uint8_t)(((top >> 16) & 255) * (1 - k) + ((bot >> 16) & 255) * k);
        uint8_t g = (uint8_t)(((top >> 8) & 255) * (1 - k) + ((bot >> 8) & 255) * k);
        uint8_t b = (uint8_t)((top & 255) * (1 - k) + (bot & 255) * k);
        uint8_t *row = c->p + (size_t)y * BW * 4;
        for (int x = 0; x < BW; x++) {
            row[x * 4] = r;
            row[x * 4 + 1] = g;
            row[x * 4 + 2] = b;
            row[x * 4 + 3] = 255;
        }
    }
}

/* Blends an RGBA (straight alpha) image onto the opaque canvas at (x, y). */
static void blend(canvas *c, const uint8_t *img, int w, int h, int x0, int y0)
{
    for (int y = 0; y < h; y++) {
        int cy = y0 + y;
        if (cy < 0 || cy >= BH)
            continue;
        for (int x = 0; x < w; x++) {
            int cx = x0 + x;
            if (cx < 0 || cx >= BW)
                continue;
            const uint8_t *s = img + ((size_t)y * w + x) * 4;
            uint8_t *d = c->p + ((size_t)cy * BW + cx) * 4;
            unsigned a = s[3];
            for (int k = 0; k < 3; k++)
                d[k] = (uint8_t)((s[k] * a + d[k] * (255 - a) + 127) / 255);
        }
    }
}

static void fill_rect(canvas *c, int x0, int y0, int w, int h, uint32_t rgba)
{
    uint8_t px[4] = {rgba >> 24, (rgba >> 16) & 255, (rgba >> 8) & 255, rgba & 255};
    for (int y = y0; y < y0 + h && y < BH; y++)
        for (int x = x0; x < x0 + w && x < BW; x++)
            blend(c, px, 1, 1, x, y);
}

/* Draws text into a box of the canvas. */
static vbill_status draw_text(vb_text_engine *e, vbill_ctx *ctx, canvas *c, const char *text,
                              int size, uint32_t color, vb_align al, int x, int y, int w, int h)
{
    vb_text_style st = {.size = size, .color = color, .align = al};
    vb_text_image im;
    vbill_status s = vb_text_render(e, ctx, "built-in caption", text, &st, w, h, &im);
    if (s != VBILL_OK)
        return s;
    blend(c, im.rgba, im.w, im.h, x, y);
    vb_text_image_free(&im);
    return VBILL_OK;
}

/* ---- the generator ---------------------------------------------------------------- */

typedef struct gen {
    vbill_ctx *ctx;
    vb_text_engine *te;
    AVFormatContext *oc;
    AVCodecContext *venc, *aenc;
    AVStream *vst, *ast;
    AVFilterGraph *agraph;
    AVFilterContext *asink;
    struct SwsContext *sws;
    AVFrame *scene_off[NSLOTS + 2], *scene_on[NSLOTS + 2]; /* YUV bases, without/with panel */
    AVFrame *frame, *aframe;
    AVPacket *pkt;
    int64_t apts;
    bool audio_done;
    int loc;               /* index in LOCALES */
    const float *speech;   /* the fixed sentences on the timeline, mono 48 kHz (or NULL) */
    size_t nspeech;
    char errbuf[AV_ERROR_MAX_STRING_SIZE];
} gen;

static vbill_status av_fail(gen *g, const char *what, int err)
{
    av_strerror(err, g->errbuf, sizeof g->errbuf);
    return vb_error(g->ctx, VBILL_ERR_MEDIA, "built-in template: %s: %s", what, g->errbuf);
}

static vbill_status to_yuv(gen *g, canvas *c, AVFrame **out)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        return VBILL_ERR_NOMEM;
    f->format = AV_PIX_FMT_YUV420P;
    f->width = BW;
    f->height = BH;
    int r = av_frame_get_buffer(f, 0);
    if (r < 0) {
        av_frame_free(&f);
        return av_fail(g, "frame", r);
    }
    const uint8_t *src[1] = {c->p};
    int stride[1] = {BW * 4};
    sws_scale(g->sws, src, stride, 0, BH, f->data, f->linesize);
    *out = f;
    return VBILL_OK;
}

/* Renders the still parts of every scene. */
static vbill_status build_scenes(gen *g, const builtin_def *def)
{
    canvas c = {malloc((size_t)BW * BH * 4)};
    if (!c.p)
        return VBILL_ERR_NOMEM;
    vbill_status st = VBILL_OK;
    vb_text_engine *e = g->te;
    for (int s = 0; s < NSLOTS + 2 && st == VBILL_OK; s++) {
        fill_gradient(&c, scene_bg[s][0], scene_bg[s][1]);
        fill_rect(&c, 80, 688, 1120, 6, 0xFFFFFF30); /* the progress bar's track */
        int l = g->loc;
        if (s == 0) {
            st = draw_text(e, g->ctx, &c, intro_title[l], 84, 0xFFFFFFFF, VB_ALIGN_CENTER, 80,
                           190, 1120, 130);
            if (st == VBILL_OK)
                st = draw_text(e, g->ctx, &c, def->subtitle[l], 44, 0xFFD479FF, VB_ALIGN_CENTER,
                               80, 330, 1120, 80);
            if (st == VBILL_OK)
                st = draw_text(e, g->ctx, &c, intro_line[l], 36, 0xDDE6F0FF, VB_ALIGN_CENTER, 80,
                               420, 1120, 70);
        } else if (s == NSLOTS + 1) {
            st = draw_text(e, g->ctx, &c, outro_title[l], 64, 0xFFFFFFFF, VB_ALIGN_CENTER, 80,
                           210, 1120, 110);
            if (st == VBILL_OK)
                st = draw_text(e, g->ctx, &c, outro_line[l], 40, 0xDDE6F0FF, VB_ALIGN_CENTER, 80,
                               330, 1120, 80);
            if (st == VBILL_OK)
                st = draw_text(e, g->ctx, &c, outro_thanks[l], 48, 0xFFD479FF, VB_ALIGN_CENTER,
                               80, 430, 1120, 80);
        } else {
            const scene_def *sd = def->scenes[s - 1];
            char num[16];
            snprintf(num, sizeof num, "%d / %d", s, NSLOTS);
            st = draw_text(e, g->ctx, &c, num, 28, 0xFFFFFFB0, VB_ALIGN_RIGHT, 1000, 40, 200, 50);
            if (st == VBILL_OK)
                st = draw_text(e, g->ctx, &c, sd->title[l], 64, 0xFFFFFFFF, VB_ALIGN_LEFT, 80, 80,
                               1000, 100);
            if (st == VBILL_OK)
                st = draw_text(e, g->ctx, &c, sd->caption[l], 40, 0xDDE6F0FF, VB_ALIGN_LEFT, 80,
                               190, 1120, 120);
        }
        if (st != VBILL_OK)
            break;
        st = to_yuv(g, &c, &g->scene_off[s]);
        if (st != VBILL_OK || s == 0 || s == NSLOTS + 1)
            continue;
        /* The label and the region the slot's text goes into appear together, during the
         * window only, with the customer's value: never a label over an empty panel. */
        const scene_def *sd = def->scenes[s - 1];
        st = draw_text(e, g->ctx, &c, sd->label[l], 32, 0xFFD479FF, VB_ALIGN_LEFT, 90, 360, 1000,
                       56);
        if (st != VBILL_OK)
            break;
        fill_rect(&c, panel[0], panel[1], panel[2], panel[3], 0x08142AD0);
        fill_rect(&c, panel[0], panel[1], 8, panel[3], 0xFFD479FF);
        st = to_yuv(g, &c, &g->scene_on[s]);
    }
    free(c.p);
    return st;
}

/* Per frame: the scene's base plus a drifting glow and the progress bar (luma only). */
static void draw_motion(AVFrame *f, int64_t n)
{
    double t = (double)n / FPS;
    int cx = (int)(980 + 140 * sin(t * 0.35)), cy = (int)(610 + 18 * cos(t * 0.5));
    const int r = 64;
    for (int y = cy - r; y <= cy + r; y++) {
        if (y < 540 || y >= 684)
            continue;
        uint8_t *row = f->data[0] + (size_t)y * f->linesize[0];
        for (int x = cx - r; x <= cx + r; x++) {
            if (x < 0 || x >= BW)
                continue;
            double d2 = (double)((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (r * r);
            if (d2 >= 1)
                continue;
            int v = row[x] + (int)(48 * (1 - d2) * (1 - d2));
            row[x] = (uint8_t)(v > 235 ? 235 : v);
        }
    }
    int len = (int)(1120 * (n + 1) / ((int64_t)TOTAL_S * FPS));
    for (int y = 688; y < 694; y++)
        memset(f->data[0] + (size_t)y * f->linesize[0] + 80, 200, (size_t)len);
}

static vbill_status write_packets(gen *g, AVCodecContext *enc, AVStream *st)
{
    for (;;) {
        int r = avcodec_receive_packet(enc, g->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return VBILL_OK;
        if (r < 0)
            return av_fail(g, "encoding", r);
        av_packet_rescale_ts(g->pkt, enc->time_base, st->time_base);
        g->pkt->stream_index = st->index;
        r = av_interleaved_write_frame(g->oc, g->pkt);
        if (r < 0)
            return av_fail(g, "writing", r);
    }
}

/* Encodes audio up to time `until` (in seconds; < 0: to the end). */
static vbill_status pump_audio(gen *g, double until)
{
    while (!g->audio_done && (until < 0 || (double)g->apts / 48000 < until)) {
        int r = av_buffersink_get_frame(g->asink, g->aframe);
        if (r == AVERROR_EOF || r == AVERROR(EAGAIN)) {
            g->audio_done = true;
            r = avcodec_send_frame(g->aenc, NULL);
        } else if (r >= 0) {
            g->aframe->pts = g->apts;
            /* the fixed sentences over the bed (mono) */
            for (int k = 0; k < g->aframe->nb_samples && g->speech; k++) {
                size_t at = (size_t)g->apts + (size_t)k;
                if (at >= g->nspeech)
                    break;
                float *d = (float *)g->aframe->extended_data[0] + k;
                float v = *d + g->speech[at];
                *d = v > 1 ? 1 : v < -1 ? -1 : v;
            }
            g->apts += g->aframe->nb_samples;
            r = avcodec_send_frame(g->aenc, g->aframe);
            av_frame_unref(g->aframe);
        }
        if (r < 0)
            return av_fail(g, "audio", r);
        vbill_status st = write_packets(g, g->aenc, g->ast);
        if (st != VBILL_OK)
            return st;
    }
    return VBILL_OK;
}

static vbill_status open_audio(gen *g)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!codec)
        return vb_error(g->ctx, VBILL_ERR_MEDIA, "built-in template: no AAC encoder");
    g->aenc = avcodec_alloc_context3(codec);
    if (!g->aenc)
        return VBILL_ERR_NOMEM;
    g->aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    g->aenc->sample_rate = 48000;
    /* mono: a voice over a soft chord needs no more, and a bill's voice then re-encodes one
     * channel (voiceover.c) */
    av_channel_layout_default(&g->aenc->ch_layout, 1);
    g->aenc->bit_rate = 64000;
    g->aenc->time_base = (AVRational){1, 48000};
    if (g->oc->oformat->flags & AVFMT_GLOBALHEADER)
        g->aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int r = avcodec_open2(g->aenc, codec, NULL);
    if (r < 0)
        return av_fail(g, "opening the AAC encoder", r);
    g->ast = avformat_new_stream(g->oc, NULL);
    if (!g->ast)
        return VBILL_ERR_NOMEM;
    g->ast->time_base = g->aenc->time_base;
    r = avcodec_parameters_from_context(g->ast->codecpar, g->aenc);
    if (r < 0)
        return av_fail(g, "audio stream", r);

    /* A soft chord (A minor add9 spread over two octaves), slowly breathing, low-passed, about
     * 20 dB under the voice's peak. */
    g->agraph = avfilter_graph_alloc();
    if (!g->agraph)
        return VBILL_ERR_NOMEM;
    r = avfilter_graph_create_filter(&g->asink, avfilter_get_by_name("abuffersink"), "out", NULL,
                                     NULL, g->agraph);
    if (r < 0)
        return av_fail(g, "audio graph", r);
    char desc[1024];
    snprintf(desc, sizeof desc,
             "sine=f=110:r=48000:d=%d[a];sine=f=220:r=48000:d=%d[b];"
             "sine=f=261.63:r=48000:d=%d[c];sine=f=329.63:r=48000:d=%d[d];"
             "sine=f=493.88:r=48000:d=%d[e];"
             "[a][b][c][d][e]amix=inputs=5,volume=0.6,tremolo=f=0.2:d=0.4,lowpass=f=1200,"
             "afade=t=in:d=2,afade=t=out:st=%d:d=3,"
             "aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=mono",
             TOTAL_S, TOTAL_S, TOTAL_S, TOTAL_S, TOTAL_S, TOTAL_S - 3);
    AVFilterInOut *in = avfilter_inout_alloc();
    if (!in)
        return VBILL_ERR_NOMEM;
    in->name = av_strdup("out");
    in->filter_ctx = g->asink;
    in->pad_idx = 0;
    in->next = NULL;
    AVFilterInOut *outs = NULL;
    r = avfilter_graph_parse_ptr(g->agraph, desc, &in, &outs, NULL);
    avfilter_inout_free(&in);
    avfilter_inout_free(&outs);
    if (r < 0)
        return av_fail(g, "audio graph", r);
    r = avfilter_graph_config(g->agraph, NULL);
    if (r < 0)
        return av_fail(g, "audio graph", r);
    av_buffersink_set_frame_size(g->asink, (unsigned)g->aenc->frame_size);
    g->aframe = av_frame_alloc();
    return g->aframe ? VBILL_OK : VBILL_ERR_NOMEM;
}

static vbill_status open_video(gen *g)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec)
        codec = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (!codec)
        return vb_error(g->ctx, VBILL_ERR_MEDIA, "built-in template: no H.264 encoder");
    g->venc = avcodec_alloc_context3(codec);
    if (!g->venc)
        return VBILL_ERR_NOMEM;
    g->venc->width = BW;
    g->venc->height = BH;
    g->venc->pix_fmt = AV_PIX_FMT_YUV420P;
    g->venc->time_base = (AVRational){1, FPS};
    g->venc->framerate = (AVRational){FPS, 1};
    g->venc->gop_size = SCENE_S * FPS; /* the keyframes are placed (encode_all) */
    g->venc->thread_count = 2;
    if (g->oc->oformat->flags & AVFMT_GLOBALHEADER)
        g->venc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *opt = NULL;
    av_dict_set(&opt, "preset", "ultrafast", 0);
    av_dict_set(&opt, "crf", "18", 0);
    int r = avcodec_open2(g->venc, codec, &opt);
    av_dict_free(&opt);
    if (r < 0)
        return av_fail(g, "opening the H.264 encoder", r);
    g->vst = avformat_new_stream(g->oc, NULL);
    if (!g->vst)
        return VBILL_ERR_NOMEM;
    g->vst->time_base = g->venc->time_base;
    g->vst->avg_frame_rate = g->venc->framerate;
    r = avcodec_parameters_from_context(g->vst->codecpar, g->venc);
    if (r < 0)
        return av_fail(g, "video stream", r);
    g->frame = av_frame_alloc();
    if (!g->frame)
        return VBILL_ERR_NOMEM;
    g->frame->format = AV_PIX_FMT_YUV420P;
    g->frame->width = BW;
    g->frame->height = BH;
    r = av_frame_get_buffer(g->frame, 0);
    return r < 0 ? av_fail(g, "frame", r) : VBILL_OK;
}

static vbill_status encode_all(gen *g)
{
    const int64_t total = (int64_t)TOTAL_S * FPS;
    for (int64_t n = 0; n < total; n++) {
        int64_t scenes_end = (int64_t)(INTRO_S + NSLOTS * SCENE_S) * FPS;
        int s;
        int64_t into; /* frames into scene s */
        if (n < (int64_t)INTRO_S * FPS) {
            s = 0;
            into = n;
        } else if (n < scenes_end) {
            s = 1 + (int)((n - (int64_t)INTRO_S * FPS) / ((int64_t)SCENE_S * FPS));
            into = (n - (int64_t)INTRO_S * FPS) % ((int64_t)SCENE_S * FPS);
        } else {
            s = NSLOTS + 1;
            into = 0;
        }
        bool on = s >= 1 && s <= NSLOTS && into >= WIN_FROM && into < WIN_TO;
        int r = av_frame_make_writable(g->frame);
        if (r < 0)
            return av_fail(g, "frame", r);
        r = av_frame_copy(g->frame, on ? g->scene_on[s] : g->scene_off[s]);
        if (r < 0)
            return av_fail(g, "frame", r);
        /* Inside a slot window the picture holds still (the glow and the progress bar wait
         * at the window's first frame): the renderer re-encodes these frames for every
         * customer, and an unchanging picture around the text costs the encoder little. */
        int64_t window_start = (int64_t)(INTRO_S + (s - 1) * SCENE_S) * FPS + WIN_FROM;
        draw_motion(g->frame, on ? window_start : n);
        g->frame->pts = n;
        /* keyframes where scenes and windows begin, none inside a window: a still window
         * decodes to one unchanging picture */
        int64_t into_scene = n - (int64_t)(s == 0 ? 0 : INTRO_S + (s - 1) * SCENE_S) * FPS;
        bool key = n == 0 || (s >= 1 && s <= NSLOTS &&
                              (into_scene == 0 || into_scene == WIN_FROM || into_scene == WIN_TO));
        g->frame->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        r = avcodec_send_frame(g->venc, g->frame);
        if (r < 0)
            return av_fail(g, "encoding", r);
        vbill_status st = write_packets(g, g->venc, g->vst);
        if (st == VBILL_OK)
            st = pump_audio(g, (double)(n + 1) / FPS);
        if (st != VBILL_OK)
            return st;
    }
    int r = avcodec_send_frame(g->venc, NULL);
    if (r < 0)
        return av_fail(g, "encoding", r);
    vbill_status st = write_packets(g, g->venc, g->vst);
    if (st == VBILL_OK)
        st = pump_audio(g, -1);
    return st;
}

static void gen_free(gen *g)
{
    for (int s = 0; s < NSLOTS + 2; s++) {
        av_frame_free(&g->scene_off[s]);
        av_frame_free(&g->scene_on[s]);
    }
    av_frame_free(&g->frame);
    av_frame_free(&g->aframe);
    av_packet_free(&g->pkt);
    avcodec_free_context(&g->venc);
    avcodec_free_context(&g->aenc);
    avfilter_graph_free(&g->agraph);
    sws_freeContext(g->sws);
    if (g->oc) {
        if (g->oc->pb)
            avio_closep(&g->oc->pb);
        avformat_free_context(g->oc);
    }
    vb_text_engine_free(g->te);
}

static vbill_status write_video(vbill_ctx *ctx, const builtin_def *def, int loc,
                                const float *speech, size_t nspeech, const char *path)
{
    char *tmp = vb_temp_path_for(path);
    if (!tmp)
        return vb_error(ctx, VBILL_ERR_NOMEM, "built-in template: out of memory");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        vbill_status st = vb_error(ctx, VBILL_ERR_IO, "built-in template: cannot create a file "
                                   "beside '%s': %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    fchmod(fd, 0644); /* mkstemp made it private; a template is not secret */
    close(fd);
    gen g = {.ctx = ctx, .loc = loc, .speech = speech, .nspeech = nspeech};
    vbill_status st = vb_text_engine_new(ctx, &g.te);
    if (st != VBILL_OK)
        goto out;
    g.pkt = av_packet_alloc();
    g.sws = sws_getContext(BW, BH, AV_PIX_FMT_RGBA, BW, BH, AV_PIX_FMT_YUV420P, SWS_BICUBIC,
                           NULL, NULL, NULL);
    if (!g.pkt || !g.sws) {
        st = VBILL_ERR_NOMEM;
        goto out;
    }
    int r = avformat_alloc_output_context2(&g.oc, NULL, "mp4", tmp);
    if (r < 0) {
        st = av_fail(&g, "output", r);
        goto out;
    }
    st = open_video(&g);
    if (st == VBILL_OK)
        st = open_audio(&g);
    if (st == VBILL_OK)
        st = build_scenes(&g, def);
    if (st != VBILL_OK)
        goto out;
    r = avio_open(&g.oc->pb, tmp, AVIO_FLAG_WRITE);
    if (r < 0) {
        st = vb_error(ctx, VBILL_ERR_IO, "built-in template: cannot write '%s': %s", path,
                      av_err2str(r));
        goto out;
    }
    AVDictionary *mopt = NULL;
    av_dict_set(&mopt, "movflags", "+faststart", 0);
    r = avformat_write_header(g.oc, &mopt);
    av_dict_free(&mopt);
    if (r < 0) {
        st = av_fail(&g, "writing the header", r);
        goto out;
    }
    st = encode_all(&g);
    if (st != VBILL_OK)
        goto out;
    r = av_write_trailer(g.oc);
    if (r < 0) {
        st = vb_error(ctx, VBILL_ERR_IO, "built-in template: writing '%s': %s", path,
                      av_err2str(r));
        goto out;
    }
    r = avio_closep(&g.oc->pb);
    if (r < 0) {
        st = vb_error(ctx, VBILL_ERR_IO, "built-in template: writing '%s': %s", path,
                      av_err2str(r));
        goto out;
    }
    if (rename(tmp, path) != 0)
        st = vb_error(ctx, VBILL_ERR_IO, "built-in template: cannot rename to '%s': %s", path,
                      strerror(errno));
out:
    gen_free(&g);
    if (st != VBILL_OK)
        unlink(tmp);
    free(tmp);
    if (st == VBILL_ERR_NOMEM)
        return vb_error(ctx, st, "built-in template: out of memory");
    return st;
}

static char *template_json(const builtin_def *def, int loc)
{
    cJSON *root = cJSON_CreateObject(), *slots = cJSON_CreateArray();
    if (!root || !slots) {
        cJSON_Delete(root);
        cJSON_Delete(slots);
        return NULL;
    }
    cJSON_AddStringToObject(root, "scenario", def->id);
    cJSON_AddStringToObject(root, "locale", LOCALES[loc]);
    cJSON_AddStringToObject(root, "video", "base.mp4");
    cJSON_AddItemToObject(root, "slots", slots);
    for (int i = 0; i < NSLOTS; i++) {
        const scene_def *sd = def->scenes[i];
        cJSON *s = cJSON_CreateObject();
        if (!s)
            break;
        cJSON_AddItemToArray(slots, s);
        int start = INTRO_S + i * SCENE_S;
        cJSON_AddStringToObject(s, "name", sd->slot);
        cJSON_AddStringToObject(s, "text", sd->text[loc]);
        cJSON_AddNumberToObject(s, "from", start + (double)WIN_FROM / FPS);
        cJSON_AddNumberToObject(s, "to", start + (double)WIN_TO / FPS);
        /* The panel minus its accent stripe on the left. */
        int box[4] = {panel[0] + 16, panel[1], panel[2] - 16, panel[3]};
        cJSON_AddItemToObject(s, "box", cJSON_CreateIntArray(box, 4));
        cJSON_AddNumberToObject(s, "size", 56);
        cJSON_AddStringToObject(s, "color", "#FFFFFF");
        cJSON_AddStringToObject(s, "align", "left");
    }
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    return out;
}

/* FFmpeg prints to stderr by default and the library never prints (as template.c does:
 * VBILL_AV_LOG=1 keeps FFmpeg's messages for debugging). */
static void quiet_ffmpeg(void)
{
    const char *e = getenv("VBILL_AV_LOG");
    if (!e || !*e || !strcmp(e, "0"))
        av_log_set_level(AV_LOG_QUIET);
}

/* The fixed sentences of the built-in narration of def in locale loc (the scenes that are
 * the same for every customer), spoken on the template's timeline by voice: a script made
 * of them, as vbill_voice_narration speaks it. */
static vbill_status fixed_speech(vbill_ctx *ctx, const builtin_def *def, int loc,
                                 const vbill_voice *voice, float **pcm, size_t *n)
{
    *pcm = NULL;
    *n = 0;
    cJSON *narr = vb_narration_builtin(def->id), *script = cJSON_CreateObject();
    cJSON *scenes = script ? cJSON_AddArrayToObject(script, "scenes") : NULL;
    bool ok = narr && scenes && cJSON_AddStringToObject(script, "locale", LOCALES[loc]);
    const cJSON *sc;
    cJSON_ArrayForEach(sc, cJSON_GetObjectItemCaseSensitive(narr, "scenes"))
    {
        if (!ok || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sc, "personal")))
            continue;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(sc, "text"), LOCALES[loc]);
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(scenes, o) && cJSON_IsString(t) &&
             cJSON_AddNumberToObject(o, "start",
                                     cJSON_GetNumberValue(cJSON_GetObjectItem(sc, "start"))) &&
             cJSON_AddNumberToObject(o, "end",
                                     cJSON_GetNumberValue(cJSON_GetObjectItem(sc, "end"))) &&
             cJSON_AddStringToObject(o, "text", t->valuestring);
    }
    char *text = ok ? cJSON_PrintUnformatted(script) : NULL;
    cJSON_Delete(narr);
    cJSON_Delete(script);
    if (!text)
        return vb_error(ctx, VBILL_ERR_NOMEM, "built-in template: out of memory");
    vbill_status st = vbill_voice_narration(ctx, voice, text, VBILL_SCENES_ALL, pcm, n);
    cJSON_free(text);
    if (st == VBILL_OK)
        vb_pcm_level(*pcm, *n);
    return st;
}

VBILL_API vbill_status vbill_template_builtin_write(vbill_ctx *ctx, const char *scenario,
                                                   const char *dir)
{
    return vbill_template_builtin_make(ctx, scenario, "ko-KR", NULL, dir);
}

VBILL_API vbill_status vbill_template_builtin_make(vbill_ctx *ctx, const char *scenario,
                                                  const char *locale, const vbill_voice *voice,
                                                  const char *dir)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, quiet_ffmpeg);
    vb_clear_error(ctx);
    if (!ctx || !scenario || !dir || !*dir)
        return vb_error(ctx, VBILL_ERR_ARG, "built-in template: no scenario or directory");
    const builtin_def *def = NULL;
    for (size_t i = 0; i < VB_ARRAY_LEN(builtins); i++)
        if (!strcmp(builtins[i].id, scenario))
            def = &builtins[i];
    if (!def)
        return vb_error(ctx, VBILL_ERR_NOT_FOUND, "built-in template: unknown scenario '%.64s' "
                        "(known: %s)", scenario, builtin_list);
    int loc = 0;
    while (loc < NLOC && locale && strcmp(LOCALES[loc], locale) != 0)
        loc++;
    if (loc == NLOC)
        return vb_error(ctx, VBILL_ERR_ARG, "built-in template: unknown locale '%.16s' (ko-KR, "
                        "ja-JP or en-US)", locale);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return vb_error(ctx, VBILL_ERR_IO, "built-in template: cannot create '%s': %s", dir,
                        strerror(errno));
    size_t n = strlen(dir) + 32;
    char *video = malloc(n), *json_path = malloc(n), *narr_path = malloc(n);
    char *json = template_json(def, loc), *narr = NULL;
    cJSON *nj = vb_narration_builtin(def->id);
    vbill_voice *own = NULL;
    float *speech = NULL;
    size_t nspeech = 0;
    vbill_status st = VBILL_OK;
    if (!video || !json_path || !narr_path || !json || !nj || !(narr = cJSON_Print(nj))) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "built-in template: out of memory");
        goto out;
    }
    snprintf(video, n, "%s/base.mp4", dir);
    snprintf(json_path, n, "%s/template.json", dir);
    snprintf(narr_path, n, "%s/%s", dir, VB_NARRATION_FILE);
    if (!voice && (st = vbill_voice_open_default(ctx, &own)))
        goto out;
    if ((st = fixed_speech(ctx, def, loc, voice ? voice : own, &speech, &nspeech)))
        goto out;
    st = write_video(ctx, def, loc, speech, nspeech, video);
    if (st != VBILL_OK)
        goto out;
    /* template.json last: its presence says the folder is complete */
    if (vb_write_file_atomic(narr_path, narr, strlen(narr)) != 0 ||
        vb_write_file_atomic(json_path, json, strlen(json)) != 0)
        st = vb_error(ctx, VBILL_ERR_IO, "built-in template: cannot write into '%s': %s", dir,
                      strerror(errno));
    else
        vb_log(ctx, VBILL_LOG_INFO, "built-in template %s (%s) written to %s", scenario,
               LOCALES[loc], dir);
out:
    free(video);
    free(json_path);
    free(narr_path);
    cJSON_free(json);
    cJSON_free(narr);
    cJSON_Delete(nj);
    free(speech);
    vbill_voice_free(own);
    return st;
}
