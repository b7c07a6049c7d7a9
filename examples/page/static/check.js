/* check.js: a convenience on top of the check page, which works without it (a plain form
 * POST checked by the browser's pattern).  It keeps only digits (a pasted "58-03-14" or
 * "580314 " becomes 580314), stops at six, and says what is missing in the page's live
 * region instead of the browser's tooltip. */
(function () {
  'use strict';
  var input = document.getElementById('digits');
  if (!input || !input.form) return;
  var form = input.form;
  var live = document.getElementById('digits-live');
  form.noValidate = true;

  function clean(v) {
    /* Full-width digits (a Japanese keyboard) count as digits too. */
    v = v.replace(/[\uFF10-\uFF19]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xFF10 + 48);
    });
    return v.replace(/[^0-9]/g, '').slice(0, 6);
  }

  input.addEventListener('input', function () {
    var v = clean(input.value);
    if (v !== input.value) input.value = v;
    if (v.length === 6 && live.textContent) {
      live.textContent = '';
      input.removeAttribute('aria-invalid');
    }
  });

  form.addEventListener('submit', function (e) {
    input.value = clean(input.value);
    if (!/^[0-9]{6}$/.test(input.value)) {
      e.preventDefault();
      live.textContent = form.getAttribute('data-invalid') || '';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    var b = form.querySelector('button[type=submit]');
    /* One submission: a second tap while the first is on its way would spend a try. */
    if (form.getAttribute('data-sent')) { e.preventDefault(); return; }
    form.setAttribute('data-sent', '1');
    if (b) b.setAttribute('aria-disabled', 'true');
  });
  /* Back to this page from the history (bfcache): the form can be sent again. */
  window.addEventListener('pageshow', function () {
    form.removeAttribute('data-sent');
    var b = form.querySelector('button[type=submit]');
    if (b) b.removeAttribute('aria-disabled');
  });
})();
