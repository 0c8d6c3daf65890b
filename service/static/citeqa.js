// The citeqa page: ask, read the marked sentence in its passage, open the document at the span.
// Plain script, no build step. Text from documents only ever enters the page as text nodes.
"use strict";
(() => {
  const KEY = "citeqa.apiKey"; // sessionStorage: this tab only, gone when it closes
  const TOP_K = 10;
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

  function citationHref(c, h) {
    const answer = h ? `:${h.char_start}-${h.char_end}` : "";
    return `${documentPath("/documents/", c.doc_id)}#${c.char_start}-${c.char_end}${answer}`;
  }

  function safeUrl(url) {
    try {
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

  async function api(path) {
    for (;;) {
      const key = sessionStorage.getItem(KEY);
      const headers = { Accept: "application/json" };
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
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        const message = body && body.error ? body.error.message : response.statusText;
        throw new ApiError(response.status, message);
      }
      return body;
    }
  }

  // -- ask ------------------------------------------------------------------------------

  let asked = 0; // answers to older questions that arrive late are dropped

  function readAsk() {
    const params = new URLSearchParams(location.search);
    const mode = params.get("mode") || "hybrid";
    return { q: (params.get("q") || "").trim(), mode };
  }

  function showAsk() {
    const { q, mode } = readAsk();
    $("q").value = q;
    const radio = document.querySelector(`input[name=mode][value="${CSS.escape(mode)}"]`);
    (radio || document.querySelector("input[name=mode][value=hybrid]")).checked = true;
    document.title = q ? `${q} · citeqa` : "citeqa";
    if (q) ask(q, radio ? mode : "hybrid");
    else {
      $("results").replaceChildren();
      setStatus("ask-status", "");
      $("q").focus();
    }
  }

  async function ask(q, mode) {
    const mine = ++asked;
    setStatus("ask-status", "Searching…");
    $("results").setAttribute("aria-busy", "true");
    try {
      const params = new URLSearchParams({ q, mode, top_k: String(TOP_K) });
      const data = await api(`/v1/query?${params}`);
      if (mine !== asked) return;
      renderResults(data);
    } catch (error) {
      if (mine !== asked) return;
      $("results").replaceChildren();
      setStatus("ask-status", `Could not search: ${error.message}`, true);
    } finally {
      if (mine === asked) $("results").removeAttribute("aria-busy");
    }
  }

  function renderResults(data) {
    const box = $("results");
    const n = data.results.length;
    setStatus("ask-status", n
      ? `${n} passage${n === 1 ? "" : "s"} in ${Math.round(data.took_ms)} ms`
      : "No passage matched. Try other words, or search by meaning only.");
    const parts = [];
    if (!data.answerable) {
      parts.push(el("div", { class: "banner", role: "alert", id: "not-answerable" },
        el("strong", {}, "The documents may not answer this."),
        " The passages below are the closest found; read them before relying on them."));
    } else if (n) {
      parts.push(el("p", { class: "hint" }, "Ranked by how well they match. A marked sentence " +
        "is the best match in its passage, not a checked answer: read it in context."));
    }
    if (n) parts.push(el("ol", { class: "results" }, ...data.results.map(resultItem)));
    box.replaceChildren(...parts);
  }

  function resultItem(r) {
    const c = r.citation;
    const h = r.highlight;
    const cp = codePoints(r.text);
    const from = cp.at(h.char_start - c.char_start);
    const to = cp.at(h.char_end - c.char_start);
    const meta = [c.source, c.published, `characters ${c.char_start}–${c.char_end}`]
      .filter(Boolean).join(" · ");
    return el("li", { class: "result" },
      el("h2", {},
        el("span", { class: "label" }, c.label), " ",
        el("a", { href: citationHref(c, h), class: "cite" }, c.title || c.doc_id)),
      el("p", { class: "meta" }, meta),
      el("blockquote", { class: "passage" },
        r.text.slice(0, from), el("mark", {}, r.text.slice(from, to)), r.text.slice(to)));
  }

  // -- the documents list -----------------------------------------------------------------

  let listed = [];

  async function showDocuments() {
    document.title = "Documents · citeqa";
    setStatus("documents-status", "Loading…");
    try {
      listed = (await api("/v1/documents")).documents;
    } catch (error) {
      setStatus("documents-status", `Could not list the documents: ${error.message}`, true);
      return;
    }
    $("filter").oninput = renderDocuments;
    renderDocuments();
  }

  function renderDocuments() {
    const words = $("filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = listed.filter((d) => {
      const hay = [d.title, d.source, d.doc_id].filter(Boolean).join(" ").toLowerCase();
      return words.every((w) => hay.includes(w));
    });
    const passages = shown.reduce((sum, d) => sum + d.passages, 0);
    setStatus("documents-status", `${shown.length} of ${listed.length} documents, ` +
      `${passages} passages`);
    const rows = shown.map((d) => el("tr", {},
      el("td", {}, el("a", { href: documentPath("/documents/", d.doc_id) }, d.title || d.doc_id)),
      el("td", { class: d.source ? null : "empty" }, d.source || "—"),
      el("td", { class: d.published ? null : "empty" }, d.published || "—"),
      el("td", { class: "num" }, String(d.passages)),
      el("td", { class: "num" }, d.chars.toLocaleString("en"))));
    document.querySelector("#documents tbody").replaceChildren(...rows);
  }

  // -- one document, with the cited span marked ------------------------------------------------

  function readSpan() {
    const m = /^#(\d+)-(\d+)(?::(\d+)-(\d+))?$/.exec(location.hash);
    if (!m) return null;
    const [cite, answer] = [[m[1], m[2]], [m[3], m[4]]].map(([a, b]) =>
      a === undefined ? null : { start: Number(a), end: Number(b) });
    return { cite, answer };
  }

  let shownDoc = null;

  async function showDocument(docId) {
    setStatus("document-status", "Loading…");
    try {
      shownDoc = await api(documentPath("/v1/documents/", docId));
    } catch (error) {
      $("document").replaceChildren();
      const what = error.status === 404 ? "No such document" : "Could not load the document";
      setStatus("document-status", `${what}: ${error.message}`, true);
      return;
    }
    document.title = `${shownDoc.title || shownDoc.doc_id} · citeqa`;
    renderDocument();
    window.onhashchange = renderDocument;
  }

  function renderDocument() {
    const doc = shownDoc;
    const cp = codePoints(doc.text);
    const span = readSpan();
    let cite = span && span.cite;
    let notice = "";
    if (cite && !(cite.start < cite.end && cite.end <= cp.length)) {
      notice = `The span ${cite.start}–${cite.end} is not inside this document ` +
        `(${cp.length} characters); showing it whole.`;
      cite = null;
    }
    const answer = cite && span.answer && span.answer.start >= cite.start &&
      span.answer.end <= cite.end && span.answer.start < span.answer.end ? span.answer : null;

    const link = doc.url && safeUrl(doc.url);
    const meta = [doc.source, doc.published].filter(Boolean).join(" · ");
    const header = el("header", {},
      el("h1", {}, doc.title || doc.doc_id),
      meta ? el("p", { class: "meta" }, meta) : null,
      el("p", { class: "meta" }, "id ", el("code", {}, doc.doc_id),
        link ? " · " : null, link ? el("a", { href: link, rel: "noopener noreferrer" }, "original") : null),
      el("p", { class: "legend" },
        cite ? el("mark", {}, `characters ${cite.start}–${cite.end}`) : null,
        cite ? " the cited passage" : null,
        answer ? el("span", { class: "answer" }, " the best sentence ") : null,
        cite ? " · " : null,
        el("span", { class: "skipped" }, "dimmed"), " skipped as boilerplate, never searched or cited"));

    const body = el("div", { class: "doc-text" });
    const pieces = documentPieces(doc, cp, cite, answer);
    body.append(...pieces);
    $("document").replaceChildren(header, body);
    setStatus("document-status", notice, Boolean(notice));
    const mark = $("cited");
    if (mark) {
      mark.scrollIntoView({ block: "center" });
      mark.focus({ preventScroll: true });
    }
  }

  /** The text cut at every boundary (indexed spans, the citation, the answer sentence); each
   * piece is a text node, or a span that says it was skipped or is the answer. The citation
   * is one <mark>, so its text is exactly document.text[start:end]. */
  function documentPieces(doc, cp, cite, answer) {
    const cuts = new Set([0, cp.length]);
    for (const s of doc.indexed) cuts.add(s.char_start).add(s.char_end);
    for (const s of [cite, answer]) if (s) cuts.add(s.start).add(s.end);
    const points = [...cuts].filter((i) => i >= 0 && i <= cp.length).sort((a, b) => a - b);
    const indexed = (a, b) => doc.indexed.some((s) => s.char_start <= a && b <= s.char_end);
    const inside = (s, a, b) => s && s.start <= a && b <= s.end;
    const out = [];
    let mark = null;
    for (let i = 0; i + 1 < points.length; i++) {
      const [a, b] = [points[i], points[i + 1]];
      const text = doc.text.slice(cp.at(a), cp.at(b));
      const classes = [!indexed(a, b) && "skipped", inside(answer, a, b) && "answer"]
        .filter(Boolean).join(" ");
      const piece = classes ? el("span", { class: classes }, text) : document.createTextNode(text);
      if (inside(cite, a, b)) {
        if (!mark) {
          mark = el("mark", { id: "cited", class: "cited", tabindex: "-1",
            "data-start": cite.start, "data-end": cite.end });
          out.push(mark);
        }
        mark.append(piece);
      } else out.push(piece);
    }
    return out;
  }

  // -- routing --------------------------------------------------------------------------------

  function route() {
    const path = location.pathname;
    for (const id of ["ask-view", "documents-view", "document-view"]) $(id).hidden = true;
    window.onhashchange = null;
    if (path === "/documents" || path === "/documents/") {
      $("documents-view").hidden = false;
      showDocuments();
    } else if (path.startsWith("/documents/")) {
      $("document-view").hidden = false;
      let docId;
      try {
        docId = decodeURIComponent(path.slice("/documents/".length));
      } catch {
        setStatus("document-status", "This address does not name a document (bad % escape).", true);
        return;
      }
      showDocument(docId);
    } else {
      $("ask-view").hidden = false;
      showAsk();
    }
  }

  function start() {
    showForget();
    $("forget-key").onclick = () => {
      sessionStorage.removeItem(KEY);
      showForget();
    };
    $("ask").onsubmit = (event) => {
      event.preventDefault();
      const q = $("q").value.trim();
      if (!q) return;
      const mode = document.querySelector("input[name=mode]:checked").value;
      const params = new URLSearchParams({ q });
      if (mode !== "hybrid") params.set("mode", mode);
      history.pushState(null, "", `/?${params}`);
      document.title = `${q} · citeqa`;
      ask(q, mode);
    };
    for (const radio of document.querySelectorAll("input[name=mode]")) {
      radio.onchange = () => { if ($("q").value.trim()) $("ask").requestSubmit(); };
    }
    window.onpopstate = route;
    document.addEventListener("keydown", (event) => {
      const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
      if (event.key === "/" && !typing && !$("ask-view").hidden) {
        event.preventDefault();
        $("q").focus();
        $("q").select();
      }
    });
    route();
  }

  start();
})();
