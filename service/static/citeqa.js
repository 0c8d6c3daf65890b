// The citeqa page: ask, read the marked sentence in its passage, open the document at the span.
// Plain script, no build step (helpers in citeqa-core.js, loaded first). Text from documents
// only ever enters the page as text nodes.
"use strict";
(() => {
  const { $, el, codePoints, documentPath, setStatus, api, showForget, forgetKey, outLink,
    originalLink, pagesLabel } = window.citeqa;
  const TOP_K = 10;

  function citationHref(c, h) {
    const answer = h ? `:${h.char_start}-${h.char_end}` : "";
    return `${documentPath("/documents/", c.doc_id)}#${c.char_start}-${c.char_end}${answer}`;
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
    return el("li", { class: "result" },
      el("h2", {},
        el("span", { class: "label" }, c.label), " ",
        el("a", { href: citationHref(c, h), class: "cite" }, c.title || c.doc_id)),
      el("p", { class: "meta" }, ...dotted(citationMeta(c, h))),
      el("blockquote", { class: "passage" },
        r.text.slice(0, from), el("mark", {}, r.text.slice(from, to)), r.text.slice(to)));
  }

  /** Source, date, pages, span, then the links that open the source at the passage. */
  function citationMeta(c, h) {
    let pages = pagesLabel(c.page_start, c.page_end);
    if (pages && c.page_end !== c.page_start && Number.isInteger(h.page)) {
      pages += ` (sentence on p. ${h.page})`;
    }
    const atPassage = c.link && c.link.includes(":~:text=");
    return [
      c.source, c.published, pages && el("span", { class: "pages" }, pages),
      `characters ${c.char_start}–${c.char_end}`,
      c.original && originalLink(c.doc_id, c.original, "original", "ask-status"),
      c.url && c.link && c.link !== c.original &&
        outLink(c.link, atPassage ? "open at passage" : "source", { class: "source" }),
    ];
  }

  /** The parts that are there, with " · " between them. */
  function dotted(parts) {
    return parts.filter(Boolean).flatMap((part, i) => (i ? [" · ", part] : [part]));
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

    const pages = doc.pages || [];
    const at = answer || cite;
    const page = at && pages.findIndex((p) => p.char_start <= at.start && at.start < p.char_end) + 1;
    const meta = [doc.source, doc.published].filter(Boolean).join(" · ");
    const header = el("header", {},
      el("h1", {}, doc.title || doc.doc_id),
      meta ? el("p", { class: "meta" }, meta) : null,
      el("p", { class: "meta" }, ...dotted([
        el("span", {}, "id ", el("code", {}, doc.doc_id)),
        pages.length ? `${pages.length} page${pages.length === 1 ? "" : "s"}` : null,
        doc.url && outLink(doc.url, "source", { class: "source" }),
        doc.original && originalLink(doc.doc_id, page ? `#page=${page}` : null,
          page ? `original file at p. ${page}` : "original file", "document-status"),
      ])),
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

  /** The text cut at every boundary (indexed spans, the citation, the answer sentence, the
   * pages); each piece is a text node, or a span that says it was skipped or is the answer.
   * The citation is one <mark>, so its text is exactly document.text[start:end]. A page
   * starts at an empty separator whose "Page N" is drawn by CSS: the text stays the text. */
  function documentPieces(doc, cp, cite, answer) {
    const cuts = new Set([0, cp.length]);
    const breaks = new Map(); // offset -> the pages that start there
    (doc.pages || []).forEach((p, i) => {
      cuts.add(p.char_start);
      breaks.set(p.char_start, [...(breaks.get(p.char_start) || []), i + 1]);
    });
    for (const s of doc.indexed) cuts.add(s.char_start).add(s.char_end);
    for (const s of [cite, answer]) if (s) cuts.add(s.start).add(s.end);
    const points = [...cuts].filter((i) => i >= 0 && i <= cp.length).sort((a, b) => a - b);
    const indexed = (a, b) => doc.indexed.some((s) => s.char_start <= a && b <= s.char_end);
    const inside = (s, a, b) => s && s.start <= a && b <= s.end;
    const out = [];
    let mark = null;
    const markers = (at) => (breaks.get(at) || []).map((n) => el("span", {
      class: "page-break", role: "separator", "aria-label": `Page ${n}`, "data-page": n,
      "data-label": `Page ${n}` }));
    for (let i = 0; i + 1 < points.length; i++) {
      const [a, b] = [points[i], points[i + 1]];
      const text = doc.text.slice(cp.at(a), cp.at(b));
      const classes = [!indexed(a, b) && "skipped", inside(answer, a, b) && "answer"]
        .filter(Boolean).join(" ");
      const piece = classes ? el("span", { class: classes }, text) : document.createTextNode(text);
      const pageBreaks = markers(a); // inside the mark only after its first piece
      if (mark && inside(cite, a, b)) mark.append(...pageBreaks);
      else out.push(...pageBreaks);
      if (inside(cite, a, b)) {
        if (!mark) {
          mark = el("mark", { id: "cited", class: "cited", tabindex: "-1",
            "data-start": cite.start, "data-end": cite.end });
          out.push(mark);
        }
        mark.append(piece);
      } else out.push(piece);
    }
    out.push(...markers(cp.length)); // an empty last page
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
    $("forget-key").onclick = forgetKey;
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
