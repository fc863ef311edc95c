/*
 * Needlewise front-desk kiosk (kiosk.html): topic tiles, answers, and an idle reset.
 *
 * Privacy: the kiosk never writes browser storage (no sessionStorage, localStorage, cookies).
 * The conversation lives only in this page's memory and DOM. After the idle timeout (90 s, or
 * ?idle=SECONDS) a warning shows; if nobody answers it, the page starts a fresh conversation:
 * a new sender id, and every previous question and answer removed from the page.
 *
 * Every word it shows comes from /config.json (the strings file's `kiosk` and `client` groups and
 * the clinic's details). Until that is read, and whenever it cannot be, the screen stays neutral
 * and empty (kiosk.css), and the kiosk tries again every RETRY_SECONDS.
 *
 * Languages: the start screen has a button for each language served (each in its own name);
 * ?lang=pt or ?lang=ar opens the kiosk in that language (its "home" language: else the clinic's
 * default). Choosing a language starts a fresh conversation in it. When the bot answers in another
 * language (the visitor typed in it), the kiosk's words follow. The page's lang and dir follow the
 * language, so Arabic reads right to left and the layout mirrors. After the idle reset the kiosk
 * is back in its home language.
 */
(function () {
  "use strict";

  const client = window.NeedlewiseClient;
  if (!client) return;

  const DEFAULT_IDLE_SECONDS = 90;
  const RETRY_SECONDS = 30;
  const params = new URLSearchParams(window.location.search);
  const idleParam = Number.parseFloat(params.get("idle") || "");
  const IDLE_SECONDS = Number.isFinite(idleParam) && idleParam > 0 ? idleParam : DEFAULT_IDLE_SECONDS;
  // The warning shows for 20 s; with a short test timeout (below 30 s) for 3 to 20 s.
  const WARN_SECONDS = IDLE_SECONDS >= 30 ? 20 : Math.min(20, Math.max(3, IDLE_SECONDS));
  const canSpeak = "speechSynthesis" in window && typeof window.SpeechSynthesisUtterance === "function";
  const askedLanguage = params.get("lang") || "";

  const $ = (id) => document.getElementById(id);
  const ui = {
    header: document.querySelector(".k-header"),
    footer: document.querySelector(".k-footer"),
    main: $("k-main"),
    clinic: $("k-clinic"),
    product: $("k-product"),
    finish: $("k-finish"),
    start: $("k-start"),
    languages: $("k-languages"),
    languagesLabel: $("k-languages-label"),
    languageButtons: $("k-language-buttons"),
    startTitle: $("k-start-title"),
    welcome: $("k-welcome"),
    privacy: $("k-privacy"),
    groups: $("k-groups"),
    answer: $("k-answer"),
    answerTitle: $("k-answer-title"),
    back: $("k-back"),
    log: $("k-log"),
    typing: $("k-typing"),
    askToggle: $("k-ask-toggle"),
    askForm: $("k-ask-form"),
    askLabel: $("k-ask-label"),
    input: $("k-input"),
    send: $("k-send"),
    footerText: $("k-footer-text"),
    overlay: $("k-idle"),
    dialog: document.querySelector("#k-idle [role=alertdialog]"),
    idleTitle: $("k-idle-title"),
    idleText: $("k-idle-text"),
    count: $("k-idle-count"),
    stillHere: $("k-still-here"),
  };

  let config = null; // /config.json of the language shown, once read: nothing is shown before
  let homeLanguage = ""; // the language the kiosk opened in, and returns to after each visitor
  let languageEpoch = 0; // bumps on every change of language, so a late one never wins
  /** A string of the strings file's `kiosk` group. */
  const t = (key, values) => client.say(config, "kiosk", key, values);
  // "kiosk:" marks the conversation for the bot's short kiosk retention (needlewise/retention.py).
  let sender = client.newSenderId("kiosk:");
  let epoch = 0; // bumps on every reset, so a late reply never lands in a fresh conversation
  let busy = false;

  // --- screens ----------------------------------------------------------------------------
  function showScreen(name) {
    ui.start.hidden = name !== "start";
    ui.answer.hidden = name !== "answer";
    ui.finish.hidden = ui.log.childElementCount === 0;
    ui.main.scrollTop = 0;
  }

  function setAsk(open) {
    ui.askForm.hidden = !open;
    ui.askToggle.setAttribute("aria-expanded", String(open));
    ui.askToggle.textContent = t(open ? "ask_close" : "ask_open");
    if (open) ui.input.focus();
  }

  // --- topics ------------------------------------------------------------------------------
  function renderTopics(topics) {
    ui.groups.removeAttribute("aria-busy");
    const categories = ((topics && topics.categories) || []).filter((c) => (c.topics || []).length);
    if (!categories.length) {
      ui.groups.replaceChildren(
        client.el("p", { class: "k-loading", text: t("topics_unavailable") })
      );
      return;
    }
    ui.groups.replaceChildren(
      ...categories.map((category) => {
        const headingId = client.uid("k-group");
        return client.el(
          "section",
          { class: "k-group", "aria-labelledby": headingId },
          client.el("h2", { id: headingId, class: "k-group-title", text: category.title }),
          client.el(
            "div",
            { class: "k-tiles" },
            category.topics.map((topic) => {
              const button = client.topicButton(topic);
              return client.el("button", {
                type: "button",
                class: "k-tile",
                "data-topic": topic.id,
                text: topic.title,
                onclick: () => ask(button.payload, button.title, false, button.token),
              });
            })
          )
        );
      })
    );
    layoutGroups();
  }

  // --- topic columns: whole groups, in order, balanced by height --------------------------
  const landscape = window.matchMedia("(orientation: landscape)");
  const narrow = window.matchMedia("(max-width: 700px)");

  function columnCount() {
    if (narrow.matches) return 1;
    return landscape.matches ? 4 : 2;
  }

  /** Splits weights into k contiguous runs with the smallest largest sum; returns the runs' sizes. */
  function partition(weights, k) {
    const n = weights.length;
    k = Math.max(1, Math.min(k, n));
    const prefix = [0];
    for (const w of weights) prefix.push(prefix[prefix.length - 1] + w);
    const best = Array.from({ length: n + 1 }, () => Array(k + 1).fill(Infinity));
    const cut = Array.from({ length: n + 1 }, () => Array(k + 1).fill(0));
    best[0][0] = 0;
    for (let i = 1; i <= n; i += 1) {
      for (let j = 1; j <= k; j += 1) {
        for (let m = j - 1; m < i; m += 1) {
          const cost = Math.max(best[m][j - 1], prefix[i] - prefix[m]);
          if (cost < best[i][j]) {
            best[i][j] = cost;
            cut[i][j] = m;
          }
        }
      }
    }
    const sizes = [];
    for (let i = n, j = k; j > 0; j -= 1) {
      sizes.unshift(i - cut[i][j]);
      i = cut[i][j];
    }
    return sizes;
  }

  function layoutGroups() {
    const groups = Array.from(ui.groups.querySelectorAll(".k-group"));
    if (!groups.length) return;
    const k = columnCount();
    const sizes = partition(
      groups.map((g) => g.querySelectorAll(".k-tile").length + 1.5),
      k
    );
    const columns = [];
    let index = 0;
    for (const size of sizes) {
      columns.push(client.el("div", { class: "k-column" }, groups.slice(index, index + size)));
      index += size;
    }
    ui.groups.style.setProperty("--k-columns", String(columns.length));
    ui.groups.replaceChildren(...columns);
  }

  // --- read aloud -------------------------------------------------------------------------
  let speaking = null;

  function stopSpeaking() {
    if (!canSpeak) return;
    window.speechSynthesis.cancel();
    if (speaking) speaking.lastChild.textContent = t("read_aloud");
    speaking = null;
  }

  function readAloudButton(text, lang) {
    const label = client.el("span", { text: t("read_aloud") });
    const button = client.el("button", { type: "button", class: "k-button k-read" }, client.icon("speaker"), label);
    button.addEventListener("click", () => {
      const wasThis = speaking === button;
      stopSpeaking();
      if (wasThis) return;
      const utterance = new window.SpeechSynthesisUtterance(text);
      utterance.lang = lang || document.documentElement.lang || "en";
      utterance.addEventListener("end", () => {
        if (speaking === button) stopSpeaking();
      });
      speaking = button;
      label.textContent = t("stop_reading");
      window.speechSynthesis.speak(utterance);
    });
    return button;
  }

  // --- a turn -------------------------------------------------------------------------------
  const renderOptions = {
    onAction: (title, payload, token) => ask(payload, title, false, token),
    links: false, // a public kiosk does not open other web sites
    surface: "kiosk",
  };

  async function ask(message, shown, fromInput, token) {
    const text = String(message || "").trim();
    if (!text || busy) return;
    busy = true;
    const myEpoch = epoch;
    stopSpeaking();
    const question = client.renderUserTurn(String(shown || text), "k-question");
    question.setAttribute("tabindex", "-1");
    ui.log.append(question);
    showScreen("answer");
    if (fromInput) {
      ui.input.value = "";
      setAsk(false);
    }
    ui.typing.textContent = t("typing");
    question.focus({ preventScroll: true });
    try {
      const reply = await client.sendTurn(config.rasaUrl, sender, text, "kiosk", token, { lang: config.language });
      if (myEpoch !== epoch) return;
      // The bot answered in another language (the visitor typed in it): the kiosk follows.
      const lang = client.replyLanguage(reply.custom);
      const other = lang && !client.sameLanguage(lang, config.language) ? await languageConfig(lang) : null;
      if (myEpoch !== epoch) return;
      if (lang) client.markUserTurn(question, lang);
      const turn = { messages: reply.messages, custom: reply.custom };
      const node = client.renderBotTurn(turn, other || config, renderOptions);
      const words = client.turnText(turn);
      if (canSpeak && words) {
        // Under the first part of the answer (or the urgent box), before sources and buttons.
        const read = readAloudButton(words, lang || config.language);
        const first = node.querySelector(".nw-urgent") || node.querySelector(".nw-bubble");
        if (first) first.after(read);
        else node.append(read);
      }
      ui.log.append(node);
      if (other) useLanguage(other);
    } catch (_error) {
      if (myEpoch !== epoch) return;
      const kept = fromInput && !ui.input.value; // not if the visitor has typed something else since
      if (kept) {
        ui.input.value = text;
        setAsk(true);
      }
      ui.log.append(client.renderError(config, { links: false, keptInput: kept }));
    } finally {
      if (myEpoch === epoch) {
        ui.typing.textContent = "";
        busy = false;
        question.scrollIntoView({ block: "start" });
      }
    }
  }

  // --- idle reset ---------------------------------------------------------------------------
  let idleTimer = 0;
  let lapseTimer = 0;
  let countTimer = 0;
  let warning = false;
  let focusBefore = null;

  function inUse() {
    return ui.log.childElementCount > 0 || !ui.answer.hidden || !ui.askForm.hidden || ui.input.value !== "";
  }

  function armIdle() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(onIdle, IDLE_SECONDS * 1000);
  }

  function onIdle() {
    if (inUse()) showWarning();
    else armIdle();
  }

  function setInert(on) {
    for (const node of [ui.header, ui.main, ui.footer]) node.inert = on;
  }

  function showWarning() {
    warning = true;
    focusBefore = document.activeElement;
    let left = Math.ceil(WARN_SECONDS);
    ui.count.textContent = String(left);
    ui.overlay.hidden = false;
    setInert(true);
    ui.stillHere.focus();
    countTimer = setInterval(() => {
      left = Math.max(0, left - 1);
      ui.count.textContent = String(left);
    }, 1000);
    lapseTimer = setTimeout(reset, WARN_SECONDS * 1000);
  }

  function hideWarning() {
    clearTimeout(lapseTimer);
    clearInterval(countTimer);
    if (!warning) return;
    warning = false;
    ui.overlay.hidden = true;
    setInert(false);
  }

  function stillHere() {
    hideWarning();
    if (focusBefore && document.contains(focusBefore) && focusBefore !== document.body) focusBefore.focus({ preventScroll: true });
    armIdle();
  }

  /** A fresh conversation: a new sender id, nothing of the last one on the page or (deleted) at the bot. */
  function newConversation() {
    stopSpeaking();
    epoch += 1;
    busy = false;
    if (ui.log.childElementCount) client.forget(config.rasaUrl, sender); // it reached the bot: delete it there
    sender = client.newSenderId("kiosk:");
    ui.log.replaceChildren();
    ui.typing.textContent = "";
    ui.input.value = "";
    setAsk(false);
  }

  /** Back to the start screen, in the home language, with a fresh conversation; nothing of the last one stays. */
  function reset() {
    hideWarning();
    newConversation();
    showScreen("start");
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    if (!client.sameLanguage(config.language, homeLanguage)) chooseLanguage(homeLanguage, false);
    armIdle();
  }

  function activity(event) {
    if (warning) {
      // Inside the warning only its button counts (its click handler); a touch outside it does.
      if (event && ui.dialog.contains(event.target)) return;
      stillHere();
      return;
    }
    armIdle();
  }

  // --- start -------------------------------------------------------------------------------
  /**
   * `text` into `parent`, with `value` (the emergency number) in a <strong id=...> where it occurs,
   * read left to right in every language.
   */
  function emphasise(parent, text, value, id) {
    const at = value ? text.indexOf(value) : -1;
    if (at < 0) parent.replaceChildren(text);
    else parent.replaceChildren(text.slice(0, at), client.el("strong", { id, text: value, dir: "ltr" }), text.slice(at + value.length));
  }

  // --- languages ------------------------------------------------------------------------------
  const configs = new Map(); // primary language -> its /config.json (a promise), read once

  function loadConfig(lang) {
    const key = client.primaryLanguage(lang);
    if (!configs.has(key)) {
      configs.set(
        key,
        client.loadConfig(client.languageUrl("config.json", window.location.href, lang)).then((loaded) => {
          if (!loaded) configs.delete(key); // asked again next time
          return loaded;
        })
      );
    }
    return configs.get(key);
  }

  /** The config of `lang`, or null if it cannot be read or that language is not served. */
  async function languageConfig(lang) {
    const loaded = await loadConfig(lang);
    return loaded && client.sameLanguage(loaded.language, lang) ? loaded : null;
  }

  /** The kiosk shows `loaded`'s language from now on: its words, its tiles, its direction. */
  function useLanguage(loaded) {
    languageEpoch += 1;
    const mine = languageEpoch;
    config = loaded;
    showWords();
    client
      .loadJson(client.languageUrl("topics.json", window.location.href, config.language))
      .catch(() => null)
      .then((topics) => {
        if (mine === languageEpoch) renderTopics(topics);
      });
  }

  /** A language button (or the idle reset): a fresh conversation in that language. */
  async function chooseLanguage(lang, focus) {
    if (!config || client.sameLanguage(lang, config.language)) return;
    newConversation();
    const mine = ++languageEpoch;
    const loaded = await languageConfig(lang);
    if (!loaded || mine !== languageEpoch) return;
    useLanguage(loaded);
    if (focus) {
      const chosen = ui.languageButtons.querySelector("[aria-pressed='true']");
      if (chosen) chosen.focus({ preventScroll: true });
    }
  }

  /** One button per language served, each in its own name and language; the one shown is pressed. */
  function renderLanguages() {
    const languages = config.languages || [];
    ui.languages.hidden = languages.length < 2;
    ui.languagesLabel.textContent = t("language_choice");
    ui.languageButtons.replaceChildren(
      ...languages.map((language) =>
        client.el("button", {
          type: "button",
          class: "k-button k-language",
          lang: language.code,
          dir: language.dir,
          "data-lang": language.code,
          "aria-pressed": String(client.sameLanguage(language.code, config.language)),
          text: language.name,
          onclick: () => chooseLanguage(language.code, true),
        })
      )
    );
  }

  /** Puts the strings file's words and the clinic's details on the page, in the config's language. */
  function showWords() {
    if (config.language) document.documentElement.lang = config.language;
    document.documentElement.dir = config.dir || "ltr";
    renderOptions.lang = document.documentElement.lang;
    document.title = t("page_title");
    renderLanguages();
    ui.clinic.textContent = config.clinic.name || "";
    ui.product.textContent = t("product");
    ui.finish.textContent = t("finish");
    ui.startTitle.textContent = t("start_title");
    ui.welcome.textContent = t("welcome");
    ui.privacy.textContent = t("privacy");
    ui.groups.replaceChildren(client.el("p", { class: "k-loading", text: t("loading") }));
    ui.back.textContent = t("back");
    ui.answerTitle.textContent = t("answers_title");
    ui.askLabel.textContent = t("question_label");
    ui.send.textContent = t("ask");
    emphasise(ui.footerText, t("footer"), config.clinic.emergencyNumber, "k-emergency");
    ui.idleTitle.textContent = t("idle_title");
    ui.idleText.replaceChildren();
    client.sayInto(ui.idleText, config, "kiosk", "idle_text", { seconds: ui.count });
    ui.stillHere.textContent = t("still_here");
    setAsk(false);
  }

  /**
   * Reads /config.json (of ?lang=, else the clinic's language), then the topics; until the config
   * can be read the screen stays neutral.
   */
  async function init() {
    const loaded = await loadConfig(askedLanguage);
    if (!loaded) {
      document.body.classList.add("k-unavailable");
      setTimeout(init, RETRY_SECONDS * 1000);
      return;
    }
    homeLanguage = loaded.language;
    document.body.classList.remove("k-unavailable");
    useLanguage(loaded);
    wire();
  }

  function wire() {
    ui.back.addEventListener("click", () => {
      stopSpeaking(); // the answer leaves the screen, so its reading stops too
      showScreen("start");
      ui.startTitle.focus({ preventScroll: true });
    });
    ui.finish.addEventListener("click", reset);
    ui.askToggle.addEventListener("click", () => setAsk(ui.askForm.hidden));
    ui.askForm.addEventListener("submit", (event) => {
      event.preventDefault();
      ask(ui.input.value, ui.input.value, true);
    });
    ui.stillHere.addEventListener("click", stillHere);
    landscape.addEventListener("change", layoutGroups);
    narrow.addEventListener("change", layoutGroups);
    for (const type of ["pointerdown", "keydown", "touchstart", "wheel", "input"]) {
      document.addEventListener(type, activity, { capture: true, passive: true });
    }
    ui.startTitle.setAttribute("tabindex", "-1");
    document.body.classList.add("k-ready");
    armIdle();
  }

  init();
})();
