"use strict";
/* Settings: network, Bluetooth, display (dark theme, brightness, screen timeout), sound, location,
   battery and phone information. Every switch writes phone.state.settings at once, as Android does. */
(() => {
  const { h, kit } = phone;
  const TIMEOUTS = [15, 30, 60, 120, 300, 600, 1800];

  function timeoutLabel(seconds) {
    if (seconds < 60) return `${seconds} seconds`;
    const minutes = seconds / 60;
    return minutes === 1 ? "1 minute" : `${minutes} minutes`;
  }

  function set(key) {
    return (value) => phone.update((state) => { state.settings[key] = value; });
  }

  function page(ctx, title, ...children) {
    return h("div", { class: "screen" },
      kit.appBar({ title, ctx }),
      h("div", { class: "scroll", "data-scroll-key": "list" }, children));
  }

  const CATEGORIES = [
    ["network", "wifi", "Network & internet", (s) => (s.airplane_mode ? "Airplane mode is on" : "Wi-Fi, mobile data, airplane mode")],
    ["devices", "devices", "Connected devices", (s) => (s.bluetooth ? "Bluetooth on" : "Bluetooth")],
    ["display", "display", "Display", () => "Dark theme, brightness, screen timeout"],
    ["sound", "sound", "Sound & vibration", (s) => (s.do_not_disturb ? "Do Not Disturb is on" : "Volume, Do Not Disturb")],
    ["location", "location", "Location", (s) => (s.location ? "On" : "Off")],
    ["battery", "battery_saver", "Battery", () => `${phone.state.battery}%`],
    ["about", "info", "About phone", () => "Pixel Sim"],
  ];

  phone.app({
    id: "settings",
    label: "Settings",
    color: "#5b6477",
    glyph: "gear",
    aliases: ["setting", "system settings", "com.android.settings"],
    screens: {
      root: (ctx) => h("div", { class: "screen" },
        kit.appBar({ title: "Settings", up: false, ctx }),
        h("div", { class: "scroll", "data-scroll-key": "list" },
          CATEGORIES.map(([screen, glyph, title, subtitle]) => kit.row({
            primary: title,
            secondary: subtitle(ctx.state.settings),
            lead: h("div", { class: "lead" }, phone.icon(glyph)),
            onClick: () => phone.push(screen),
          })))),

      network: (ctx) => {
        const s = ctx.state.settings;
        return page(ctx, "Network & internet",
          kit.switchRow({ title: "Wi-Fi", subtitle: s.wifi ? "Connected to HomeNet" : "Off", checked: s.wifi, onToggle: set("wifi") }),
          kit.switchRow({ title: "Mobile data", subtitle: "Carrier Sim", checked: s.mobile_data, onToggle: set("mobile_data") }),
          kit.switchRow({ title: "Airplane mode", checked: s.airplane_mode, onToggle: set("airplane_mode") }));
      },

      devices: (ctx) => {
        const s = ctx.state.settings;
        return page(ctx, "Connected devices",
          kit.switchRow({
            title: "Bluetooth", subtitle: s.bluetooth ? "Visible as Pixel Sim" : "Off", checked: s.bluetooth,
            onToggle: set("bluetooth"),
          }));
      },

      display: (ctx) => {
        const s = ctx.state.settings;
        return page(ctx, "Display",
          kit.switchRow({ title: "Dark theme", subtitle: "Use a dark background", checked: s.dark_theme, onToggle: set("dark_theme") }),
          kit.slider({ title: "Brightness level", value: s.brightness, onChange: set("brightness") }),
          kit.row({
            primary: "Screen timeout",
            secondary: `After ${timeoutLabel(s.screen_timeout)} of inactivity`,
            onClick: () => phone.dialog({
              title: "Screen timeout",
              choices: TIMEOUTS.map((seconds) => ({
                label: timeoutLabel(seconds),
                checked: seconds === s.screen_timeout,
                run: () => { phone.state.settings.screen_timeout = seconds; },
              })),
              buttons: [{ label: "Cancel", run: () => {} }],
            }),
          }));
      },

      sound: (ctx) => {
        const s = ctx.state.settings;
        return page(ctx, "Sound & vibration",
          kit.slider({ title: "Media volume", value: s.volume, onChange: set("volume") }),
          kit.switchRow({
            title: "Do Not Disturb", subtitle: s.do_not_disturb ? "On" : "Off", checked: s.do_not_disturb,
            onToggle: set("do_not_disturb"),
          }));
      },

      location: (ctx) => page(ctx, "Location",
        kit.switchRow({ title: "Use location", checked: ctx.state.settings.location, onToggle: set("location") })),

      battery: (ctx) => page(ctx, "Battery",
        h("div", { class: "info-row" }, h("div", { class: "k" }, "Battery level"), h("div", { class: "v" }, `${ctx.state.battery}%`)),
        kit.switchRow({
          title: "Battery Saver", subtitle: "Extends battery life", checked: ctx.state.settings.battery_saver,
          onToggle: set("battery_saver"),
        })),

      about: (ctx) => page(ctx, "About phone",
        [["Device name", "Pixel Sim"], ["Model", "PS-1"], ["Android version", "14"], ["Build number", "UQ1A.240105.004"]]
          .map(([key, value]) => h("div", { class: "info-row" }, h("div", { class: "k" }, key), h("div", { class: "v" }, value)))),
    },
  });
})();
