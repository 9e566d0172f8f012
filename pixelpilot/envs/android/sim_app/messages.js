"use strict";
/* Messages: conversations, newest first; a conversation view with a composer; "Start chat" to pick a
   contact or type a number. A conversation exists once its first message is sent. */
(() => {
  const { h, kit } = phone;

  const fullName = (c) => `${c.first} ${c.last}`.trim();
  const norm = (text) => text.trim().replace(/\s+/g, " ").toLowerCase();
  const findThread = (address) => phone.state.threads.find((t) => norm(t.address) === norm(address));
  const last = (thread) => thread.messages[thread.messages.length - 1];
  const newest = (a, b) => (last(b) ? last(b).time : "").localeCompare(last(a) ? last(a).time : "");

  function askDelete(address, then) {
    kit.confirm({
      title: "Delete conversation?",
      body: `Your conversation with ${address} will be deleted.`,
      action: "Delete",
      run: () => {
        phone.state.threads = phone.state.threads.filter((t) => norm(t.address) !== norm(address));
        then();
        phone.toast("Conversation deleted");
      },
    });
  }

  function send(address, draft) {
    const text = (draft.text || "").trim();
    if (!text) return;
    let thread = findThread(address);
    if (!thread) {
      thread = { id: phone.newId(), address, messages: [] };
      phone.state.threads.push(thread);
    }
    thread.messages.push({ outgoing: true, text, time: phone.clock() });
    draft.text = "";
    phone.render();
  }

  function open(address) {
    phone.ui.stack.pop(); // the "new conversation" screen gives way to the conversation
    phone.push("thread", { address, draft: {} });
  }

  function list(ctx) {
    const threads = [...ctx.state.threads].sort(newest);
    return h("div", { class: "screen" },
      kit.appBar({ title: "Messages", up: false, ctx }),
      h("div", { class: "scroll", "data-scroll-key": "list" },
        threads.length
          ? threads.map((thread) => {
            const message = last(thread);
            return kit.row({
              primary: thread.address,
              secondary: message ? `${message.outgoing ? "You: " : ""}${message.text}` : "",
              lead: kit.avatar(thread.address),
              trail: h("span", { class: "trail" }, message ? message.time : ""),
              onClick: () => phone.push("thread", { address: thread.address, draft: {} }),
              longPress: () => phone.sheet(thread.address, [
                { label: "Delete", run: () => askDelete(thread.address, () => {}) },
              ]),
            });
          })
          : h("div", { class: "empty" }, "No conversations yet"),
        h("div", { style: "height:88px" })),
      kit.fab({ label: "Start chat", text: "Start chat", glyph: "message", onClick: () => phone.push("compose", { draft: { to: "" } }) }));
  }

  function suggestions(query) {
    const q = norm(query);
    const rows = [];
    const digits = query.replace(/[^0-9+]/g, "");
    if (digits.length >= 3 && /^[0-9+()\-\s.]+$/.test(query.trim())) {
      rows.push(kit.row({ primary: `Send to ${query.trim()}`, lead: kit.avatar("#"), onClick: () => open(query.trim()) }));
    }
    const matches = phone.state.contacts
      .filter((c) => !q || norm(fullName(c)).includes(q) || c.phone.replace(/\D/g, "").includes(q.replace(/\D/g, "") || "\u0000"))
      .sort((a, b) => fullName(a).localeCompare(fullName(b)));
    for (const contact of matches) {
      rows.push(kit.row({
        primary: fullName(contact), secondary: contact.phone, lead: kit.avatar(fullName(contact)),
        onClick: () => open(fullName(contact)),
      }));
    }
    return rows;
  }

  function compose(ctx) {
    const draft = ctx.params.draft;
    const results = h("div", { class: "scroll", "data-scroll-key": "suggestions" }, suggestions(draft.to));
    const pick = () => {
      const typed = draft.to.trim();
      if (!typed) return;
      const contact = phone.state.contacts.find((c) => norm(fullName(c)) === norm(typed));
      open(contact ? fullName(contact) : typed);
    };
    const field = kit.field({ label: "To", draft, key: "to", placeholder: "Type a name or phone number", onEnter: pick });
    field.querySelector("input").addEventListener("input", () => {
      results.replaceChildren(...suggestions(draft.to));
      results.scrollTop = 0;
    });
    return h("div", { class: "screen" },
      kit.appBar({ title: "New conversation", ctx }),
      h("div", { class: "form" }, field),
      results);
  }

  function thread(ctx) {
    const { address, draft } = ctx.params;
    const current = findThread(address);
    const messages = current ? current.messages : [];
    const input = h("input", {
      "aria-label": "Text message", placeholder: "Text message", value: draft.text || "", autocomplete: "off",
      onInput: (event) => { draft.text = event.target.value; },
      onKeydown: (event) => { if (event.key === "Enter") { event.preventDefault(); send(address, draft); } },
    });
    return h("div", { class: "screen" },
      kit.appBar({ title: address, ctx }),
      h("div", { class: "scroll", "data-scroll-key": "messages", "data-scroll-start": "end" },
        h("div", { class: "bubbles" },
          messages.map((m) => h("div", { class: `bubble ${m.outgoing ? "out" : "in"}` },
            h("div", {}, m.text), h("div", { class: "btime" }, m.time))))),
      h("div", { class: "composer" }, input, kit.iconButton("send", "Send", () => send(address, draft))));
  }

  phone.app({
    id: "messages",
    label: "Messages",
    color: "#0b8a5f",
    glyph: "message",
    aliases: ["message", "sms", "texts", "messaging", "com.google.android.apps.messaging"],
    screens: { root: list, compose, thread },
    menus: {
      thread: (ctx) => (findThread(ctx.params.address)
        ? [{ label: "Delete conversation", run: () => askDelete(ctx.params.address, () => phone.ui.stack.pop()) }]
        : []),
    },
  });
})();
