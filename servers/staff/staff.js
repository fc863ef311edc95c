/*
 * The staff page: asks for the staff token once per tab (kept in sessionStorage, never in the URL),
 * then fetches the report with `Authorization: Bearer <token>` and shows it in place of this page.
 * The report is made afresh on every load; nothing is cached.
 */
(function () {
  "use strict";

  const KEY = "needlewise.staff.token";
  const REPORT = new URL("report.html", document.currentScript.src).href; // next to this script, wherever it is served
  const $ = (id) => document.getElementById(id);

  function show(...ids) {
    for (const id of ["sign-in", "loading", "refused", "failed"]) $(id).hidden = !ids.includes(id);
  }

  function token() {
    try {
      return window.sessionStorage.getItem(KEY) || "";
    } catch (_error) {
      return "";
    }
  }

  function remember(value) {
    try {
      if (value) window.sessionStorage.setItem(KEY, value);
      else window.sessionStorage.removeItem(KEY);
    } catch (_error) {
      /* storage blocked: the token is asked for again next time */
    }
  }

  function display(html, signOutLabel) {
    const page = new DOMParser().parseFromString(html, "text/html");
    document.title = page.title;
    for (const style of page.querySelectorAll("style")) document.head.append(style);
    const bar = document.createElement("div");
    bar.className = "staff-bar";
    const signOut = document.createElement("button");
    signOut.type = "button";
    signOut.textContent = signOutLabel;
    signOut.addEventListener("click", () => {
      remember("");
      window.location.reload();
    });
    bar.append(signOut);
    document.body.replaceChildren(bar, ...Array.from(page.body.childNodes));
  }

  async function load(value) {
    show("loading");
    let response;
    try {
      response = await fetch(REPORT, { headers: { Authorization: `Bearer ${value}` }, cache: "no-store" });
    } catch (_error) {
      show("failed", "sign-in");
      return;
    }
    if (response.status === 401) {
      remember("");
      show("refused", "sign-in");
      $("token").focus();
      return;
    }
    if (!response.ok) {
      show("failed", "sign-in");
      return;
    }
    remember(value);
    display(await response.text(), $("sign-in").dataset.signOut);
  }

  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    load($("token").value.trim());
  });

  const saved = token();
  if (saved) load(saved);
  else {
    show("sign-in");
    $("token").focus();
  }
})();
