// The citeqa page's helpers, loaded before citeqa.js: building elements, the API (with the
// key asked for once per tab), and the only links to other places the page ever makes.
// Plain script, no build step. Text from documents only ever enters the page as text nodes.
"use strict";
window.citeqa = (() => {
  const KEY = "citeqa.apiKey"; // sessionStorage: this tab only, gone when it closes
  const $ = (id) => document.getElementById(id);

  // -- small helpers ------------------------------------------------------------------------

  /** An element; string children become text nodes, so nothing here is parsed as HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  /** The API's offsets count code points (Python string indices); JS strings count UTF-16
   * units. Returns the code point count and a map from a code point offset to a JS index. */
  function codePoints(text) {
    if (!/[\uD800-\uDFFF]/.test(text)) return { length: text.length, at: (i) => i };
    const units = [0];
    let u = 0;
    for (const ch of text) units.push((u += ch.length));
    return { length: units.length - 1, at: (i) => units[Math.max(0, Math.min(i, units.length - 1))] };
  }

  /** /documents/<id> with the whole id percent-encoded, its "/" too: an id like "a/../b"
   * would otherwise be folded to "b" by the browser (even written as %2E%2E). */
  function documentPath(prefix, docId) {
    return prefix + encodeURIComponent(docId);
  }

  /** A link the page may make: an absolute http(s) URL, or a path of this server's API
   * (/v1/...) on this origin. Anything else (javascript:, data:, //elsewhere) is null. */
  function safeUrl(url) {
    if (typeof url !== "string") return null;
    try {
      if (url.startsWith("/")) {
        const parsed = new URL(url, location.origin);
        const ours = parsed.origin === location.origin && parsed.pathname.startsWith("/v1/");
        return ours ? parsed.pathname + parsed.search + parsed.hash : null;
      }
      const parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch {
      return null;
    }
  }

  function setStatus(id, text, isError) {
    const box = $(id);
    box.textContent = text || "";
    box.classList.toggle("error", Boolean(isError));
  }

  // -- the API, with the key asked for once per tab -------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  let keyWanted = null; // the pending "ask for the key" promise, shared by concurrent calls

  function askForKey(refused) {
    if (keyWanted) return keyWanted;
    const form = $("key-form");
    form.hidden = false;
    $("key-error").textContent = refused ? "That key was refused; check it and try again." : "";
    $("key").value = "";
    $("key").focus();
    keyWanted = new Promise((resolve) => {
      form.onsubmit = (event) => {
        event.preventDefault();
        const key = $("key").value.trim();
        if (!key) return;
        sessionStorage.setItem(KEY, key);
        form.hidden = true;
        form.onsubmit = null;
        keyWanted = null;
        showForget();
        resolve();
      };
    });
    return keyWanted;
  }

  function showForget() {
    $("forget-key").hidden = !sessionStorage.getItem(KEY);
  }

  function forgetKey() {
    sessionStorage.removeItem(KEY);
    showForget();
  }

  /** GET ``path`` of the API: its JSON, or with ``asBlob`` the body as a Blob. */
  async function api(path, asBlob) {
    for (;;) {
      const key = sessionStorage.getItem(KEY);
      const headers = { Accept: asBlob ? "*/*" : "application/json" };
      if (key) headers.Authorization = `Bearer ${key}`;
      let response;
      try {
        response = await fetch(path, { headers });
      } catch {
        throw new ApiError(0, "the server did not answer; is citeqa running?");
      }
      if (response.status === 401) {
        if (key) sessionStorage.removeItem(KEY);
        showForget();
        await askForKey(Boolean(key));
        continue;
      }
      if (response.ok && asBlob) return response.blob();
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        const message = body && body.error ? body.error.message : response.statusText;
        throw new ApiError(response.status, message);
      }
      return body;
    }
  }

  // -- links out: the source on the web, the original file kept here -----------------------

  /** A link that opens in a new tab, or null when ``href`` is not one the page may make. */
  function outLink(href, label, attrs) {
    const safe = safeUrl(href);
    if (!safe) return null;
    return el("a", { ...attrs, href: safe, target: "_blank", rel: "noopener noreferrer" }, label);
  }

  /** The kept original file of ``docId`` on this origin, at the page of ``apiLink``
   * (the API's absolute link names the server's configured address, which may not be the
   * one this browser reached). */
  function originalPath(docId, apiLink) {
    const page = /#page=(\d+)$/.exec(apiLink || "");
    return `${documentPath("/v1/documents/", docId)}/original${page ? `#page=${page[1]}` : ""}`;
  }

  /** A link to the kept original. A new tab sends no API key, so when this tab holds one a
   * click fetches the file with it and opens that copy (at the same #page=N) instead. */
  function originalLink(docId, apiLink, label, statusId) {
    const link = outLink(originalPath(docId, apiLink), label, { class: "original" });
    if (!link) return null;
    link.addEventListener("click", (event) => {
      if (!sessionStorage.getItem(KEY)) return; // no key: the plain link works
      event.preventDefault();
      const target = new URL(link.href);
      api(target.pathname, true).then((blob) => {
        const copy = URL.createObjectURL(blob);
        window.open(copy + target.hash, "_blank", "noopener,noreferrer");
        setTimeout(() => URL.revokeObjectURL(copy), 60_000);
      }, (error) => setStatus(statusId, `Could not open the original: ${error.message}`, true));
    });
    return link;
  }

  /** "p. 3", or "pp. 3–4" for a span over pages; null without pages. */
  function pagesLabel(start, end) {
    if (!Number.isInteger(start)) return null;
    return Number.isInteger(end) && end !== start ? `pp. ${start}–${end}` : `p. ${start}`;
  }

  return Object.freeze({
    KEY, $, el, codePoints, documentPath, safeUrl, setStatus, api, showForget, forgetKey,
    outLink, originalLink, pagesLabel,
  });
})();
