/* watch.js: the customer's player page (served by vbill serve as /static/watch.js).
 *
 * Reads the page data (<script type="application/json" id="bill-data">, else B T/bill.json),
 * then plays the bill: native HLS where the browser has it, else hls.js (the vendored light
 * build, loaded only then), else the MP4.  Speed 0.8 / 1 / 1.25 by playbackRate with the
 * pitch kept (one rendition, an instant switch; the slow rendition is for downloads), seniors
 * start at the page data's speed.  Captions and chapters are <track>s; chapters are also a
 * list to tap.  Events (progress quartiles, speed, captions, actions, the survey) and chat
 * questions are POSTed as JSON with the page's CSRF token.  Overlay mode (?overlay=1 or
 * page data overlay.default) plays the template's shared base and draws each slot's text in
 * its box at its times; the burned-in rendition takes over where the overlay cannot follow
 * (the video element alone in fullscreen).
 *
 * Query switches (for support and tests): player=native|hlsjs|mp4 forces a playback path;
 * overlay=1|0 turns overlay mode on or off.
 */
(function () {
  'use strict';
  if (window.performance && performance.mark) performance.mark('vbill:script');

  var SPEEDS = [0.8, 1, 1.25];
  var HLS_TYPE = 'application/vnd.apple.mpegurl';
  var me = document.currentScript;
  var staticBase = me && me.src ? me.src.replace(/[^\/]*$/, '') : '/static/';

  function $(id) { return document.getElementById(id); }
  function mark(name) {
    try { if (performance.getEntriesByName(name).length === 0) performance.mark(name); } catch (e) { /* old browsers */ }
  }
  function fmt(s, vars) {
    return String(s || '').replace(/\{(\w+)\}/g, function (m, k) { return k in vars ? vars[k] : m; });
  }
  function clock(t) {
    t = Math.max(0, Math.floor(t || 0));
    var m = Math.floor(t / 60), s = t % 60;
    return m + ':' + (s < 10 ? '0' : '') + s;
  }
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : '';
  }
  /* The link's own endpoints: the watch page is B T/watch, so "event" is B T/event. */
  function endpoint(name) { return new URL(name, location.href).pathname; }

  function post(name, body, keepalive) {
    return fetch(endpoint(name), {
      method: 'POST',
      credentials: 'same-origin',
      keepalive: !!keepalive,
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() },
      body: JSON.stringify(body)
    });
  }
  function sendEvent(body) {
    return post('event', body, true).catch(function () { return null; });
  }

  function readData() {
    var el = $('bill-data');
    if (el) {
      try { return Promise.resolve(JSON.parse(el.textContent)); } catch (e) { /* fall through */ }
    }
    return fetch(endpoint('bill.json'), { credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) throw new Error('bill.json: ' + r.status);
      return r.json();
    });
  }

  function start(data) {
    var video = $('video');
    var stage = $('stage');
    var status = $('video-status');
    var t = data.texts || {};
    var params = new URLSearchParams(location.search);
    var force = params.get('player');
    var ov = data.overlay && data.overlay.hls && data.overlay.slots ? data.overlay : null;
    var overlayWanted = !!ov && (params.get('overlay') === '1' ||
                                 (ov['default'] === true && params.get('overlay') !== '0'));
    var overlayActive = false;  /* the overlay stream is playing and its texts are drawn */
    var mode = null;            /* native | hlsjs | mp4 */
    var hls = null;
    var rate = 1;
    var currentUrl = null;

    $('controls').hidden = false;
    $('ask').hidden = false;

    /* ---- choosing and switching the source ------------------------------------------- */
    function canNative() { return !!video.canPlayType(HLS_TYPE); }
    function canMse() {
      var MS = window.ManagedMediaSource || window.MediaSource;
      return !!(MS && MS.isTypeSupported && MS.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"'));
    }
    function pickMode() {
      if (force === 'mp4' || !data.video.hls) return data.video.mp4 ? 'mp4' : null;
      if (force === 'native') return 'native';
      if (force === 'hlsjs') return 'hlsjs';
      if (canNative()) return 'native';
      if (canMse()) return 'hlsjs';
      return data.video.mp4 ? 'mp4' : null;
    }

    var hlsJsLoading = null;
    function loadHlsJs() {
      if (window.Hls) return Promise.resolve(window.Hls);
      if (!hlsJsLoading) {
        hlsJsLoading = new Promise(function (resolve, reject) {
          var s = document.createElement('script');
          s.src = staticBase + 'vendor/hls.light.min.js';
          s.async = true;
          s.onload = function () { window.Hls ? resolve(window.Hls) : reject(new Error('hls.js')); };
          s.onerror = function () { reject(new Error('hls.js did not load')); };
          document.head.appendChild(s);
        });
      }
      return hlsJsLoading;
    }

    function applyRate() {
      video.defaultPlaybackRate = rate;
      video.playbackRate = rate;
      video.preservesPitch = true;
      if ('webkitPreservesPitch' in video) video.webkitPreservesPitch = true;
    }

    function fail() {
      status.textContent = t.video_error || '';
      stage.setAttribute('data-player', 'none');
    }

    function fallbackToMp4() {
      if (mode === 'mp4' || !data.video.mp4) { fail(); return; }
      setOverlay(false);
      attach('mp4', data.video.mp4, video.currentTime || 0, !video.paused);
    }

    /* Loads url in the given mode, resuming at `at` seconds, playing when `play`. */
    function attach(newMode, url, at, play) {
      if (hls) { hls.destroy(); hls = null; }
      mode = newMode;
      currentUrl = url;
      stage.setAttribute('data-player', mode);
      var resume = function () {
        video.removeEventListener('loadedmetadata', resume);
        if (at > 0) { try { video.currentTime = at; } catch (e) { /* not seekable yet */ } }
        applyRate();
        if (play) video.play().catch(function () { /* needs a tap */ });
      };
      video.addEventListener('loadedmetadata', resume);
      if (mode === 'hlsjs') {
        loadHlsJs().then(function (Hls) {
          if (currentUrl !== url) return;
          if (!Hls.isSupported()) { fallbackToMp4(); return; }
          hls = new Hls({ capLevelToPlayerSize: true, startPosition: at > 0 ? at : -1,
                          maxBufferLength: 30, enableWorker: true });
          var recovered = 0;
          hls.on(Hls.Events.ERROR, function (ev, d) {
            if (!d.fatal) return;
            if (d.type === Hls.ErrorTypes.MEDIA_ERROR && recovered++ < 1) hls.recoverMediaError();
            else fallbackToMp4();
          });
          hls.loadSource(url);
          hls.attachMedia(video);
        }, fallbackToMp4);
      } else {
        video.src = url;
        video.load();
      }
      applyRate();
    }

    video.addEventListener('error', function () {
      if (mode === 'native' || mode === 'mp4') fallbackToMp4();
    });

    /* ---- first frame (performance marks for bench/page_bench.js) ---------------------- */
    video.addEventListener('loadeddata', function () { mark('vbill:first-frame'); });
    video.addEventListener('playing', function () {
      mark('vbill:playing');
      if (video.requestVideoFrameCallback) {
        video.requestVideoFrameCallback(function () { mark('vbill:first-frame-played'); });
      }
    });

    /* ---- play, replay, speed, captions --------------------------------------------- */
    var playBtn = $('play');
    function syncPlay() {
      playBtn.textContent = video.paused ? playBtn.getAttribute('data-play') : playBtn.getAttribute('data-pause');
    }
    playBtn.addEventListener('click', function () {
      if (video.paused || video.ended) video.play().catch(function () {}); else video.pause();
    });
    video.addEventListener('play', syncPlay);
    video.addEventListener('pause', syncPlay);
    video.addEventListener('ended', syncPlay);

    $('replay').addEventListener('click', function () {
      video.currentTime = 0;
      video.play().catch(function () {});
    });

    var speedInputs = document.querySelectorAll('input[name="speed"]');
    function setRate(r, byUser) {
      rate = r;
      applyRate();
      for (var i = 0; i < speedInputs.length; i++) speedInputs[i].checked = parseFloat(speedInputs[i].value) === r;
      if (byUser) sendEvent({ type: 'speed', rate: r });
    }
    var startRate = typeof data.speed === 'number' ? data.speed : (data.senior ? 0.8 : 1);
    var nearest = SPEEDS.reduce(function (a, b) { return Math.abs(b - startRate) < Math.abs(a - startRate) ? b : a; });
    setRate(nearest, false);
    for (var i = 0; i < speedInputs.length; i++) {
      speedInputs[i].addEventListener('change', function (e) { setRate(parseFloat(e.target.value), true); });
    }
    /* The browser's own menu may change the rate too: keep the radios and events in step. */
    video.addEventListener('ratechange', function () {
      if (Math.abs(video.playbackRate - rate) > 0.001 && SPEEDS.indexOf(video.playbackRate) >= 0) {
        setRate(video.playbackRate, true);
      }
    });

    var capBtn = $('captions');
    var capTrack = $('captions-track');
    function setCaptions(on, byUser) {
      if (capTrack && capTrack.track) capTrack.track.mode = on ? 'showing' : 'hidden';
      capBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
      if (byUser) sendEvent({ type: 'captions', on: on });
    }
    setCaptions(true, false);
    capBtn.addEventListener('click', function () {
      setCaptions(capBtn.getAttribute('aria-pressed') !== 'true', true);
    });

    /* ---- chapters: the track's cues as a list to tap -------------------------------- */
    var chapTrackEl = $('chapters-track');
    var chapList = $('chapters');
    function buildChapters() {
      var track = chapTrackEl && chapTrackEl.track;
      if (!track || !track.cues || !track.cues.length || chapList.children.length) return;
      for (var i = 0; i < track.cues.length; i++) {
        var cue = track.cues[i];
        var li = document.createElement('li');
        var b = document.createElement('button');
        b.type = 'button';
        b.setAttribute('data-start', String(cue.startTime));
        var label = document.createElement('span');
        label.textContent = (i + 1) + '. ' + cue.text;
        var time = document.createElement('span');
        time.className = 'time';
        time.textContent = clock(cue.startTime);
        b.appendChild(label);
        b.appendChild(time);
        b.addEventListener('click', function (e) {
          video.currentTime = parseFloat(e.currentTarget.getAttribute('data-start')) + 0.01;
          video.play().catch(function () {});
        });
        li.appendChild(b);
        chapList.appendChild(li);
      }
      $('chapters-nav').hidden = false;
      markChapter();
    }
    function markChapter() {
      var track = chapTrackEl && chapTrackEl.track;
      if (!track || !track.cues) return;
      var now = video.currentTime, buttons = chapList.querySelectorAll('button');
      for (var i = 0; i < buttons.length && i < track.cues.length; i++) {
        var c = track.cues[i];
        var on = now >= c.startTime && now < c.endTime;
        if (on) buttons[i].setAttribute('aria-current', 'true'); else buttons[i].removeAttribute('aria-current');
      }
    }
    if (chapTrackEl && chapTrackEl.track) {
      chapTrackEl.track.mode = 'hidden';
      chapTrackEl.addEventListener('load', buildChapters);
      chapTrackEl.track.addEventListener('cuechange', markChapter);
      buildChapters();
    }

    /* ---- progress quartiles ------------------------------------------------------------ */
    var sentQuartiles = {};
    function duration() {
      return isFinite(video.duration) && video.duration > 0 ? video.duration : (data.video.duration || 0);
    }
    function quartile(q) {
      if (sentQuartiles[q]) return;
      sentQuartiles[q] = true;
      sendEvent({ type: 'progress', quartile: q, position: Math.round(video.currentTime * 10) / 10 });
    }
    video.addEventListener('timeupdate', function () {
      var d = duration();
      if (d > 0 && !video.seeking) {
        var f = video.currentTime / d;
        if (f >= 0.25) quartile(25);
        if (f >= 0.5) quartile(50);
        if (f >= 0.75) quartile(75);
      }
      markChapter();
    });

    /* ---- the survey, after the end --------------------------------------------------- */
    var survey = $('survey');
    var surveyForm = $('survey-form');
    var surveyStatus = $('survey-status');
    var surveySent = !!data.survey_done;
    function surveyThanks() {
      surveyForm.hidden = true;
      surveyStatus.className = 'thanks';
      surveyStatus.textContent = surveyForm.getAttribute('data-thanks');
    }
    video.addEventListener('ended', function () {
      quartile(100);
      survey.hidden = false;
      if (surveySent) surveyThanks();
      /* The customer sees that a question waits (not while the video is fullscreen). */
      if (!document.fullscreenElement && survey.scrollIntoView) survey.scrollIntoView({ block: 'nearest' });
    });
    surveyForm.addEventListener('submit', function (e) {
      e.preventDefault();
      if (surveySent) { surveyThanks(); return; }
      var picked = surveyForm.querySelector('input[name="score"]:checked');
      if (!picked) {
        surveyStatus.className = 'error';
        surveyStatus.textContent = surveyForm.getAttribute('data-pick');
        surveyForm.querySelector('input[name="score"]').focus();
        return;
      }
      var body = { type: 'survey', score: parseInt(picked.value, 10) };
      var comment = $('survey-comment').value.trim();
      if (comment) body.comment = comment;
      var btn = surveyForm.querySelector('button[type="submit"]');
      btn.setAttribute('aria-disabled', 'true');
      surveySent = true;
      post('event', body, true).then(function (r) {
        if (r.ok || r.status === 409) { surveyThanks(); return; }
        throw new Error(String(r.status));
      }).catch(function () {
        surveySent = false;
        btn.removeAttribute('aria-disabled');
        surveyStatus.className = 'error';
        surveyStatus.textContent = surveyForm.getAttribute('data-error');
      });
    });

    /* ---- ask about this moment ------------------------------------------------------- */
    var askForm = $('ask-form');
    var askQ = $('ask-question');
    var askAt = $('ask-at');
    var askAnswer = $('ask-answer');
    var askPos = null;
    function holdMoment() {
      if (!video.paused) video.pause();
      askPos = video.currentTime;
      askAt.textContent = fmt(askForm.getAttribute('data-at'), { time: clock(askPos) });
    }
    askQ.addEventListener('focus', holdMoment);
    function say(text, cls) {
      askAnswer.textContent = '';
      var p = document.createElement('p');
      if (cls) p.className = cls;
      p.textContent = text;
      askAnswer.appendChild(p);
    }
    askForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var q = askQ.value.trim();
      if (!q) { say(askForm.getAttribute('data-empty'), 'error'); askQ.focus(); return; }
      if (askPos === null) holdMoment();
      var btn = askForm.querySelector('button[type="submit"]');
      if (btn.getAttribute('aria-disabled') === 'true') return;
      btn.setAttribute('aria-disabled', 'true');
      say(askForm.getAttribute('data-sending'));
      post('chat', { question: q, position: Math.round(askPos * 10) / 10 }).then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      }).then(function (a) {
        askAnswer.textContent = '';
        var p = document.createElement('p');
        if (a.answered) {
          askAnswer.setAttribute('data-kind', 'answer');
          var label = document.createElement('strong');
          label.textContent = askForm.getAttribute('data-answer') + ': ';
          p.appendChild(label);
          p.appendChild(document.createTextNode(a.answer || ''));
        } else {
          askAnswer.setAttribute('data-kind', 'escalate');
          askAnswer.setAttribute('data-mode', a.mode || '');
          p.textContent = a.reply || askForm.getAttribute(a.mode === 'callback' ? 'data-callback' : 'data-chat');
        }
        askAnswer.appendChild(p);
      }).catch(function () {
        say(askForm.getAttribute('data-error'), 'error');
      }).then(function () {
        btn.removeAttribute('aria-disabled');
      });
    });

    /* ---- actions: an event, then the carrier's own page in a new tab ------------------ */
    var actions = document.querySelectorAll('a[data-action]');
    for (var k = 0; k < actions.length; k++) {
      actions[k].addEventListener('click', function (e) {
        /* Sent before the link opens (keepalive outlives this page); the link itself opens
         * the new tab, so no popup blocker stands in the way. */
        sendEvent({ type: 'action', id: e.currentTarget.getAttribute('data-action') });
      });
    }

    /* ---- overlay mode: the slots' texts drawn over the shared video -------------------- */
    var layer = $('overlay');
    var slotEls = [];
    function buildOverlay() {
      if (slotEls.length || !ov) return;
      ov.slots.forEach(function (s) {
        var el = document.createElement('div');
        el.className = 'slot align-' + (s.align || 'left');
        el.setAttribute('data-slot', s.name);
        var span = document.createElement('span');
        span.className = 'slot-text';
        span.textContent = s.text;
        el.appendChild(span);
        el.style.color = s.color || '#FFFFFF';
        if (s.background) el.style.backgroundColor = s.background;
        el.style.fontFamily = '"' + (s.font || 'Noto Sans CJK KR') + '", "Noto Sans CJK KR", "Noto Sans CJK JP", system-ui, sans-serif';
        layer.appendChild(el);
        slotEls.push({ el: el, span: span, s: s });
      });
    }
    /* Shrink-to-fit as the burned-in renderer does (libvbill/video/text.c): one line at the
     * largest size from `size` down to `min_size` (default 60% of size, at least 12 px),
     * else wrapped at the largest size that fits; the same padding inside the box. */
    function fit(o, k) {
      var s = o.s, bw = s.box[2], bh = s.box[3];
      var padY = Math.min(Math.floor(bh / 10), 12);
      var padX = Math.min(Math.floor(bh / 6), 16, Math.floor(bw / 8));
      o.el.style.padding = (padY * k) + 'px ' + (padX * k) + 'px';
      var availW = (bw - 2 * padX) * k + 0.5, availH = (bh - 2 * padY) * k + 0.5;
      var max = s.size || 56;
      var min = s.min_size || Math.max(12, Math.floor((max * 6 + 5) / 10));
      if (min > max) min = max;
      function fits(px, wrap) {
        o.el.classList.toggle('wrap', wrap);
        o.span.style.maxWidth = wrap ? availW + 'px' : 'none';
        o.span.style.fontSize = (px * k) + 'px';
        return o.span.scrollWidth <= availW && o.span.offsetHeight <= availH;
      }
      function largest(lo, hi, wrap) { /* the largest px in [lo, hi] that fits, or -1 */
        var best = -1;
        while (lo <= hi) {
          var mid = (lo + hi) >> 1;
          if (fits(mid, wrap)) { best = mid; lo = mid + 1; } else hi = mid - 1;
        }
        return best;
      }
      var px = fits(max, false) ? max : largest(min, max - 1, false);
      var wrap = false;
      if (px < 0) { wrap = true; px = largest(min, max, true); if (px < 0) px = min; }
      fits(px, wrap);
      o.el.setAttribute('data-size', String(px));
    }
    function layoutOverlay() {
      if (!overlayActive) return;
      var W = data.video.width || video.videoWidth || 1280;
      var H = data.video.height || video.videoHeight || 720;
      var cw = video.clientWidth, ch = video.clientHeight;
      if (!cw || !ch) return;
      var k = Math.min(cw / W, ch / H);
      var ox = video.offsetLeft + (cw - W * k) / 2, oy = video.offsetTop + (ch - H * k) / 2;
      slotEls.forEach(function (o) {
        var b = o.s.box;
        o.el.style.left = (ox + b[0] * k) + 'px';
        o.el.style.top = (oy + b[1] * k) + 'px';
        o.el.style.width = (b[2] * k) + 'px';
        o.el.style.height = (b[3] * k) + 'px';
        fit(o, k);
      });
    }
    function showSlots(now) {
      for (var i = 0; i < slotEls.length; i++) {
        var s = slotEls[i].s;
        slotEls[i].el.classList.toggle('on', overlayActive && now >= s.from && now < s.to);
      }
    }
    function onFrame(ts, meta) {
      showSlots(meta && typeof meta.mediaTime === 'number' ? meta.mediaTime : video.currentTime);
      if (overlayActive) video.requestVideoFrameCallback(onFrame);
    }
    function setOverlay(on) {
      overlayActive = on;
      stage.classList.toggle('overlay-on', on);
      layer.hidden = !on;
      if (on) {
        buildOverlay();
        layoutOverlay();
        if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onFrame);
      }
      showSlots(video.currentTime);
    }
    ['timeupdate', 'seeked', 'seeking', 'loadeddata'].forEach(function (ev) {
      video.addEventListener(ev, function () { showSlots(video.currentTime); });
    });
    if (window.ResizeObserver) new ResizeObserver(layoutOverlay).observe(video);
    else window.addEventListener('resize', layoutOverlay);

    /* Where only the video element goes fullscreen (iOS, or the browser's own button), the
     * overlay cannot follow: switch to the burned-in rendition at the same position. */
    function hlsMode() { return mode === 'mp4' ? pickMode() : mode; }
    function toBurned() {
      if (!overlayActive) return;
      setOverlay(false);
      attach(hlsMode(), data.video.hls, video.currentTime, !video.paused);
    }
    function toOverlay() {
      if (overlayActive || !overlayWanted || mode === 'mp4') return;
      attach(mode, ov.hls, video.currentTime, !video.paused);
      setOverlay(true);
    }
    video.addEventListener('webkitbeginfullscreen', toBurned);
    video.addEventListener('webkitendfullscreen', toOverlay);
    function onFullscreen() {
      var fs = document.fullscreenElement || document.webkitFullscreenElement;
      if (fs === video) toBurned();
      else if (!fs) toOverlay();
    }
    document.addEventListener('fullscreenchange', onFullscreen);
    document.addEventListener('webkitfullscreenchange', onFullscreen);

    /* ---- go ------------------------------------------------------------------------- */
    var first = pickMode();
    if (!first) { fail(); return; }
    if (overlayWanted && first !== 'mp4') {
      attach(first, ov.hls, 0, false);
      setOverlay(true);
    } else {
      layer.hidden = true;
      attach(first, first === 'mp4' ? data.video.mp4 : data.video.hls, 0, false);
    }
    syncPlay();
  }

  function boot() {
    readData().then(start, function () {
      var s = $('video-status');
      if (s) s.textContent = s.getAttribute('data-error') || '';
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
