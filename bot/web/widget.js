/*
 * Needlewise chat widget for a clinic's website. Embed it with one tag:
 *
 *   <script src="https://your-needlewise-host/widget.js" data-server="" defer></script>
 *
 * Options (data- attributes on that tag):
 *   data-server  Rasa server URL; empty or absent: rasaUrl from /config.json next to this script
 *   data-title   the chat panel's title (default: the strings file's widget.title)
 *   data-accent  accent colour (any CSS colour; keep 4.5:1 contrast with white)
 *   data-lang    language of the conversation (sets the panel's lang attribute)
 *   data-open    "true" opens the panel when the page loads
 *
 * The widget loads widget.css and needlewise-client.js from the same place as this script, and
 * /config.json from there too: the clinic's details and every word it shows (the strings file).
 * If that cannot be read (e.g. the page's site may not read it), the widget offers no chat it
 * cannot run and never makes up a clinic name or a number: it shows only the strings file's
 * `offline` words (/offline.js, read as a script): the chat cannot connect, and in an emergency
 * call your local emergency number. If even those cannot be read, it shows nothing at all.
 * It keeps the conversation (sender id and the rendered history, as data) in sessionStorage,
 * so it survives reloads in the same tab and is gone when the tab closes.
 */
(function () {
  "use strict";

  const script = document.currentScript;
  if (!script || window.__needlewiseWidgetLoaded) return;
  window.__needlewiseWidgetLoaded = true;

  const STORAGE_KEY = "needlewise.widget.v1";
  const MAX_TURNS = 80;
  const CONFIRM_MS = 6000;
  const STARTERS = ["what_is_dry_needling", "does_it_work", "common_side_effects", "is_it_safe", "what_happens", "booking"];
  const asset = (name) => new URL(name, script.src).href;
  const data = script.dataset;
  const options = {
    server: (data.server || "").trim(),
    title: (data.title || "").trim(),
    accent: (data.accent || "").trim(),
    lang: (data.lang || "").trim(),
    open: data.open === "true",
  };

  function loadStylesheet(href) {
    return new Promise((resolve) => {
      const existing = Array.from(document.querySelectorAll('link[rel="stylesheet"]')).find((l) => l.href === href);
      if (existing) {
        resolve();
        return;
      }
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = href;
      link.addEventListener("load", () => resolve());
      link.addEventListener("error", () => resolve());
      document.head.append(link);
    });
  }

  function loadScript(src) {
    if (window.NeedlewiseClient) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = src;
      tag.async = true;
      tag.addEventListener("load", () => resolve());
      tag.addEventListener("error", () => reject(new Error(`Could not load ${src}`)));
      document.head.append(tag);
    });
  }

  const storage = {
    read() {
      try {
        const saved = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) || "null");
        if (saved && typeof saved.sender === "string" && Array.isArray(saved.history)) return saved;
      } catch (_error) {
        /* storage blocked or corrupt: start fresh */
      }
      return null;
    },
    write(state) {
      try {
        window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state));
      } catch (_error) {
        /* storage full or blocked: the conversation still works, it just won't survive a reload */
      }
    },
  };

  async function start() {
    const ready = loadScript(asset("needlewise-client.js")).then(() => window.NeedlewiseClient);
    const [, cfg, topics] = await Promise.all([
      loadStylesheet(asset("widget.css")),
      ready.then((client) => client.loadConfig(asset("config.json"))),
      ready.then((client) => client.loadJson(asset("topics.json")).catch(() => null)),
    ]);
    const client = await ready;
    if (!cfg) {
      // no clinic details: no chat to offer; say so with the only words we were given, if any
      const offline = await loadOffline();
      if (offline) buildOffline(client, offline);
      return;
    }
    if (options.server) cfg.rasaUrl = options.server;
    const topicButtons = {};
    for (const category of (topics && topics.categories) || []) {
      for (const topic of category.topics || []) topicButtons[topic.id] = client.topicButton(topic);
    }
    build(client, cfg, topicButtons);
  }

  /** The strings file's `offline` group (/offline.js), or null. A script, so no CORS is needed. */
  async function loadOffline() {
    try {
      await new Promise((resolve, reject) => {
        const tag = document.createElement("script");
        tag.src = asset("offline.js");
        tag.async = true;
        tag.addEventListener("load", () => resolve());
        tag.addEventListener("error", () => reject(new Error("offline.js")));
        document.head.append(tag);
      });
    } catch (_error) {
      return null;
    }
    const words = window.NeedlewiseOffline;
    const keys = ["launcher", "title", "cannot_connect", "emergency", "close"];
    return words && keys.every((key) => typeof words[key] === "string" && words[key]) ? words : null;
  }

  /** The launcher and a panel that say the chat cannot connect: no input, no clinic, no number. */
  function buildOffline(client, words) {
    const { el, icon } = client;
    const panelId = client.uid("nw-panel");
    const titleId = client.uid("nw-title");
    const root = el("div", { class: "nw-root nw-offline", lang: options.lang || document.documentElement.lang });
    const launcher = el(
      "button",
      { type: "button", class: "nw-launcher", "aria-expanded": "false", "aria-controls": panelId },
      icon("chat"),
      el("span", { text: words.launcher })
    );
    const closeButton = el(
      "button",
      { type: "button", class: "nw-header-button nw-close" },
      icon("close"),
      el("span", { class: "nw-visually-hidden", text: words.close })
    );
    const panel = el(
      "section",
      { id: panelId, class: "nw-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId },
      el("header", { class: "nw-header" }, el("div", { class: "nw-header-row" }, el("h2", { id: titleId, class: "nw-title", text: words.title }), closeButton)),
      el("p", { class: "nw-offline-text", text: words.cannot_connect }),
      el("p", { class: "nw-offline-text nw-offline-emergency", text: words.emergency })
    );
    panel.hidden = true;
    function show(open) {
      panel.hidden = !open;
      launcher.hidden = open;
      launcher.setAttribute("aria-expanded", String(open));
      (open ? closeButton : launcher).focus();
    }
    launcher.addEventListener("click", () => show(true));
    closeButton.addEventListener("click", () => show(false));
    root.append(launcher, panel);
    document.body.append(root);
  }

  function build(client, cfg, topicButtons) {
    const { el, icon } = client;
    const t = (key, values) => client.say(cfg, "widget", key, values);
    const lang = options.lang || cfg.language || document.documentElement.lang;
    const saved = storage.read();
    const state = saved || { sender: client.newSenderId("web"), open: options.open, history: [] };
    let busy = false;
    let pending = Promise.resolve(); // the turn on its way, if any

    const root = el("div", { class: "nw-root", lang });
    if (options.accent && window.CSS && CSS.supports("color", options.accent)) {
      root.style.setProperty("--nw-accent", options.accent);
    }

    const panelId = client.uid("nw-panel");
    const titleId = client.uid("nw-title");
    const inputId = client.uid("nw-input");

    const launcher = el(
      "button",
      { type: "button", class: "nw-launcher", "aria-expanded": "false", "aria-controls": panelId },
      icon("chat"),
      el("span", { text: t("launcher") })
    );

    const newButton = el(
      "button",
      { type: "button", class: "nw-header-button nw-new" },
      el("span", { text: t("new_conversation") })
    );
    const closeLabel = el("span", { class: "nw-visually-hidden", text: t("close") });
    const closeButton = el("button", { type: "button", class: "nw-header-button nw-close" }, icon("close"), closeLabel);
    const notice = el("p", { class: "nw-notice", role: "status" });

    const log = el("div", {
      class: "nw-log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": t("conversation"),
      tabindex: "0",
    });
    const typing = el(
      "div",
      { class: "nw-typing", role: "status" },
      el("span", { class: "nw-typing-text" }, ""),
      el("span", { class: "nw-dots", "aria-hidden": "true" }, el("span"), el("span"), el("span"))
    );
    typing.hidden = true;

    const input = el("input", {
      id: inputId,
      class: "nw-input",
      type: "text",
      autocomplete: "off",
      maxlength: "500",
      enterkeyhint: "send",
      placeholder: t("placeholder"),
    });
    const sendButton = el("button", { type: "submit", class: "nw-send" }, el("span", { text: t("send") }));
    const form = el(
      "form",
      { class: "nw-form", novalidate: true },
      el("label", { for: inputId, class: "nw-visually-hidden", text: t("question_label") }),
      input,
      sendButton
    );

    const disclaimer = client.appendRichText(el("p", { class: "nw-disclaimer" }), t("disclaimer"), cfg, true);

    const panel = el(
      "section",
      { id: panelId, class: "nw-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId },
      el(
        "header",
        { class: "nw-header" },
        el("div", { class: "nw-header-row" }, el("h2", { id: titleId, class: "nw-title", text: options.title || t("title") }), closeButton),
        el(
          "div",
          { class: "nw-header-row nw-header-row-second" },
          el("p", { class: "nw-subtitle", text: cfg.clinic.name }),
          newButton
        )
      ),
      disclaimer,
      notice,
      log,
      typing,
      form
    );
    panel.hidden = true;
    root.append(launcher, panel);
    document.body.append(root);

    // --- rendering ------------------------------------------------------------------------
    const renderOptions = {
      onAction: (title, payload, token) => send(payload, title, false, token),
      links: true,
      surface: "web",
      lang,
    };

    function welcome() {
      const buttons = STARTERS.filter((id) => topicButtons[id]).map((id) => topicButtons[id]);
      const turn = {
        messages: [
          { text: t("welcome"), buttons },
        ],
        custom: { kind: "greeting" },
      };
      const node = client.renderBotTurn(turn, cfg, renderOptions);
      node.classList.add("nw-welcome");
      return node;
    }

    function renderTurn(turn) {
      if (turn.who === "user") return client.renderUserTurn(turn.text);
      return client.renderBotTurn(turn, cfg, renderOptions);
    }

    function renderAll() {
      log.replaceChildren(welcome(), ...state.history.map(renderTurn));
    }

    function save() {
      if (state.history.length > MAX_TURNS) state.history.splice(0, state.history.length - MAX_TURNS);
      storage.write(state);
    }

    function hasUrgent() {
      return state.history.some((turn) => turn.who === "bot" && turn.custom && turn.custom.kind === "urgent");
    }

    function scrollToTurn(node) {
      log.scrollTop = Math.max(0, node.offsetTop - 8);
    }

    function setTyping(on) {
      typing.hidden = !on;
      typing.firstChild.textContent = on ? t("typing") : "";
      panel.setAttribute("aria-busy", String(on));
    }

    // --- sending ----------------------------------------------------------------------------
    async function send(message, shown, fromInput, token) {
      const text = String(message || "").trim();
      if (!text || busy) return;
      busy = true;
      disarm();
      const userTurn = { who: "user", text: String(shown || text) };
      const userNode = renderTurn(userTurn);
      log.append(userNode);
      state.history.push(userTurn);
      save();
      if (fromInput) input.value = "";
      scrollToTurn(userNode);
      setTyping(true);
      const sender = state.sender;
      const request = client.sendTurn(cfg.rasaUrl, sender, text, "web", token);
      pending = request.catch(() => null);
      try {
        const reply = await request;
        if (state.sender !== sender) return; // "New conversation" meanwhile: this reply belongs to the old one
        const botTurn = { who: "bot", messages: reply.messages, custom: reply.custom };
        state.history.push(botTurn);
        save();
        log.append(renderTurn(botTurn));
        scrollToTurn(userNode);
      } catch (_error) {
        if (state.sender !== sender) return;
        // Not sent: the message leaves the saved history, the words go back in the box.
        state.history.splice(state.history.indexOf(userTurn), 1);
        save();
        userNode.classList.add("nw-not-sent");
        userNode.append(client.el("p", { class: "nw-not-sent-note", text: t("not_sent") }));
        const keptInput = fromInput && (!input.value || input.value === text);
        if (keptInput) input.value = text;
        const errorNode = client.renderError(cfg, { keptInput });
        log.append(errorNode);
        scrollToTurn(userNode);
      } finally {
        setTyping(false);
        busy = false;
      }
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(input.value, input.value, true);
    });

    // --- open, close, start again --------------------------------------------------------
    let armed = null;
    let armTimer = 0;

    function disarm() {
      clearTimeout(armTimer);
      armed = null;
      closeButton.classList.remove("nw-armed");
      newButton.classList.remove("nw-armed");
      closeLabel.className = "nw-visually-hidden";
      closeLabel.textContent = t("close");
      newButton.firstChild.textContent = t("new_conversation");
      notice.textContent = "";
    }

    /** On a conversation with urgent advice, closing or clearing it needs a second tap. */
    function confirmFirst(which, action) {
      if (!hasUrgent() || armed === which) {
        disarm();
        action();
        return;
      }
      disarm();
      armed = which;
      if (which === "close") {
        closeButton.classList.add("nw-armed");
        closeLabel.className = "nw-armed-label";
        closeLabel.textContent = t("close_confirm");
      } else {
        newButton.classList.add("nw-armed");
        newButton.firstChild.textContent = t("clear_confirm");
      }
      notice.textContent = t(which === "close" ? "close_notice" : "clear_notice");
      armTimer = setTimeout(disarm, CONFIRM_MS);
    }

    function setOpen(isOpen) {
      panel.hidden = !isOpen;
      launcher.hidden = isOpen;
      state.open = isOpen;
      save();
    }

    function open(focus) {
      setOpen(true);
      const questions = log.querySelectorAll(".nw-turn-user");
      if (questions.length) scrollToTurn(questions[questions.length - 1]);
      if (focus) input.focus();
    }

    function close() {
      setOpen(false);
      launcher.focus();
    }

    /** Starts a new conversation; the previous one is deleted on the server too (privacy). */
    function startAgain() {
      const previous = state.sender;
      // After any turn still on its way, so the server cannot keep what it stores for that turn.
      if (previous && state.history.length) pending.then(() => client.forget(cfg.rasaUrl, previous));
      state.sender = client.newSenderId("web");
      state.history = [];
      save();
      renderAll();
      input.value = "";
      input.focus();
    }

    launcher.addEventListener("click", () => open(true));
    closeButton.addEventListener("click", () => confirmFirst("close", close));
    newButton.addEventListener("click", () => confirmFirst("new", startAgain));
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        confirmFirst("close", close);
        if (!panel.hidden) closeButton.focus();
      }
    });

    renderAll();
    if (state.open) open(false);
  }

  function boot() {
    start().catch(() => {
      /* The widget could not load its parts (CSS, client): the host page keeps working. */
    });
  }

  if (document.body) boot();
  else document.addEventListener("DOMContentLoaded", boot);
})();
