"use strict";
/* Clock: alarms (a switch each, tap to edit, long press to delete, + to add) and the time. Times are
   24-hour; the alarm form takes the hour and minute as numbers. */
(() => {
  const { h, kit } = phone;

  const pad = (n) => String(n).padStart(2, "0");
  const timeOf = (alarm) => `${pad(alarm.hour)}:${pad(alarm.minute)}`;
  const find = (id) => phone.state.alarms.find((a) => a.id === id);

  function askDelete(id, then) {
    const alarm = find(id);
    kit.confirm({
      title: "Delete alarm?",
      body: `The ${timeOf(alarm)} alarm${alarm.label ? ` "${alarm.label}"` : ""} will be deleted.`,
      action: "Delete",
      run: () => {
        phone.state.alarms = phone.state.alarms.filter((a) => a.id !== id);
        then();
        phone.toast("Alarm deleted");
      },
    });
  }

  function alarms(ctx) {
    const sorted = [...ctx.state.alarms].sort((a, b) => a.hour * 60 + a.minute - (b.hour * 60 + b.minute));
    if (!sorted.length) return h("div", { class: "empty" }, "No alarms");
    return sorted.map((alarm) => h("div", {
      class: `alarm${alarm.enabled ? "" : " off"}`,
      role: "button",
      "aria-label": `Alarm ${timeOf(alarm)}`,
      onClick: () => phone.push("edit", { id: alarm.id }),
      longPress: () => phone.sheet(`Alarm ${timeOf(alarm)}`, [{ label: "Delete", run: () => askDelete(alarm.id, () => {}) }]),
    },
    h("div", { class: "text" }, h("div", { class: "atime" }, timeOf(alarm)), h("div", { class: "alabel" }, alarm.label || "Alarm")),
    h("button", {
      class: "switch", role: "switch", "aria-checked": String(alarm.enabled), "aria-label": `Alarm ${timeOf(alarm)} on`,
      onClick: (event) => {
        event.stopPropagation();
        phone.update(() => { alarm.enabled = !alarm.enabled; });
      },
    })));
  }

  function root(ctx) {
    const tab = ctx.params.tab || "alarm";
    const tabs = h("div", { class: "tabs", role: "tablist" },
      [["alarm", "Alarm"], ["clock", "Clock"]].map(([id, label]) => h("button", {
        role: "tab", "aria-selected": String(tab === id),
        onClick: () => { ctx.params.tab = id; phone.render(); },
      }, label)));
    const body = tab === "alarm"
      ? h("div", { class: "scroll", "data-scroll-key": "alarms" }, alarms(ctx), h("div", { style: "height:88px" }))
      : h("div", { class: "scroll" },
        h("div", { class: "big-clock" }, phone.clock()),
        h("div", { class: "big-date" }, kit.formatDate(phone.today(), "day")));
    return h("div", { class: "screen" },
      kit.appBar({ title: "Clock", up: false, ctx }),
      tabs,
      body,
      tab === "alarm" ? kit.fab({ label: "Add alarm", onClick: () => phone.push("edit", { id: null }) }) : null);
  }

  function edit(ctx) {
    const existing = ctx.params.id !== null ? find(ctx.params.id) : null;
    if (!ctx.params.draft) {
      ctx.params.draft = existing
        ? { hour: String(existing.hour), minute: pad(existing.minute), label: existing.label }
        : { hour: "", minute: "", label: "" };
    }
    const draft = ctx.params.draft;
    const save = () => {
      const hour = Number(draft.hour.trim());
      const minute = Number(draft.minute.trim());
      const valid = (text, value, max) => /^\d{1,2}$/.test(text.trim()) && value >= 0 && value <= max;
      if (!valid(draft.hour, hour, 23) || !valid(draft.minute, minute, 59)) {
        ctx.params.error = "Enter an hour from 0 to 23 and a minute from 0 to 59";
        phone.render();
        return;
      }
      const label = draft.label.trim();
      if (existing) Object.assign(existing, { hour, minute, label });
      else phone.state.alarms.push({ id: phone.newId(), hour, minute, label, enabled: true });
      phone.pop();
      phone.toast(`Alarm set for ${pad(hour)}:${pad(minute)}`);
    };
    return h("div", { class: "screen" },
      h("div", { class: "appbar" },
        kit.iconButton("up", "Navigate up", () => phone.back()),
        h("div", { class: "title", role: "heading" }, existing ? "Edit alarm" : "Add alarm"),
        h("button", { class: "filled-btn", onClick: save }, "Save")),
      h("div", { class: "scroll", "data-scroll-key": "form" },
        h("div", { class: "form" },
          kit.field({ label: "Hour (0-23)", draft, key: "hour", clearable: true, inputmode: "numeric" }),
          kit.field({ label: "Minute (0-59)", draft, key: "minute", clearable: true, inputmode: "numeric" }),
          kit.field({ label: "Label", draft, key: "label", clearable: true }),
          ctx.params.error ? h("div", { class: "error", role: "alert" }, ctx.params.error) : null,
          existing
            ? h("button", { class: "text-btn", onClick: () => askDelete(existing.id, () => phone.ui.stack.pop()) }, "Delete alarm")
            : null)));
  }

  phone.app({
    id: "clock",
    label: "Clock",
    color: "#3d5afe",
    glyph: "clock",
    aliases: ["alarm", "alarms", "alarm clock", "deskclock", "com.google.android.deskclock"],
    screens: { root, edit },
    menus: {
      edit: (ctx) => (ctx.params.id !== null && find(ctx.params.id)
        ? [{ label: "Delete alarm", run: () => askDelete(ctx.params.id, () => phone.ui.stack.pop()) }]
        : []),
    },
  });
})();
