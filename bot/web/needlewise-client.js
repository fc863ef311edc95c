/*
 * Needlewise shared client: the code the chat widget (widget.js) and the front-desk kiosk
 * (kiosk.js) both use. It talks to Rasa's REST channel and turns a reply into DOM nodes.
 *
 * Everything the patient types and everything the bot sends is put on the page with
 * createElement / textContent only, never innerHTML, so no reply or message can run as code.
 * Plain ES2020, no dependencies, no build step. It never touches browser storage.
 *
 * Every word it shows comes from /config.json (`strings`: the strings file, filled in with the
 * clinic's details by the web server); nothing is made up here, not a clinic name, not a number.
 *
 * Languages: /config.json?lang=<tag> holds the words of one language (`language`, its `dir`), and
 * lists every language served (`languages`: code, own name, dir) and the clinic's `defaultLanguage`.
 * Each turn sends the page's language as `metadata.lang`; each reply says its own (`custom.lang`),
 * and its nodes carry that `lang` and `dir`, so no text is ever marked as another language's.
 */
(function () {
  "use strict";

  if (window.NeedlewiseClient) return;

  /** The groups of the strings file the pages show (needlewise/strings.py PAGE_GROUPS). */
  const STRING_GROUPS = ["client", "widget", "kiosk"];
  const PLACEHOLDER = /\{([a-z_]+)\}/g;
  /** A BCP 47 language tag as the bot and the web server write them (en, pt-BR, ar). */
  const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

  const SVG_NS = "http://www.w3.org/2000/svg";
  let idCounter = 0;

  /** A page-unique id for aria-controls / aria-labelledby. */
  function uid(prefix) {
    idCounter += 1;
    return `${prefix || "nw"}-${idCounter}-${Math.random().toString(36).slice(2, 7)}`;
  }

  /**
   * Creates an element. props: class, text, hidden, on<event> (function), any other key is
   * set as an attribute. Children are nodes or strings (strings become text nodes).
   */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key === "hidden") node.hidden = true;
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Small inline icons (decorative: always aria-hidden). */
  const ICON_PATHS = {
    warning: "M12 2 1 21h22L12 2Zm0 5.5 7.5 12.5h-15L12 7.5ZM11 10v5h2v-5h-2Zm0 6.5v2h2v-2h-2Z",
    phone:
      "M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2c.3-.3.7-.4 1-.2 1.1.4 2.3.6 3.6.6.6 0 1 .4 1 1V20c0 .6-.4 1-1 1C10.6 21 3 13.4 3 4c0-.6.4-1 1-1h3.5c.6 0 1 .4 1 1 0 1.3.2 2.5.6 3.6.1.3 0 .7-.2 1l-2.3 2.2Z",
    chevron: "M9 6l6 6-6 6-1.4-1.4 4.6-4.6-4.6-4.6L9 6Z",
    chat: "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2Zm3 6v2h10V9H7Zm0-3v2h10V6H7Zm0 6v2h7v-2H7Z",
    close: "M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7l-1.4-1.4L9.2 12 2.9 5.7l1.4-1.4 6.3 6.3 6.3-6.3 1.4 1.4Z",
    speaker: "M3 9v6h4l5 5V4L7 9H3Zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4ZM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6Z",
  };

  function icon(name, className) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", `nw-icon ${className || ""}`.trim());
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICON_PATHS[name] || "");
    path.setAttribute("fill", "currentColor");
    svg.append(path);
    return svg;
  }

  /** Only http(s) links leave the page; anything else (javascript:, data:) is refused. */
  function safeUrl(url) {
    try {
      const parsed = new URL(String(url));
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (_error) {
      return null;
    }
  }

  function externalLink(href, text, className) {
    return el("a", { href, class: className, target: "_blank", rel: "noopener noreferrer" }, text);
  }

  /** "tel:" link target for a number written for people ("0100 200 300", "116 123 (any time)"). */
  function telHref(number) {
    const match = String(number || "").match(/\+?\d[\d\s().-]*\d|\d+/);
    return match ? `tel:${match[0].replace(/[^\d+]/g, "")}` : null;
  }

  /**
   * A phone number as a link; `links` false: as text. Either way isolated from the words around it
   * (<bdi>, or dir on the link), so "0100 200 300" is never reordered inside right-to-left text.
   */
  function phoneLink(number, className, links) {
    const href = links === false ? null : telHref(number);
    return href ? el("a", { href, class: className, dir: "ltr" }, String(number)) : el("bdi", { class: className }, String(number));
  }

  function escapeRegExp(text) {
    return String(text).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  /**
   * Appends `text` to `parent` as text nodes; web addresses and the clinic's phone numbers in
   * it become links (when `links` is true; else the numbers are only kept left to right). No
   * markup in `text` is ever interpreted.
   */
  function appendRichText(parent, text, config, links) {
    const value = String(text || "");
    const clinic = (config && config.clinic) || {};
    const numbers = [clinic.phone, clinic.emergencyNumber]
      .filter((n) => n && /\d/.test(n))
      .sort((a, b) => String(b).length - String(a).length)
      .map((n) => `(?<![\\d-])${escapeRegExp(n)}(?![\\d-])`);
    if (!links && !numbers.length) {
      parent.append(document.createTextNode(value));
      return parent;
    }
    const pattern = new RegExp([...(links ? ["https?:\\/\\/[^\\s<>\"]+"] : []), ...numbers].join("|"), "g");
    let last = 0;
    for (const match of value.matchAll(pattern)) {
      let token = match[0];
      if (/^https?:/.test(token)) token = token.replace(/[.,;:!?)]+$/, "");
      const start = match.index;
      parent.append(document.createTextNode(value.slice(last, start)));
      if (/^https?:/.test(token)) {
        const href = safeUrl(token);
        parent.append(href ? externalLink(href, token) : document.createTextNode(token));
      } else {
        parent.append(phoneLink(token, undefined, links));
      }
      last = start + token.length;
    }
    parent.append(document.createTextNode(value.slice(last)));
    return parent;
  }

  async function loadJson(url, timeoutMs) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs || 10000);
    try {
      const response = await fetch(url, { signal: controller.signal, credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
      return await response.json();
    } finally {
      clearTimeout(timer);
    }
  }

  function isTextMap(value) {
    return Boolean(value) && typeof value === "object" && Object.values(value).every((v) => typeof v === "string");
  }

  /**
   * /config.json: where the bot is (its public address; empty means where this config came from),
   * the clinic's details and every word the pages show. Null if
   * it cannot be read or lacks any of that (a page on another site that may not read it, a server
   * that cannot read its files): the pages then show nothing they have not been told. Never throws.
   */
  async function loadConfig(url) {
    try {
      const data = await loadJson(url);
      const strings = data && data.strings;
      if (!isTextMap(data.clinic) || !strings || !STRING_GROUPS.every((group) => isTextMap(strings[group]))) {
        return null;
      }
      const language = isLanguageTag(data.language) ? data.language : "";
      const languages = (Array.isArray(data.languages) ? data.languages : [])
        .filter((l) => l && isLanguageTag(l.code) && typeof l.name === "string" && l.name)
        .map((l) => ({ code: l.code, name: l.name, dir: l.dir === "rtl" ? "rtl" : "ltr" }));
      return {
        // the bot's public address, or (empty) the origin and folder this config came from
        rasaUrl: typeof data.rasaUrl === "string" && data.rasaUrl ? data.rasaUrl : new URL(".", new URL(url, window.location.href)).href,
        language,
        dir: data.dir === "rtl" ? "rtl" : "ltr",
        defaultLanguage: isLanguageTag(data.defaultLanguage) ? data.defaultLanguage : language,
        languages,
        clinic: Object.assign({}, data.clinic),
        evidenceLevels: isTextMap(data.evidenceLevels) ? Object.assign({}, data.evidenceLevels) : {},
        strings: Object.fromEntries(STRING_GROUPS.map((group) => [group, Object.assign({}, strings[group])])),
      };
    } catch (_error) {
      return null;
    }
  }

  function isLanguageTag(tag) {
    return typeof tag === "string" && tag.length <= 35 && LANGUAGE_TAG.test(tag);
  }

  /** "pt-BR" -> "pt"; "" for anything that is not a language tag. */
  function primaryLanguage(tag) {
    return isLanguageTag(tag) ? tag.split("-")[0].toLowerCase() : "";
  }

  /** Whether two tags name the same language (pt, pt-BR and pt-PT do). */
  function sameLanguage(a, b) {
    return Boolean(primaryLanguage(a)) && primaryLanguage(a) === primaryLanguage(b);
  }

  /** `file` (config.json, topics.json) next to `base`, for the language `lang` (none: the clinic's default). */
  function languageUrl(file, base, lang) {
    const url = new URL(file, base || window.location.href);
    if (isLanguageTag(lang)) url.searchParams.set("lang", lang);
    return url.href;
  }

  /** The language a reply is written in (`custom.lang` of the reply contract), or "". */
  function replyLanguage(custom) {
    return custom && isLanguageTag(custom.lang) ? custom.lang : "";
  }

  /** "rtl" or "ltr" for `tag`, as the web server listed it (config.languages); "auto" if not listed. */
  function directionOf(config, tag) {
    const listed = ((config && config.languages) || []).find((l) => sameLanguage(l.code, tag));
    if (listed) return listed.dir;
    if (config && sameLanguage(config.language, tag)) return config.dir || "ltr";
    return "auto";
  }

  /**
   * One string of the strings file (`group`, `key`) with the page's own values filled in
   * ({number}, {seconds}, ...). A string the config does not have is empty: never made up.
   */
  function say(config, group, key, values) {
    const texts = (config && config.strings && config.strings[group]) || {};
    const template = typeof texts[key] === "string" ? texts[key] : "";
    return template.replace(PLACEHOLDER, (whole, name) => (values && name in values ? String(values[name]) : whole));
  }

  /** Appends a string to `parent`, with a DOM node where each of its placeholders is ({seconds}: a <span>). */
  function sayInto(parent, config, group, key, nodes) {
    const template = say(config, group, key);
    let last = 0;
    for (const match of template.matchAll(PLACEHOLDER)) {
      parent.append(template.slice(last, match.index));
      const node = nodes && nodes[match[1]];
      parent.append(node === undefined || node === null ? match[0] : node);
      last = match.index + match[0].length;
    }
    parent.append(template.slice(last));
    return parent;
  }

  function newSenderId(prefix) {
    const random =
      window.crypto && typeof window.crypto.randomUUID === "function"
        ? window.crypto.randomUUID()
        : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    const start = prefix || "web";
    return /[:-]$/.test(start) ? `${start}${random}` : `${start}-${random}`;
  }

  /** Rasa's list of messages -> {messages: [{text, buttons}], custom}. */
  function normaliseReply(data) {
    if (!Array.isArray(data)) throw new Error("The reply is not a list of messages.");
    const messages = [];
    let custom = null;
    for (const item of data) {
      if (!item || typeof item !== "object") continue;
      if (item.custom && typeof item.custom === "object" && !custom) custom = item.custom;
      const hasText = typeof item.text === "string" && item.text.trim() !== "";
      const buttons = Array.isArray(item.buttons)
        ? item.buttons
            .filter((b) => b && typeof b.title === "string" && typeof b.payload === "string")
            .map((b) => {
              const kept = { title: b.title, payload: b.payload };
              if (typeof b.token === "string") kept.token = b.token;
              return kept;
            })
        : [];
      if (hasText || buttons.length) messages.push({ text: hasText ? item.text : "", buttons });
    }
    if (!messages.length && !custom) throw new Error("The reply is empty.");
    return { messages, custom: custom || { kind: "fallback", topic: null } };
  }

  function webhookUrl(rasaUrl, path) {
    return `${String(rasaUrl).replace(/\/+$/, "")}/webhooks/rest/${path}`;
  }

  /**
   * One turn through Rasa's REST channel. Throws on network errors and non-200 answers.
   * `token` is the token that came with a clicked button (it proves the payload is the bot's own).
   * options: {lang: the page's language, sent as metadata.lang; timeoutMs}.
   */
  async function sendTurn(rasaUrl, sender, message, surface, token, options) {
    if (!rasaUrl) throw new Error("No Rasa server is configured.");
    const opts = options || {};
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), opts.timeoutMs || 20000);
    const metadata = { surface };
    if (typeof token === "string" && token) metadata.token = token;
    if (isLanguageTag(opts.lang)) metadata.lang = opts.lang;
    try {
      const response = await fetch(webhookUrl(rasaUrl, "webhook"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender, message, metadata }),
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
      });
      if (!response.ok) throw new Error(`The assistant answered HTTP ${response.status}.`);
      return normaliseReply(await response.json());
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * What a topic tile or starter button sends. With a token from /topics.json the bot takes the
   * signed payload "/<topic_id>" as is; without one the bot would read an unsigned payload as
   * plain words, so the topic's title (a real question the bot understands) is sent instead.
   */
  function topicButton(topic) {
    if (typeof topic.token === "string" && topic.token) {
      return { title: topic.title, payload: topic.payload || `/${topic.id}`, token: topic.token };
    }
    return { title: topic.title, payload: topic.title };
  }

  /** Asks the bot to delete a conversation (POST /webhooks/rest/forget); never throws. */
  async function forget(rasaUrl, sender) {
    if (!rasaUrl || !sender) return false;
    try {
      const response = await fetch(webhookUrl(rasaUrl, "forget"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender }),
        credentials: "omit",
        cache: "no-store",
        keepalive: true,
        referrerPolicy: "no-referrer",
      });
      return response.ok;
    } catch (_error) {
      return false;
    }
  }

  function formatDate(iso, lang) {
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(iso || ""));
    if (!match) return String(iso || "");
    const date = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
    try {
      return date.toLocaleDateString(lang || "en", { year: "numeric", month: "long", day: "numeric" });
    } catch (_error) {
      return String(iso);
    }
  }

  /** A disclosure button plus a panel: wires aria-expanded / aria-controls / hidden. */
  function disclosure(label, panel, className) {
    const panelId = panel.id || uid("nw-panel");
    panel.id = panelId;
    panel.hidden = true;
    const button = el(
      "button",
      { type: "button", class: `nw-disclosure ${className || ""}`.trim(), "aria-expanded": "false", "aria-controls": panelId },
      icon("chevron", "nw-chevron"),
      el("span", { text: label })
    );
    button.addEventListener("click", () => {
      const open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      panel.hidden = !open;
    });
    return el("div", { class: "nw-sources" }, button, panel);
  }

  /** The "Sources and evidence" disclosure for a reply that used a knowledge entry. */
  function renderSources(custom, config, options) {
    const links = options.links !== false;
    const panel = el("div", { class: "nw-sources-panel" });
    const evidence = custom.evidence || {};
    if (evidence.level || evidence.summary) {
      const plain = (config.evidenceLevels || {})[evidence.level] || evidence.level || "";
      panel.append(
        el(
          "p",
          { class: "nw-evidence" },
          el("strong", { text: `${say(config, "client", "evidence_heading")} ` }),
          plain ? `${plain} ` : "",
          evidence.summary || ""
        )
      );
    }
    const sources = Array.isArray(custom.sources) ? custom.sources : [];
    if (sources.length) {
      const list = el("ol", { class: "nw-source-list" });
      for (const source of sources) {
        const pmid = source.pmid ? String(source.pmid).replace(/\D/g, "") : "";
        const doi = source.doi ? String(source.doi).trim() : "";
        const pubmed = pmid ? `https://pubmed.ncbi.nlm.nih.gov/${pmid}/` : null;
        const doiUrl = doi ? `https://doi.org/${encodeURI(doi)}` : null;
        const main = safeUrl(source.url) || pubmed || doiUrl;
        const item = el("li");
        const title = String(source.title || main || say(config, "client", "source_untitled"));
        const titleNode = links && main ? externalLink(main, title, "nw-source-title") : el("span", { class: "nw-source-title", text: title });
        titleNode.setAttribute("dir", "auto"); // a study's title is in its own language, not the reply's
        item.append(titleNode);
        const ids = [];
        if (pmid) ids.push(links ? externalLink(pubmed, `PMID ${pmid}`, "nw-source-id") : el("span", { text: `PMID ${pmid}` }));
        if (doi) ids.push(links ? externalLink(doiUrl, `DOI ${doi}`, "nw-source-id") : el("span", { text: `DOI ${doi}` }));
        if (ids.length) {
          const meta = el("span", { class: "nw-source-meta" });
          ids.forEach((node, index) => meta.append(index ? " · " : "", node));
          item.append(" ", meta);
        }
        list.append(item);
      }
      panel.append(el("p", { class: "nw-sources-heading", text: say(config, "client", "sources_heading") }), list);
    }
    const review = renderReview(custom, config, options);
    if (review) panel.append(review);
    return disclosure(say(config, "client", "sources_button"), panel);
  }

  /**
   * Whether a clinician approved the answer: `review` of the reply contract (draft, or approved
   * by whom, their role and when), or the older `reviewed: {by, on}`. Nothing is claimed beyond it.
   */
  function renderReview(custom, config, options) {
    const time = (iso) => el("time", { datetime: iso, text: formatDate(iso, options.lang) });
    const review = custom.review && typeof custom.review === "object" ? custom.review : null;
    if (review && review.status === "approved" && review.by && review.on) {
      return sayInto(el("p", { class: "nw-reviewed" }), config, "client", "review_approved", {
        reviewer: String(review.by),
        role: String(review.role || ""),
        date: time(review.on),
      });
    }
    if (review && review.status === "draft") {
      return el("p", { class: "nw-reviewed nw-draft", text: say(config, "client", "review_draft") });
    }
    const old = custom.reviewed && typeof custom.reviewed === "object" ? custom.reviewed : null;
    if (!review && old && old.by && old.on) {
      return sayInto(el("p", { class: "nw-reviewed" }), config, "client", "reviewed", {
        reviewer: String(old.by),
        date: time(old.on),
      });
    }
    return null;
  }

  /** "Was this helpful?" buttons, told apart from suggested questions. */
  function isFeedbackPayload(payload) {
    return /^\/feedback_/.test(payload);
  }

  function buttonGroup(buttons, label, onAction) {
    const group = el("div", { class: "nw-actions", role: "group", "aria-label": label });
    for (const b of buttons) {
      const feedback = isFeedbackPayload(b.payload);
      group.append(
        el(
          "button",
          {
            type: "button",
            class: feedback ? "nw-chip nw-chip-feedback" : "nw-chip",
            "data-payload": b.payload,
            onclick: () => onAction(b.title, b.payload, b.token),
          },
          b.title
        )
      );
    }
    return group;
  }

  function bubble(text, config, options, className) {
    const marks = options.lang ? { lang: options.lang, dir: options.dir || "auto" } : {};
    return appendRichText(el("p", { class: `nw-bubble ${className || ""}`.trim(), ...marks }), text, config, options.links !== false);
  }

  /** Urgent replies: distinct colour, an icon, an "Urgent" heading and the number to call. */
  function renderUrgent(turn, config, options) {
    const custom = turn.custom || {};
    const clinic = config.clinic || {};
    const kiosk = options.surface === "kiosk";
    const headingId = uid("nw-urgent");
    const box = el("section", { class: "nw-urgent", "aria-labelledby": headingId });
    box.append(
      el(
        "div",
        { class: "nw-urgent-head" },
        icon("warning", "nw-urgent-icon"),
        el("h3", { id: headingId, class: "nw-urgent-title", text: say(config, "client", "urgent_title") })
      )
    );
    const frontDesk = kiosk ? String(clinic.frontDesk || "").trim() : "";
    if (frontDesk) box.append(el("p", { class: "nw-frontdesk", text: frontDesk }));
    for (const message of turn.messages || []) {
      let text = message.text || "";
      // The kiosk shows the front-desk line on its own above; do not repeat it inside the text.
      if (frontDesk) text = text.split(frontDesk).join(" ").replace(/\s{2,}/g, " ").trim();
      if (text) box.append(bubble(text, config, options, "nw-urgent-text"));
    }
    const number = custom.call || clinic.emergencyNumber;
    if (number) {
      const href = telHref(number);
      // the number in a <bdi>: it reads left to right in every language
      const words = (key) => sayInto(el("span"), config, "client", key, { number: el("bdi", { dir: "ltr", text: String(number) }) });
      box.append(
        kiosk || !href
          ? el("p", { class: "nw-call" }, icon("phone"), words("emergency_number"))
          : el("a", { class: "nw-call", href }, icon("phone"), words("call_button"))
      );
    }
    if (custom.crisis_line) {
      const crisis = el("p", { class: "nw-crisis" }, el("strong", { text: `${say(config, "client", "crisis_line")} ` }));
      crisis.append(phoneLink(custom.crisis_line, undefined, !kiosk));
      box.append(crisis);
    }
    return box;
  }

  /**
   * One bot turn as DOM, marked with the reply's language (`custom.lang`; else the config's) and
   * its direction; `config` should be that language's (its words label the turn's buttons).
   * options: {onAction(title, payload, token), links (default true), surface "web"|"kiosk", lang}.
   */
  function renderBotTurn(turn, config, givenOptions) {
    const custom = turn.custom || {};
    const kind = /^[a-z_]+$/.test(custom.kind || "") ? custom.kind : "fallback";
    const lang = replyLanguage(custom) || (config && config.language) || givenOptions.lang || "";
    const options = Object.assign({}, givenOptions, { lang, dir: directionOf(config, lang) });
    const marks = lang ? { lang, dir: options.dir } : {};
    const wrap = el("div", { class: `nw-turn nw-turn-bot nw-kind-${kind}`, "data-kind": kind, ...marks });
    if (kind === "urgent") {
      wrap.append(renderUrgent(turn, config, options));
      return wrap;
    }
    const hasSources = Array.isArray(custom.sources) && custom.sources.length > 0;
    const messages = turn.messages || [];
    const isFeedback = (message) => message.buttons.some((b) => isFeedbackPayload(b.payload));
    // The sources go under the answer's words: the last message that is not "Was this helpful?".
    let sourcesAfter = -1;
    messages.forEach((message, index) => {
      if (message.text && !isFeedback(message)) sourcesAfter = index;
    });
    messages.forEach((message, index) => {
      const feedback = isFeedback(message);
      if (message.text) wrap.append(bubble(message.text, config, options, feedback ? "nw-bubble-small" : ""));
      if (hasSources && index === sourcesAfter) wrap.append(renderSources(custom, config, options));
      if (message.buttons.length) {
        const label = say(config, "client", feedback ? "feedback_group" : "suggestions_group");
        wrap.append(buttonGroup(message.buttons, label, options.onAction));
      }
    });
    if (hasSources && sourcesAfter < 0) wrap.append(renderSources(custom, config, options));
    return wrap;
  }

  /** What the patient wrote: its direction from its own letters; `lang` once the bot has said which language it is. */
  function renderUserTurn(text, className, lang) {
    const node = el("div", { class: `nw-turn nw-turn-user ${className || ""}`.trim() }, el("p", { class: "nw-bubble", text, dir: "auto" }));
    if (lang) markUserTurn(node, lang);
    return node;
  }

  function markUserTurn(node, lang) {
    if (isLanguageTag(lang)) node.setAttribute("lang", lang);
  }

  /** The friendly "could not reach the assistant" message, with the clinic's phone and emergency numbers. */
  function renderError(config, options) {
    const opts = options || {};
    const marks = config && config.language ? { lang: config.language, dir: config.dir || "ltr" } : {};
    const box = el("div", { class: "nw-turn nw-turn-bot nw-error", "data-kind": "error", ...marks });
    const words = [
      say(config, "client", "error_unreachable"),
      say(config, "client", opts.keptInput ? "error_kept_input" : "error_try_again"),
      say(config, "client", "error_call"),
    ];
    box.append(bubble(words.filter(Boolean).join(" "), config, { links: opts.links !== false }));
    return box;
  }

  /** The words of a turn, for reading aloud. */
  function turnText(turn) {
    return (turn.messages || [])
      .map((m) => m.text)
      .filter(Boolean)
      .join(" ");
  }

  window.NeedlewiseClient = Object.freeze({
    el,
    icon,
    uid,
    safeUrl,
    telHref,
    appendRichText,
    loadJson,
    loadConfig,
    say,
    sayInto,
    isLanguageTag,
    primaryLanguage,
    sameLanguage,
    languageUrl,
    replyLanguage,
    directionOf,
    markUserTurn,
    newSenderId,
    normaliseReply,
    sendTurn,
    forget,
    topicButton,
    renderSources,
    renderReview,
    renderBotTurn,
    renderUserTurn,
    renderUrgent,
    renderError,
    turnText,
    formatDate,
  });
})();
