"use strict";
/* Calendar: an agenda of events grouped by day, an event page (delete from it or its menu), and a
   form for new events (date as YYYY-MM-DD, time as HH:MM). */
(() => {
  const { h, kit } = phone;

  const find = (id) => phone.state.events.find((e) => e.id === id);
  const chronological = (a, b) => `${a.date} ${a.time}`.localeCompare(`${b.date} ${b.time}`);

  function validDate(text) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
    const [y, m, d] = text.split("-").map(Number);
    const date = new Date(Date.UTC(y, m - 1, d));
    return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
  }
  const validTime = (text) => /^([01]\d|2[0-3]):[0-5]\d$/.test(text);

  function askDelete(id, then) {
    kit.confirm({
      title: "Delete event?",
      body: `"${find(id).title}" will be removed from your calendar.`,
      action: "Delete",
      run: () => {
        phone.state.events = phone.state.events.filter((e) => e.id !== id);
        then();
        phone.toast("Event deleted");
      },
    });
  }

  function agenda(ctx) {
    const rows = [];
    let day = null;
    for (const event of [...ctx.state.events].sort(chronological)) {
      if (event.date !== day) {
        day = event.date;
        rows.push(kit.section(`${kit.formatDate(day, "short")}${day === phone.today() ? " · Today" : ""}`));
      }
      rows.push(h("button", { class: "event", onClick: () => phone.push("event", { id: event.id }) },
        h("div", { class: "bar" }),
        h("div", {},
          h("div", { class: "etitle" }, event.title),
          h("div", { class: "etime" }, `${event.time}${event.location ? ` · ${event.location}` : ""}`))));
    }
    const [year, month] = phone.today().split("-").map(Number);
    const monthName = kit.formatDate(`${year}-${String(month).padStart(2, "0")}-01`, "day").split(", ")[1].split(" ")[0];
    return h("div", { class: "screen" },
      kit.appBar({ title: `${monthName} ${year}`, up: false, ctx }),
      h("div", { class: "scroll", "data-scroll-key": "agenda" },
        rows.length ? rows : h("div", { class: "empty" }, "Nothing planned"),
        h("div", { style: "height:88px" })),
      kit.fab({ label: "New event", onClick: () => phone.push("edit", {}) }));
  }

  function eventPage(ctx) {
    const event = find(ctx.params.id);
    if (!event) return agenda(ctx);
    return h("div", { class: "screen" },
      kit.appBar({ title: "", ctx, actions: [kit.iconButton("trash", "Delete event", () => askDelete(event.id, () => phone.ui.stack.pop()))] }),
      h("div", { class: "scroll", "data-scroll-key": "event" },
        h("div", { class: "info-row" }, h("div", { class: "v", style: "font-size:24px" }, event.title)),
        h("div", { class: "info-row" }, h("div", { class: "k" }, "Date"), h("div", { class: "v" }, kit.formatDate(event.date))),
        h("div", { class: "info-row" }, h("div", { class: "k" }, "Time"), h("div", { class: "v" }, event.time)),
        event.location
          ? h("div", { class: "info-row" }, h("div", { class: "k" }, "Location"), h("div", { class: "v" }, event.location))
          : null));
  }

  function edit(ctx) {
    if (!ctx.params.draft) ctx.params.draft = { title: "", date: "", time: "", location: "" };
    const draft = ctx.params.draft;
    const save = () => {
      const clean = Object.fromEntries(Object.entries(draft).map(([k, v]) => [k, v.trim()]));
      if (!clean.title) ctx.params.error = "Enter a title";
      else if (!validDate(clean.date)) ctx.params.error = "Enter the date as YYYY-MM-DD";
      else if (!validTime(clean.time)) ctx.params.error = "Enter the time as HH:MM (24-hour)";
      else {
        phone.state.events.push({ id: phone.newId(), ...clean });
        phone.pop();
        phone.toast("Event saved");
        return;
      }
      phone.render();
    };
    return h("div", { class: "screen" },
      h("div", { class: "appbar" },
        kit.iconButton("up", "Navigate up", () => phone.back()),
        h("div", { class: "title", role: "heading" }, "New event"),
        h("button", { class: "filled-btn", onClick: save }, "Save")),
      h("div", { class: "scroll", "data-scroll-key": "form" },
        h("div", { class: "form" },
          kit.field({ label: "Title", draft, key: "title" }),
          kit.field({ label: "Date", draft, key: "date", placeholder: "YYYY-MM-DD" }),
          kit.field({ label: "Time", draft, key: "time", placeholder: "HH:MM" }),
          kit.field({ label: "Location", draft, key: "location" }),
          ctx.params.error ? h("div", { class: "error", role: "alert" }, ctx.params.error) : null)));
  }

  phone.app({
    id: "calendar",
    label: "Calendar",
    color: "#d93025",
    glyph: "calendar",
    aliases: ["agenda", "events", "google calendar", "com.google.android.calendar"],
    screens: { root: agenda, event: eventPage, edit },
    menus: {
      event: (ctx) => (find(ctx.params.id)
        ? [{ label: "Delete event", run: () => askDelete(ctx.params.id, () => phone.ui.stack.pop()) }]
        : []),
    },
  });
})();
