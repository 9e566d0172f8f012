"use strict";
/* Notes: cards of notes; the editor saves when it is left (Back, Home, the up arrow), as Keep does;
   delete from the editor's menu or by long-pressing a card. */
(() => {
  const { h, kit } = phone;

  const find = (id) => phone.state.notes.find((n) => n.id === id);

  function askDelete(id, then) {
    const note = find(id);
    kit.confirm({
      title: "Delete note?",
      body: `"${note.title || "Untitled"}" will be deleted.`,
      action: "Delete",
      run: () => {
        phone.state.notes = phone.state.notes.filter((n) => n.id !== id);
        then();
        phone.toast("Note deleted");
      },
    });
  }

  function list(ctx) {
    const notes = [...ctx.state.notes].reverse();
    return h("div", { class: "screen" },
      kit.appBar({ title: "Notes", up: false, ctx }),
      h("div", { class: "scroll", "data-scroll-key": "list" },
        notes.length
          ? notes.map((note) => h("button", {
            class: "card",
            onClick: () => phone.push("editor", { id: note.id }),
            longPress: () => phone.sheet(note.title || "Untitled", [{ label: "Delete", run: () => askDelete(note.id, () => {}) }]),
          }, h("div", { class: "ctitle" }, note.title || "Untitled"), h("div", { class: "cbody" }, note.body)))
          : h("div", { class: "empty" }, "Notes you add appear here"),
        h("div", { style: "height:88px" })),
      kit.fab({ label: "New note", onClick: () => phone.push("editor", { id: null }) }));
  }

  function editor(ctx) {
    const params = ctx.params;
    if (!params.draft) {
      const note = params.id !== null ? find(params.id) : null;
      params.draft = note ? { title: note.title, body: note.body } : { title: "", body: "" };
    }
    const draft = params.draft;
    ctx.onLeave = () => {
      if (params.deleted) return;
      const title = draft.title.trim();
      const body = draft.body.replace(/\s+$/, "");
      const note = params.id !== null ? find(params.id) : null;
      if (note) Object.assign(note, { title, body });
      else if (title || body) phone.state.notes.push({ id: phone.newId(), title, body });
    };
    const remove = () => {
      if (params.id === null || !find(params.id)) {
        params.deleted = true;
        phone.pop();
        return;
      }
      askDelete(params.id, () => {
        params.deleted = true;
        phone.ui.stack.pop();
      });
    };
    ctx.menu = [{ label: "Delete", run: remove }];
    return h("div", { class: "screen" },
      kit.appBar({ title: "", ctx, actions: [kit.iconButton("trash", "Delete note", remove)] }),
      h("div", { class: "scroll", "data-scroll-key": "editor" },
        h("div", { class: "form" },
          kit.field({ label: "Title", draft, key: "title", clearable: true }),
          kit.field({ label: "Note", draft, key: "body", multiline: true }))));
  }

  phone.app({
    id: "notes",
    label: "Notes",
    color: "#e8a400",
    glyph: "note",
    aliases: ["note", "keep", "notepad", "google keep", "com.google.android.keep"],
    screens: { root: list, editor },
  });
})();
