"""Scripts pixelpilot runs inside web pages: plain strings, so that what needs them (an Android oracle on the
simulator, a MiniWoB oracle) does not import Playwright to get them."""

from __future__ import annotations

NAVIGATING_FLAG = "__pixelpilotNavigating"
REQUESTS_COUNTER = "__pixelpilotRequests"
MUTATIONS_COUNTER = "__pixelpilotMutations"
PAINTED_MUTATIONS = "__pixelpilotPainted"
PAGE_WATCH_JS = f"""(() => {{
  const carets = new CSSStyleSheet();
  carets.replaceSync("*, *::before, *::after {{ caret-color: transparent !important; }}");
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, carets];
  window.{MUTATIONS_COUNTER} = 0;
  new MutationObserver(records => {{ window.{MUTATIONS_COUNTER} += records.length; }})
    .observe(document, {{subtree: true, childList: true, attributes: true, characterData: true}});
  const painted = () => {{ window.{PAINTED_MUTATIONS} = window.{MUTATIONS_COUNTER}; }};
  for (const type of ["pointermove", "pointerdown", "pointerup", "click", "keydown", "keyup", "input", "wheel"])
    window.addEventListener(type, () => {{
      window.{PAINTED_MUTATIONS} = -1;
      requestAnimationFrame(painted);
    }}, true);
  window.navigation?.addEventListener("navigate", () => {{ window.{NAVIGATING_FLAG} = true; }});
  const started = url => {{
    try {{ if (!/^https?:$/.test(new URL(url, location.href).protocol)) return; }} catch {{ return; }}
    window.{REQUESTS_COUNTER} = (window.{REQUESTS_COUNTER} || 0) + 1;
  }};
  const fetch = window.fetch;
  if (fetch) window.fetch = function (input, init) {{
    started(input instanceof Request ? input.url : String(input));
    return fetch.apply(this, arguments);
  }};
  const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {{
    this.{REQUESTS_COUNTER} = String(url);
    return open.apply(this, arguments);
  }};
  XMLHttpRequest.prototype.send = function () {{
    started(this.{REQUESTS_COUNTER});
    return send.apply(this, arguments);
  }};
}})();"""
"""An init script: notes, in the page, that it asked for a navigation (a link, a form, ``location``), how
many ``fetch`` / XHR requests it started, and whether the DOM changed after the first frame that followed
the last input (so that a screenshot taken right after an action is known to still show the page). It
hides text carets the way Playwright's screenshots do, with a style sheet instead of per-element styles,
so that taking a screenshot changes nothing in the DOM."""
_TAKE_STATE_JS = f"""() => {{
  const state = [
    window.{NAVIGATING_FLAG} === true,
    window.{REQUESTS_COUNTER} || 0,
    window.{PAINTED_MUTATIONS} === window.{MUTATIONS_COUNTER},
  ];
  window.{NAVIGATING_FLAG} = false;
  window.{REQUESTS_COUNTER} = 0;
  return state;
}}"""
"""What the page set off since the last settle: [asked for a navigation, requests started, DOM unchanged since
the first frame after the last input]."""
SETTLE_JS = f"() => new Promise(done => requestAnimationFrame(() => setTimeout(() => done(({_TAKE_STATE_JS})()), 0)))"
"""One frame and a task turn after an action: its handlers have run, and whether it asked for a
navigation and how many requests it started since the last settle are known."""
SHOWN_JS = f"() => new Promise(done => setTimeout(() => done(({_TAKE_STATE_JS})()), 0))"
"""``SETTLE_JS`` without the frame, for a screenshot already taken right after the action: a task turn
later, also whether the DOM is as it was in the first frame after the input (no frame yet, or a change
since: the screenshot may be stale)."""
NEXT_FRAME_JS = "() => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)))"
"""Resolves once the next frame has been produced (e.g. after a wheel event has scrolled)."""

# Whether element is what shows (on top) at a CSS-pixel point of the viewport: it, a child, or its label.
SHOWS_AT_JS = """(el, [x, y]) => {
  if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) return false;
  const top = document.elementFromPoint(x, y);
  return top !== null && (top === el || el.contains(top) || top.control === el);
}"""

# Where a person would touch an element: a point of it that is really on top there (not under a dialog or
# an overlapping button), nearest ``at`` (fractions of its first line box, [0.5, 0.5] its centre); null when
# none is. Wrapped inline links count by their line boxes, a label for its control.
VISIBLE_POINT_JS = (
    """(el, at) => {
  const hit = (x, y) => ("""
    + SHOWS_AT_JS
    + """)(el, [x, y]);
  for (const r of el.getClientRects()) {
    if (r.width < 1 || r.height < 1) continue;
    const cx = r.left + r.width * at[0], cy = r.top + r.height * at[1];
    if (hit(cx, cy)) return [cx, cy];
    const points = [];
    for (let i = 1; i < 10; i++) for (let j = 1; j < 10; j++)
      points.push([r.left + r.width * i / 10, r.top + r.height * j / 10]);
    points.sort((a, b) => Math.hypot(a[0] - cx, a[1] - cy) - Math.hypot(b[0] - cx, b[1] - cy));
    for (const [x, y] of points) if (hit(x, y)) return [x, y];
  }
  return null;
}"""
)

# The element an action would reach, for approval hooks: the one at a point (CSS px) or, with no point,
# the focused one; climbs to the nearest clickable ancestor so that a click on a button's icon names the
# button. Returns {tag, text, input_type} or null.
TARGET_JS = """(point) => {
  let el = point ? document.elementFromPoint(point[0], point[1]) : document.activeElement;
  if (!el || el === document.body) return null;
  const clickable = el.closest('a, button, input, select, textarea, [role=button], [onclick], label');
  if (point && clickable) el = clickable;
  const text = (el.innerText || el.value || el.getAttribute('aria-label') || el.title || '').trim();
  const type = el.tagName === 'INPUT' ? (el.getAttribute('type') || 'text').toLowerCase() : null;
  return {tag: el.tagName.toLowerCase(), text: text.slice(0, 200), input_type: type};
}"""

# Every word of the page's visible text and its box (CSS px, the viewport's), for a reading stage's labels.
# Text nodes only, so an input's typed value is left out; words outside the viewport, in hidden or
# transparent elements, or in <script>/<style> are left out. Returns [[word, left, top, right, bottom], ...].
WORDS_JS = """() => {
  const words = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  while (walker.nextNode()) {
    const node = walker.currentNode, parent = node.parentElement;
    if (!parent || parent.closest('script, style, noscript')) continue;
    const style = getComputedStyle(parent);
    if (style.visibility !== 'visible' || Number(style.opacity) === 0) continue;
    for (const match of node.textContent.matchAll(/\\S+/g)) {
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const r = range.getBoundingClientRect();
      if (r.width <= 0 || r.height <= 0 || r.right <= 0 || r.bottom <= 0) continue;
      if (r.left >= innerWidth || r.top >= innerHeight) continue;
      words.push([match[0], r.left, r.top, r.right, r.bottom]);
    }
  }
  return words;
}"""
