"use strict";
/* The simulated phone's system: its data, the screen stack, touch gestures, the status and navigation
   bars, the launcher and the overlays (dialogs, menus, bottom sheets, toasts).

   All data lives in phone.state, the PhoneState of world.py, which Python passes to phone.boot() and
   task checks read back as JSON. Apps (settings.js, contacts.js, ...) register with phone.app() and
   draw their screens from phone.state on every render; what the user is typing lives in the screen's
   own entry (entry.params.draft) until it is saved, as on a real phone. */
(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ICONS = {
    up: "M20 11H7.83l5.59-5.59L12 4l-8 8 8 8 1.41-1.41L7.83 13H20v-2z",
    plus: "M19 13h-6v6h-2v-6H5v-2h6V5h2v6h6v2z",
    more: "M12 8a2 2 0 1 0 0-4 2 2 0 0 0 0 4zm0 2a2 2 0 1 0 0 4 2 2 0 0 0 0-4zm0 6a2 2 0 1 0 0 4 2 2 0 0 0 0-4z",
    star: "M12 17.27 18.18 21l-1.64-7.03L22 9.24l-7.19-.61L12 2 9.19 8.63 2 9.24l5.46 4.73L5.82 21z",
    starOutline:
      "M22 9.24l-7.19-.62L12 2 9.19 8.63 2 9.24l5.46 4.73L5.82 21 12 17.27 18.18 21l-1.63-7.03L22 9.24zM12 15.4l-3.76 2.27 1-4.28-3.32-2.88 4.38-.38L12 6.1l1.71 4.04 4.38.38-3.32 2.88 1 4.28L12 15.4z",
    send: "M2.01 21 23 12 2.01 3 2 10l15 2-15 2z",
    trash: "M6 19c0 1.1.9 2 2 2h8c1.1 0 2-.9 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z",
    edit: "M3 17.25V21h3.75L17.81 9.94l-3.75-3.75L3 17.25zM20.71 7.04a1 1 0 0 0 0-1.41l-2.34-2.34a1 1 0 0 0-1.41 0l-1.83 1.83 3.75 3.75 1.83-1.83z",
    call: "M6.6 10.8c1.4 2.8 3.8 5.1 6.6 6.6l2.2-2.2c.3-.3.7-.4 1-.2 1.1.4 2.3.6 3.6.6.6 0 1 .4 1 1V20c0 .6-.4 1-1 1C10.6 21 3 13.4 3 4c0-.6.4-1 1-1h3.5c.6 0 1 .4 1 1 0 1.3.2 2.5.6 3.6.1.3 0 .7-.2 1l-2.3 2.2z",
    message: "M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2z",
    wifi: "M1 9l2 2c5-5 13-5 18 0l2-2C16.9 2.9 7.1 2.9 1 9zm8 8 3 3 3-3c-1.7-1.7-4.3-1.7-6 0zm-4-4 2 2c2.8-2.8 7.2-2.8 10 0l2-2c-3.9-3.9-10.1-3.9-14 0z",
    bluetooth:
      "M17.7 7.7 12 2h-1v7.6L6.4 5 5 6.4l5.6 5.6L5 17.6 6.4 19l4.6-4.6V22h1l5.7-5.7-4.3-4.3 4.3-4.3zM13 5.8l1.9 1.9L13 9.6V5.8zm1.9 10.5L13 18.2v-3.8l1.9 1.9z",
    airplane: "M21 16v-2l-8-5V3.5c0-.8-.7-1.5-1.5-1.5S10 2.7 10 3.5V9l-8 5v2l8-2.5V19l-2 1.5V22l3.5-1 3.5 1v-1.5L13 19v-5.5l8 2.5z",
    dnd: "M12 2C6.5 2 2 6.5 2 12s4.5 10 10 10 10-4.5 10-10S17.5 2 12 2zm5 11H7v-2h10v2z",
    battery: "M15.7 4H14V2h-4v2H8.3C7.6 4 7 4.6 7 5.3v15.3c0 .8.6 1.4 1.3 1.4h7.3c.8 0 1.4-.6 1.4-1.3V5.3C17 4.6 16.4 4 15.7 4z",
    location: "M12 2C8.1 2 5 5.1 5 9c0 5.3 7 13 7 13s7-7.8 7-13c0-3.9-3.1-7-7-7zm0 9.5a2.5 2.5 0 0 1 0-5 2.5 2.5 0 0 1 0 5z",
    display: "M20 3H4c-1.1 0-2 .9-2 2v11c0 1.1.9 2 2 2h4v2h8v-2h4c1.1 0 2-.9 2-2V5c0-1.1-.9-2-2-2zm0 13H4V5h16v11z",
    sound: "M3 9v6h4l5 5V4L7 9H3zm13.5 3A4.5 4.5 0 0 0 14 8v8c1.5-.7 2.5-2.2 2.5-4z",
    info: "M12 2C6.5 2 2 6.5 2 12s4.5 10 10 10 10-4.5 10-10S17.5 2 12 2zm1 15h-2v-6h2v6zm0-8h-2V7h2v2z",
    devices: "M4 6h18V4H4c-1.1 0-2 .9-2 2v11H0v3h14v-3H4V6zm19 2h-6c-.6 0-1 .4-1 1v10c0 .6.4 1 1 1h6c.6 0 1-.4 1-1V9c0-.6-.4-1-1-1zm-1 9h-4v-7h4v7z",
    gear: "M19.1 12.9c.1-.3.1-.6.1-.9s0-.6-.1-.9l2-1.6c.2-.1.2-.4.1-.6l-1.9-3.3c-.1-.2-.4-.3-.6-.2l-2.4 1c-.5-.4-1-.7-1.6-.9l-.4-2.5c0-.3-.2-.4-.5-.4h-3.8c-.2 0-.4.2-.5.4l-.4 2.5c-.6.2-1.1.6-1.6.9l-2.4-1c-.2-.1-.5 0-.6.2L2.7 8.9c-.1.2-.1.5.1.6l2 1.6c0 .3-.1.6-.1.9s0 .6.1.9l-2 1.6c-.2.1-.2.4-.1.6l1.9 3.3c.1.2.4.3.6.2l2.4-1c.5.4 1 .7 1.6.9l.4 2.5c0 .2.2.4.5.4h3.8c.2 0 .4-.2.5-.4l.4-2.5c.6-.2 1.1-.6 1.6-.9l2.4 1c.2.1.5 0 .6-.2l1.9-3.3c.1-.2.1-.5-.1-.6l-2.1-1.6zM12 15.6c-2 0-3.6-1.6-3.6-3.6S10 8.4 12 8.4s3.6 1.6 3.6 3.6-1.6 3.6-3.6 3.6z",
    person: "M12 12c2.2 0 4-1.8 4-4s-1.8-4-4-4-4 1.8-4 4 1.8 4 4 4zm0 2c-2.7 0-8 1.3-8 4v2h16v-2c0-2.7-5.3-4-8-4z",
    clock: "M12 2C6.5 2 2 6.5 2 12s4.5 10 10 10 10-4.5 10-10S17.5 2 12 2zm0 18c-4.4 0-8-3.6-8-8s3.6-8 8-8 8 3.6 8 8-3.6 8-8 8zm.5-13H11v6l5.3 3.2.8-1.2-4.5-2.7z",
    note: "M14 2H6c-1.1 0-2 .9-2 2v16c0 1.1.9 2 2 2h12c1.1 0 2-.9 2-2V8l-6-6zm2 16H8v-2h8v2zm0-4H8v-2h8v2zm-3-5V3.5L18.5 9H13z",
    calendar: "M19 4h-1V2h-2v2H8V2H6v2H5c-1.1 0-2 .9-2 2v14c0 1.1.9 2 2 2h14c1.1 0 2-.9 2-2V6c0-1.1-.9-2-2-2zm0 16H5V10h14v10zM7 12h5v5H7z",
    battery_saver: "M15.7 4H14V2h-4v2H8.3C7.6 4 7 4.6 7 5.3v15.3c0 .8.6 1.4 1.3 1.4h7.3c.8 0 1.4-.6 1.4-1.3V5.3C17 4.6 16.4 4 15.7 4zM15 14h-2v2h-2v-2H9v-2h2v-2h2v2h2v2z",
    navBack: "M17 4.5v15L5.5 12z",
    navHome: "M12 4a8 8 0 1 0 0 16 8 8 0 0 0 0-16z",
    navMenu: "M3 6h18v2H3zm0 5h18v2H3zm0 5h18v2H3z",
  };
  const AVATAR_COLORS = ["#6750a4", "#386a20", "#a3336d", "#00658f", "#8c4f00", "#5b5f72", "#b3261e", "#006a60"];
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  const LONG_PRESS_MS = 500;
  const TOUCH_SLOP = 10;

  // -- DOM helpers ------------------------------------------------------------------------------------

  /** An element: props are attributes, except class, text, style, value, on<Event> and longPress. */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key === "value") el.value = value;
      else if (key === "longPress") onLongPress(el, value);
      else if (key.startsWith("on")) el.addEventListener(key.slice(2).toLowerCase(), value);
      else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function icon(name) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  // -- gestures: long press (Android fires it after 500 ms without moving), and what follows it -----------

  const longPressHandlers = new WeakMap();
  let press = null;
  let swallowClick = false;

  function onLongPress(el, handler) {
    longPressHandlers.set(el, handler);
    el.setAttribute("data-longpress", "");
  }

  function cancelPress() {
    if (press) clearTimeout(press.timer);
    press = null;
  }

  document.addEventListener("pointerdown", (event) => {
    cancelPress();
    swallowClick = false;
    hideToast();
    const target = event.target.closest("[data-longpress]");
    if (!target) return;
    const fire = () => {
      cancelPress();
      swallowClick = true; // the finger lifting after a long press is not a tap
      longPressHandlers.get(target)();
    };
    press = { x: event.clientX, y: event.clientY, down: event.timeStamp, fire, timer: setTimeout(fire, LONG_PRESS_MS) };
  }, true);
  document.addEventListener("pointermove", (event) => {
    if (press && Math.hypot(event.clientX - press.x, event.clientY - press.y) > TOUCH_SLOP) cancelPress();
  }, true);
  document.addEventListener("pointerup", (event) => {
    // A busy page may run the timer late; the finger's own timestamps still tell a long press.
    if (press && event.timeStamp - press.down >= LONG_PRESS_MS) press.fire();
    cancelPress();
  }, true);
  document.addEventListener("pointercancel", cancelPress, true);
  document.addEventListener("click", (event) => {
    if (!swallowClick) return;
    swallowClick = false;
    event.stopPropagation();
    event.preventDefault();
  }, true);
  document.addEventListener("contextmenu", (event) => event.preventDefault());
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") phone.back();
  });

  let lastScroll = -Infinity;
  document.addEventListener("scroll", () => { lastScroll = performance.now(); }, true);
  const nextFrame = () => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

  // -- the phone ---------------------------------------------------------------------------------------

  const $ = (selector) => document.querySelector(selector);
  let shown = null; // the stack entry whose screen is in #main (its scroll positions are saved on change)
  let toastText = null;

  const phone = {
    state: null,
    ui: { stack: [], overlay: null },
    apps: new Map(),
    h,
    icon,

    /** Register an app: {id, label, color, glyph, aliases, screens: {root(ctx), ...}}. */
    app(definition) {
      this.apps.set(definition.id, definition);
    },

    /** Start from a PhoneState: the launcher, nothing open, no gesture or toast left from before. */
    boot(state) {
      cancelPress();
      swallowClick = false;
      lastScroll = -Infinity;
      if (document.activeElement) document.activeElement.blur();
      this.state = state;
      this.ui = { stack: [], overlay: null };
      shown = null;
      toastText = null;
      render();
      return true;
    },

    appList() {
      return [...this.apps.values()].map((app) => ({ id: app.id, label: app.label, aliases: app.aliases || [] }));
    },

    top() {
      return this.ui.stack[this.ui.stack.length - 1] || null;
    },

    /** Open an app at its first screen, as its launcher icon (or an intent) does. */
    launch(id) {
      leaveTop();
      this.ui.overlay = null;
      this.ui.stack = [{ app: id, screen: "root", params: {}, scroll: {} }];
      render();
    },

    push(screen, params = {}) {
      this.ui.overlay = null;
      this.ui.stack.push({ app: this.top().app, screen, params, scroll: {} });
      render();
    },

    /** Leave the current screen without running its leave hook (it has already done its work). */
    pop() {
      this.ui.overlay = null;
      this.ui.stack.pop();
      render();
    },

    back() {
      if (this.ui.overlay) return this.closeOverlay();
      if (!this.ui.stack.length) return;
      leaveTop();
      this.ui.stack.pop();
      render();
    },

    home() {
      leaveTop();
      this.ui.overlay = null;
      this.ui.stack = [];
      render();
    },

    /** The Menu key: the current screen's options menu (the same as its "More options" button). */
    menu() {
      if (this.ui.overlay && this.ui.overlay.kind === "menu") return this.closeOverlay();
      const items = currentMenu();
      if (items.length) {
        this.ui.overlay = { kind: "menu", items };
        render();
      }
    },

    /** Hardware keys the system handles itself (the env sends the rest to the focused field). */
    key(code) {
      const settings = this.state.settings;
      if (code === "VOLUME_UP") settings.volume = Math.min(100, settings.volume + 10);
      else if (code === "VOLUME_DOWN") settings.volume = Math.max(0, settings.volume - 10);
      else if (code === "VOLUME_MUTE") settings.volume = 0;
      else return false;
      this.toast(`Media volume ${settings.volume}%`);
      return true;
    },

    update(change) {
      change(this.state);
      render();
    },

    dialog(spec) {
      this.ui.overlay = { kind: "dialog", ...spec };
      render();
    },

    sheet(title, items) {
      this.ui.overlay = { kind: "sheet", title, items };
      render();
    },

    closeOverlay() {
      this.ui.overlay = null;
      render();
    },

    toast(text) {
      toastText = text;
      render();
    },

    newId() {
      this.state.next_id += 1;
      return this.state.next_id - 1;
    },

    /** The phone's clock (fixed per episode): "HH:MM" and the date. */
    clock() {
      return this.state.now.slice(11, 16);
    },
    today() {
      return this.state.now.slice(0, 10);
    },

    /** Resolves once the screen shows the last input: a frame drawn (taps re-render at once) and, after
        a swipe, no scrolling for 60 ms. */
    async settled() {
      const started = performance.now();
      await nextFrame();
      if (performance.now() - lastScroll > 150) return true;
      while (performance.now() - lastScroll < 60 && performance.now() - started < 2000) await sleep(20);
      await nextFrame();
      return true;
    },

    render() {
      render();
    },
  };

  // -- shared widgets (phone.kit) ----------------------------------------------------------------------

  function avatarColor(name) {
    let hash = 0;
    for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return AVATAR_COLORS[hash % AVATAR_COLORS.length];
  }

  function formatDate(iso, style = "long") {
    const [year, month, day] = iso.split("-").map(Number);
    const weekday = WEEKDAYS[new Date(Date.UTC(year, month - 1, day)).getUTCDay()];
    if (style === "short") return `${weekday.slice(0, 3)}, ${MONTHS[month - 1].slice(0, 3)} ${day}`;
    if (style === "day") return `${weekday}, ${MONTHS[month - 1]} ${day}`;
    return `${weekday}, ${MONTHS[month - 1]} ${day}, ${year}`;
  }

  phone.kit = {
    formatDate,

    appBar({ title = "", up = true, actions = [], ctx = null }) {
      const items = ctx && ctx.menu ? ctx.menu : [];
      return h("div", { class: "appbar" },
        up ? h("button", { class: "icon-btn", "aria-label": "Navigate up", onClick: () => phone.back() }, icon("up")) : null,
        h("div", { class: "title", role: "heading" }, title),
        actions,
        items.length
          ? h("button", { class: "icon-btn", "aria-label": "More options", onClick: () => phone.menu() }, icon("more"))
          : null);
    },

    iconButton(name, label, onClick) {
      return h("button", { class: "icon-btn", "aria-label": label, onClick }, icon(name));
    },

    avatar(name) {
      return h("div", { class: "avatar", style: `background:${avatarColor(name)}` }, (name.trim()[0] || "#").toUpperCase());
    },

    row({ primary, secondary = null, lead = null, trail = null, onClick = null, longPress = null, label = null }) {
      return h("button", { class: "row", onClick, longPress, "aria-label": label },
        lead,
        h("div", { class: "text" },
          h("div", { class: "primary" }, primary),
          secondary !== null ? h("div", { class: "secondary" }, secondary) : null),
        trail);
    },

    /** A settings row whose whole width toggles the switch, as on Android. */
    switchRow({ title, subtitle = null, checked, onToggle }) {
      return h("button", { class: "row", onClick: () => onToggle(!checked) },
        h("div", { class: "text" },
          h("div", { class: "primary" }, title),
          subtitle ? h("div", { class: "secondary" }, subtitle) : null),
        h("div", { class: "switch", role: "switch", "aria-checked": String(checked), "aria-label": title }));
    },

    /** A 0-100 slider: a tap or a drag on the track sets the value where the finger is. */
    slider({ title, value, onChange }) {
      const fill = h("div", { class: "fill", style: `width:${value}%` });
      const thumb = h("div", { class: "thumb", style: `left:${value}%` });
      const valueText = h("span", { class: "value" }, `${value}%`);
      const slider = h("div", {
        class: "slider", role: "slider", "aria-label": title, "aria-valuemin": "0", "aria-valuemax": "100",
        "aria-valuenow": String(value),
      }, h("div", { class: "track" }), fill, thumb);
      let current = value;
      const at = (event) => {
        const rect = slider.getBoundingClientRect();
        current = Math.round(Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1) * 100);
        fill.style.width = `${current}%`;
        thumb.style.left = `${current}%`;
        valueText.textContent = `${current}%`;
        slider.setAttribute("aria-valuenow", String(current));
      };
      slider.addEventListener("pointerdown", (event) => {
        slider.setPointerCapture(event.pointerId);
        at(event);
      });
      slider.addEventListener("pointermove", (event) => {
        if (slider.hasPointerCapture(event.pointerId)) at(event);
      });
      slider.addEventListener("pointerup", (event) => {
        at(event);
        onChange(current);
      });
      return h("div", { class: "slider-row" }, h("div", { class: "primary" }, title, valueText), slider);
    },

    /** A labelled text field whose text lives in draft[key] until the screen saves it; a clearable
        one has Material's trailing "clear text" button while it holds text. */
    field({ label, draft, key, multiline = false, placeholder = "", inputmode = null, onEnter = null, clearable = false }) {
      const clear = clearable
        ? h("button", { class: "clear", type: "button", "aria-label": `Clear ${label}`, hidden: !draft[key] }, "\u2715")
        : null;
      const input = h(multiline ? "textarea" : "input", {
        "aria-label": label, placeholder, inputmode, value: draft[key] || "", autocomplete: "off", spellcheck: "false",
        onInput: (event) => {
          draft[key] = event.target.value;
          if (clear) clear.hidden = !draft[key];
        },
        onKeydown: onEnter ? (event) => { if (event.key === "Enter") { event.preventDefault(); onEnter(); } } : null,
      });
      if (clear) {
        clear.addEventListener("click", (event) => {
          event.preventDefault();
          draft[key] = "";
          input.value = "";
          clear.hidden = true;
          input.focus();
        });
      }
      return h("label", { class: "field" }, h("span", {}, label), h("div", { class: "input-wrap" }, input, clear));
    },

    fab({ label, text = null, glyph = "plus", onClick }) {
      return h("button", { class: "fab", "aria-label": label, onClick }, icon(glyph), text);
    },

    section(text) {
      return h("div", { class: "section" }, text);
    },

    confirm({ title, body, action, run }) {
      phone.dialog({
        title, body,
        buttons: [
          { label: "Cancel", run: () => {} },
          { label: action, primary: true, run },
        ],
      });
    },
  };

  // -- rendering ----------------------------------------------------------------------------------------

  function leaveTop() {
    const top = phone.top();
    if (top && top.onLeave) top.onLeave();
  }

  function currentMenu() {
    const top = phone.top();
    if (!top) return [{ label: "Settings", run: () => phone.launch("settings") }];
    return top.menu || [];
  }

  function statusBar() {
    const { settings } = phone.state;
    return [
      h("span", { class: "time" }, phone.clock()),
      h("span", { class: "icons" },
        settings.do_not_disturb ? h("span", { "aria-label": "Do Not Disturb on" }, icon("dnd")) : null,
        settings.bluetooth ? h("span", { "aria-label": "Bluetooth on" }, icon("bluetooth")) : null,
        settings.airplane_mode ? h("span", { "aria-label": "Airplane mode on" }, icon("airplane")) : null,
        settings.wifi ? h("span", { "aria-label": "Wi-Fi on" }, icon("wifi")) : null,
        h("span", { "aria-label": `Battery ${phone.state.battery}%` }, icon("battery")),
        h("span", {}, `${phone.state.battery}%`)),
    ];
  }

  function navBar() {
    return [
      h("button", { "aria-label": "Back", onClick: () => phone.back() }, icon("navBack")),
      h("button", { "aria-label": "Home", onClick: () => phone.home() }, icon("navHome")),
      h("button", { "aria-label": "Menu", onClick: () => phone.menu() }, icon("navMenu")),
    ];
  }

  function launcher() {
    const date = formatDate(phone.today(), "day");
    return h("div", { class: "launcher" },
      h("div", { class: "clock" }, phone.clock()),
      h("div", { class: "date" }, date),
      h("div", { class: "grid" },
        [...phone.apps.values()].map((app) =>
          h("button", { class: "app-icon", "aria-label": app.label, onClick: () => phone.launch(app.id) },
            h("div", { class: "glyph", style: `background:${app.color}` }, icon(app.glyph)),
            h("span", {}, app.label)))));
  }

  function overlay() {
    const spec = phone.ui.overlay;
    if (!spec) return [];
    const choose = (item) => () => {
      phone.ui.overlay = null;
      item.run();
      render();
    };
    let box;
    if (spec.kind === "menu") {
      box = h("div", { class: "menu", role: "menu" },
        spec.items.map((item) => h("button", { role: "menuitem", onClick: choose(item) }, item.label)));
    } else if (spec.kind === "sheet") {
      box = h("div", { class: "sheet", role: "menu" },
        spec.title ? h("div", { class: "stitle" }, spec.title) : null,
        spec.items.map((item) => h("button", { role: "menuitem", onClick: choose(item) }, item.label)));
    } else {
      box = h("div", { class: "dialog", role: "dialog" },
        h("div", { class: "dtitle" }, spec.title),
        spec.body ? h("div", { class: "dbody" }, spec.body) : null,
        (spec.choices || []).map((choice) =>
          h("button", { class: "choice", role: "radio", "aria-checked": String(!!choice.checked), onClick: choose(choice) },
            h("span", { class: "radio", "aria-checked": String(!!choice.checked) }), choice.label)),
        h("div", { class: "dbuttons" },
          (spec.buttons || []).map((button) =>
            h("button", { class: "text-btn", onClick: choose(button) }, button.label))));
    }
    return [h("div", { class: "scrim", onClick: () => phone.closeOverlay() }), box];
  }

  function hideToast() {
    if (toastText === null) return;
    toastText = null;
    const el = $("#phone > .toast");
    if (el) el.remove();
  }

  function saveScroll() {
    if (!shown) return;
    for (const el of $("#main").querySelectorAll("[data-scroll-key]")) shown.scroll[el.dataset.scrollKey] = el.scrollTop;
  }

  function restoreScroll(entry) {
    for (const el of $("#main").querySelectorAll("[data-scroll-key]")) {
      const saved = entry.scroll[el.dataset.scrollKey];
      el.scrollTop = saved !== undefined ? saved : el.dataset.scrollStart === "end" ? el.scrollHeight : 0;
    }
  }

  function render() {
    saveScroll();
    const { settings } = phone.state;
    $("#phone").classList.toggle("dark", !!settings.dark_theme);
    $("#dim").style.opacity = String(((100 - settings.brightness) / 100) * 0.3);
    $("#status").replaceChildren(...statusBar());
    $("#phone").classList.toggle("home", !phone.top());
    $("#status").style.color = phone.top() ? "var(--text)" : "#fff";
    $("#nav").replaceChildren(...navBar());
    const entry = phone.top();
    let screen;
    if (entry) {
      const app = phone.apps.get(entry.app);
      const ctx = { state: phone.state, entry, params: entry.params, menu: null, onLeave: null };
      ctx.menu = app.menus && app.menus[entry.screen] ? app.menus[entry.screen](ctx) : null;
      screen = app.screens[entry.screen](ctx);
      entry.menu = ctx.menu;
      entry.onLeave = ctx.onLeave;
    } else {
      screen = launcher();
    }
    $("#main").replaceChildren(screen);
    if (entry) restoreScroll(entry);
    shown = entry;
    $("#overlay").replaceChildren(...overlay());
    const old = $("#phone > .toast");
    if (old) old.remove();
    if (toastText !== null) $("#phone").append(h("div", { class: "toast", role: "status" }, toastText));
  }

  window.phone = phone;
})();
