"use strict";
/* Contacts: an alphabetical list, a detail page (favourite star, call, text, edit, delete) and a
   create/edit form. Long-pressing a contact opens its quick actions. */
(() => {
  const { h, kit } = phone;

  const fullName = (c) => `${c.first} ${c.last}`.trim();
  const byName = (a, b) => fullName(a).localeCompare(fullName(b));
  const find = (id) => phone.state.contacts.find((c) => c.id === id);

  function toggleFavorite(id) {
    phone.update(() => {
      const contact = find(id);
      contact.favorite = !contact.favorite;
    });
  }

  function askDelete(id, then) {
    const contact = find(id);
    kit.confirm({
      title: "Delete contact?",
      body: `${fullName(contact)} will be removed from your contacts.`,
      action: "Delete",
      run: () => {
        phone.state.contacts = phone.state.contacts.filter((c) => c.id !== id);
        then();
        phone.toast("Contact deleted");
      },
    });
  }

  function quickActions(contact) {
    phone.sheet(fullName(contact), [
      { label: contact.favorite ? "Remove from favorites" : "Add to favorites", run: () => toggleFavorite(contact.id) },
      { label: "Edit", run: () => phone.push("edit", { id: contact.id }) },
      { label: "Delete", run: () => askDelete(contact.id, () => {}) },
    ]);
  }

  function list(ctx) {
    const rows = [];
    let letter = null;
    for (const contact of [...ctx.state.contacts].sort(byName)) {
      const initial = fullName(contact)[0].toUpperCase();
      if (initial !== letter) {
        letter = initial;
        rows.push(kit.section(letter));
      }
      rows.push(kit.row({
        primary: fullName(contact),
        lead: kit.avatar(fullName(contact)),
        onClick: () => phone.push("detail", { id: contact.id }),
        longPress: () => quickActions(contact),
      }));
    }
    return h("div", { class: "screen" },
      kit.appBar({ title: "Contacts", up: false, ctx }),
      h("div", { class: "scroll", "data-scroll-key": "list" },
        rows.length ? rows : h("div", { class: "empty" }, "No contacts yet"),
        h("div", { style: "height:88px" })),
      kit.fab({ label: "Create contact", onClick: () => phone.push("edit", { id: null }) }));
  }

  function detail(ctx) {
    const contact = find(ctx.params.id);
    if (!contact) return list(ctx);
    const name = fullName(contact);
    const info = [["Phone", contact.phone], ["Email", contact.email]].filter(([, value]) => value);
    return h("div", { class: "screen" },
      kit.appBar({
        title: "",
        ctx,
        actions: [
          kit.iconButton(contact.favorite ? "star" : "starOutline",
            contact.favorite ? "Remove from favorites" : "Add to favorites", () => toggleFavorite(contact.id)),
          kit.iconButton("edit", "Edit contact", () => phone.push("edit", { id: contact.id })),
        ],
      }),
      h("div", { class: "scroll", "data-scroll-key": "detail" },
        h("div", { class: "detail-head" }, kit.avatar(name), h("div", { class: "name" }, name)),
        h("div", { class: "actions" },
          h("button", { "aria-label": "Call" }, h("div", { class: "circle" }, phone.icon("call")), "Call"),
          h("button", {
            "aria-label": "Text",
            onClick: () => {
              phone.launch("messages");
              phone.push("thread", { address: name, draft: {} });
            },
          }, h("div", { class: "circle" }, phone.icon("message")), "Text")),
        info.map(([key, value]) => h("div", { class: "info-row" }, h("div", { class: "k" }, key), h("div", { class: "v" }, value)))));
  }

  function edit(ctx) {
    const existing = ctx.params.id !== null ? find(ctx.params.id) : null;
    if (!ctx.params.draft) {
      ctx.params.draft = existing
        ? { first: existing.first, last: existing.last, phone: existing.phone, email: existing.email }
        : { first: "", last: "", phone: "", email: "" };
    }
    const draft = ctx.params.draft;
    const save = () => {
      const clean = Object.fromEntries(Object.entries(draft).map(([k, v]) => [k, v.trim()]));
      if (!clean.first && !clean.last) {
        ctx.params.error = "Enter a name";
        phone.render();
        return;
      }
      if (existing) {
        Object.assign(existing, clean);
        phone.pop();
      } else {
        const id = phone.newId();
        phone.state.contacts.push({ id, ...clean, favorite: false });
        phone.ui.stack.pop();
        phone.push("detail", { id });
      }
      phone.toast("Contact saved");
    };
    return h("div", { class: "screen" },
      h("div", { class: "appbar" },
        kit.iconButton("up", "Navigate up", () => phone.back()),
        h("div", { class: "title", role: "heading" }, existing ? "Edit contact" : "Create contact"),
        h("button", { class: "filled-btn", onClick: save }, "Save")),
      h("div", { class: "scroll", "data-scroll-key": "form" },
        h("div", { class: "form" },
          kit.field({ label: "First name", draft, key: "first", clearable: true }),
          kit.field({ label: "Last name", draft, key: "last", clearable: true }),
          kit.field({ label: "Phone", draft, key: "phone", clearable: true, inputmode: "tel" }),
          kit.field({ label: "Email", draft, key: "email", clearable: true, inputmode: "email" }),
          ctx.params.error ? h("div", { class: "error", role: "alert" }, ctx.params.error) : null)));
  }

  phone.app({
    id: "contacts",
    label: "Contacts",
    color: "#1f6fd1",
    glyph: "person",
    aliases: ["contact", "people", "address book", "com.google.android.contacts", "com.android.contacts"],
    screens: { root: list, detail, edit },
    menus: {
      detail: (ctx) => {
        const contact = find(ctx.params.id);
        if (!contact) return [];
        return [
          { label: contact.favorite ? "Remove from favorites" : "Add to favorites", run: () => toggleFavorite(contact.id) },
          { label: "Edit", run: () => phone.push("edit", { id: contact.id }) },
          { label: "Delete", run: () => askDelete(contact.id, () => phone.ui.stack.pop()) },
        ];
      },
    },
  });
})();
