/*
 * Needlewise chat widget for a clinic's website. Embed it with one tag:
 *
 *   <script src="https://your-needlewise-host/widget.js" data-server="" defer></script>
 *
 * Options (data- attributes on that tag):
 *   data-server  Rasa server URL; empty or absent: rasaUrl from /config.json next to this script
 *   data-title   the chat panel's title (default: the strings file's widget.title)
 *   data-accent  accent colour (any CSS colour; keep 4.5:1 contrast with white)
 *   data-lang    the language to start in (default: the page's <html lang>, else the clinic's)
 *   data-open    "true" opens the panel when the page loads
 *
 * The widget loads widget.css and needlewise-client.js from the same place as this script, and
 * /config.json from there too: the clinic's details and every word it shows (the strings file).
 * If that cannot be read (e.g. the page's site may not read it), the widget offers no chat it
 * cannot run and never makes up a clinic name or a number: it shows only the strings file's
 * `offline` words (/offline.js, read as a script): the chat cannot connect, and in an emergency
 * call your local emergency number. If even those cannot be read, it shows nothing at all.
 * It keeps the conversation (sender id, language and the rendered history, as data) in
 * sessionStorage, so it survives reloads in the same tab and is gone when the tab closes.
 *
 * Languages: it reads /config.json?lang=<its language> and sends that language with every turn
 * (metadata.lang). When the bot answers in another language (the patient wrote in it), the
 * widget's own words switch to that language too; each reply is marked with its own language
 * and direction, and the whole widget mirrors for a right-to-left language (dir="rtl").
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

  /** Each language's config and topic buttons, read once (key: the primary language; "" the default). */
  const configs = new Map();
  const topicSets = new Map();

  /** /config.json for `lang` (null if it cannot be read: asked again next time). */
  function configFor(client, lang) {
    const key = client.primaryLanguage(lang);
    if (!configs.has(key)) {
      const loading = client.loadConfig(client.languageUrl("config.json", script.src, lang)).then((cfg) => {
        if (!cfg) {
          configs.delete(key);
          return null;
        }
        if (options.server) cfg.rasaUrl = options.server;
        const own = client.primaryLanguage(cfg.language);
        if (own && !configs.has(own)) configs.set(own, Promise.resolve(cfg));
        return cfg;
      });
      configs.set(key, loading);
    }
    return configs.get(key);
  }

  /** Topic id -> its button (signed payload, title in `lang`), from /topics.json; {} if it cannot be read. */
  function topicsFor(client, lang) {
    const key = client.primaryLanguage(lang);
    if (!topicSets.has(key)) {
      const loading = client
        .loadJson(client.languageUrl("topics.json", script.src, lang))
        .then((topics) => {
          const buttons = {};
          for (const category of (topics && topics.categories) || []) {
            for (const topic of category.topics || []) buttons[topic.id] = client.topicButton(topic);
          }
          return buttons;
        })
        .catch(() => {
          topicSets.delete(key);
          return {};
        });
      topicSets.set(key, loading);
    }
    return topicSets.get(key);
  }

  async function start() {
    const ready = loadScript(asset("needlewise-client.js")).then(() => window.NeedlewiseClient);
    const saved = storage.read();
    const wanted = (saved && saved.lang) || options.lang || document.documentElement.lang || "";
    const [, cfg, topicButtons] = await Promise.all([
      loadStylesheet(asset("widget.css")),
      ready.then((client) => configFor(client, wanted)),
      ready.then((client) => topicsFor(client, wanted)),
    ]);
    const client = await ready;
    if (!cfg) {
      // no clinic details: no chat to offer; say so with the only words we were given, if any
      const offline = await loadOffline(client, wanted);
      if (offline) buildOffline(client, offline);
      return;
    }
    // the languages of a saved conversation's replies, so each is shown with its own words
    const replies = ((saved && saved.history) || []).map((turn) => client.replyLanguage(turn.custom)).filter(Boolean);
    const known = await Promise.all([...new Set(replies)].map((lang) => configFor(client, lang)));
    build(client, cfg, topicButtons, saved, known.filter(Boolean));
  }

  /**
   * The strings file's `offline` group (/offline.js?lang=...), with the language it is in, or null.
   * A script, so no CORS is needed.
   */
  async function loadOffline(client, lang) {
    try {
      await new Promise((resolve, reject) => {
        const tag = document.createElement("script");
        tag.src = client.languageUrl("offline.js", script.src, lang || "und");
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
    if (!(words && keys.every((key) => typeof words[key] === "string" && words[key]))) return null;
    const language = window.NeedlewiseOfflineLanguage || {};
    return {
      words,
      lang: client.isLanguageTag(language.lang) ? language.lang : "",
      dir: language.dir === "rtl" ? "rtl" : "ltr",
    };
  }

  /** The launcher and a panel that say the chat cannot connect: no input, no clinic, no number. */
  function buildOffline(client, offline) {
    const { el, icon } = client;
    const words = offline.words;
    const panelId = client.uid("nw-panel");
    const titleId = client.uid("nw-title");
    const root = el("div", { class: "nw-root nw-offline", lang: offline.lang || undefined, dir: offline.lang ? offline.dir : undefined });
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

  function build(client, firstConfig, firstTopics, saved, knownConfigs) {
    const { el, icon } = client;
    let ui = firstConfig; // the config of the language the widget speaks now
    let topicButtons = firstTopics;
    const t = (key, values) => client.say(ui, "widget", key, values);
    const state = saved || { sender: client.newSenderId("web"), open: options.open, history: [] };
    state.lang = ui.language;
    let busy = false;
    let pending = Promise.resolve(); // the turn on its way, if any

    const root = el("div", { class: "nw-root" });
    if (options.accent && window.CSS && CSS.supports("color", options.accent)) {
      root.style.setProperty("--nw-accent", options.accent);
    }

    const panelId = client.uid("nw-panel");
    const titleId = client.uid("nw-title");
    const inputId = client.uid("nw-input");

    const launcherText = el("span");
    const launcher = el(
      "button",
      { type: "button", class: "nw-launcher", "aria-expanded": "false", "aria-controls": panelId },
      icon("chat"),
      launcherText
    );

    const newButton = el("button", { type: "button", class: "nw-header-button nw-new" }, el("span"));
    const closeLabel = el("span", { class: "nw-visually-hidden" });
    const closeButton = el("button", { type: "button", class: "nw-header-button nw-close" }, icon("close"), closeLabel);
    const notice = el("p", { class: "nw-notice", role: "status" });

    const log = el("div", {
      class: "nw-log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
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
    });
    const sendButton = el("button", { type: "submit", class: "nw-send" }, el("span"));
    const inputLabel = el("label", { for: inputId, class: "nw-visually-hidden" });
    const form = el("form", { class: "nw-form", novalidate: true }, inputLabel, input, sendButton);

    const disclaimer = el("p", { class: "nw-disclaimer" });
    const title = el("h2", { id: titleId, class: "nw-title" });
    const subtitle = el("p", { class: "nw-subtitle" });

    const panel = el(
      "section",
      { id: panelId, class: "nw-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId },
      el(
        "header",
        { class: "nw-header" },
        el("div", { class: "nw-header-row" }, title, closeButton),
        el("div", { class: "nw-header-row nw-header-row-second" }, subtitle, newButton)
      ),
      disclaimer,
      notice,
      log,
      typing,
      form
    );
    panel.hidden = true;
    root.append(launcher, panel);

    /** Every word of the widget's own, in the language of `ui`; the root says that language and its direction. */
    function applyWords() {
      root.setAttribute("lang", ui.language);
      root.setAttribute("dir", ui.dir);
      launcherText.textContent = t("launcher");
      title.textContent = options.title || t("title");
      subtitle.textContent = ui.clinic.name;
      log.setAttribute("aria-label", t("conversation"));
      input.setAttribute("placeholder", t("placeholder"));
      inputLabel.textContent = t("question_label");
      sendButton.firstChild.textContent = t("send");
      disclaimer.replaceChildren();
      client.appendRichText(disclaimer, t("disclaimer"), ui, true);
      if (!typing.hidden) typing.firstChild.textContent = t("typing");
      disarm();
    }

    // --- rendering ------------------------------------------------------------------------
    const renderOptions = {
      onAction: (title, payload, token) => send(payload, title, false, token),
      links: true,
      surface: "web",
    };

    /** The config a reply was written for: its own language's when it has been read, else the widget's. */
    const loaded = {};
    for (const cfg of [...knownConfigs, ui]) loaded[client.primaryLanguage(cfg.language)] = cfg;
    function configOf(lang) {
      const own = loaded[client.primaryLanguage(lang)];
      return own || ui;
    }

    function welcome() {
      const buttons = STARTERS.filter((id) => topicButtons[id]).map((id) => topicButtons[id]);
      const turn = {
        messages: [{ text: t("welcome"), buttons }],
        custom: { kind: "greeting", lang: ui.language },
      };
      const node = client.renderBotTurn(turn, ui, renderOptions);
      node.classList.add("nw-welcome");
      return node;
    }

    function renderTurn(turn) {
      if (turn.who === "user") return client.renderUserTurn(turn.text, "", turn.lang);
      return client.renderBotTurn(turn, configOf(client.replyLanguage(turn.custom)), renderOptions);
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

    /** The config of `lang` (read once), or null if it cannot be read or is not served. */
    async function languageConfig(lang) {
      const cfg = await configFor(client, lang);
      if (!cfg || !client.sameLanguage(cfg.language, lang)) return null;
      loaded[client.primaryLanguage(cfg.language)] = cfg;
      return cfg;
    }

    /** The widget speaks `cfg`'s language from now on: its words, its starters, its direction. */
    async function switchTo(cfg) {
      const buttons = await topicsFor(client, cfg.language);
      ui = cfg;
      topicButtons = buttons;
      state.lang = ui.language;
      save();
      applyWords();
      const old = log.querySelector(".nw-welcome");
      if (old) old.replaceWith(welcome());
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
      const request = client.sendTurn(ui.rasaUrl, sender, text, "web", token, { lang: ui.language });
      pending = request.catch(() => null);
      try {
        const reply = await request;
        if (state.sender !== sender) return; // "New conversation" meanwhile: this reply belongs to the old one
        // The bot answered in another language (the patient wrote in it): the widget follows.
        const lang = client.replyLanguage(reply.custom);
        const other = lang && !client.sameLanguage(lang, ui.language) ? await languageConfig(lang) : null;
        if (state.sender !== sender) return;
        if (lang) {
          userTurn.lang = lang;
          client.markUserTurn(userNode, lang);
        }
        const botTurn = { who: "bot", messages: reply.messages, custom: reply.custom };
        state.history.push(botTurn);
        save();
        log.append(renderTurn(botTurn));
        if (other) await switchTo(other);
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
        const errorNode = client.renderError(ui, { keptInput });
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
      if (previous && state.history.length) pending.then(() => client.forget(ui.rasaUrl, previous));
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

    applyWords();
    renderAll();
    document.body.append(root);
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
