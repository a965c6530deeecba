// Kestrel's web page: plain JavaScript over the HTTP API (docs/api.md), no build step, no
// third-party code. Searches by text (POST /v1/search), by image (POST /v1/search/image, the
// image as the raw body), finds similar items (POST /v1/search with image_ids) and labels an
// image (POST /v1/label, multipart). Every API error ({"error": {"code", "message"}}) is shown
// as it came.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const els = {
    form: $("search-form"), query: $("query"), k: $("k"),
    dropZone: $("drop-zone"), imageInput: $("image-input"),
    minScore: $("min-score"), minScoreValue: $("min-score-value"),
    error: $("error"), status: $("status"), results: $("results"),
    queryPreview: $("query-preview"), queryImage: $("query-image"),
    labelDrop: $("label-drop"), labelFile: $("label-file"), labelImage: $("label-image"),
    labelForm: $("label-form"), labels: $("labels"), labelStatus: $("label-status"),
    labelResults: $("label-results"), info: $("info"),
  };

  // What the page shows: the last results (best first) and the last image the user gave.
  const state = { results: [], image: null, imageURL: null, request: 0 };

  // ---- API -------------------------------------------------------------------------------

  /** An API error, or a transport failure, as one line of text. */
  class APIFailure extends Error {
    constructor(status, code, message, limit) {
      super(message);
      this.status = status; this.code = code; this.limit = limit;
    }
    get text() {
      let t = this.code ? `${this.code}: ${this.message}` : this.message;
      if (this.limit && this.limit.name !== undefined) t += ` (limit ${this.limit.name} = ${this.limit.value})`;
      if (this.status) t = `Error ${this.status}. ${t}`;
      return t;
    }
  }

  /** fetch() that answers the parsed JSON body, or throws APIFailure. */
  async function api(path, init) {
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new APIFailure(0, "network", `the server could not be reached (${e.message})`);
    }
    const raw = await response.text();
    let body = null;
    try { body = raw ? JSON.parse(raw) : null; } catch (_) { body = null; }
    if (!response.ok) {
      const detail = body && body.error;
      if (detail && typeof detail.message === "string") {
        throw new APIFailure(response.status, detail.code || "", detail.message, detail.limit);
      }
      throw new APIFailure(response.status, "", raw.trim().slice(0, 300) || response.statusText || "request failed");
    }
    if (body === null) throw new APIFailure(response.status, "bad_response", "the server's answer is not JSON");
    return body;
  }

  const postJSON = (path, value) => api(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(value),
  });

  // ---- Messages --------------------------------------------------------------------------

  function showError(failure) {
    const text = failure instanceof APIFailure ? failure.text : String(failure && failure.message || failure);
    els.error.textContent = text;
    els.error.hidden = false;
  }
  function clearError() { els.error.textContent = ""; els.error.hidden = true; }
  function setStatus(text) { els.status.textContent = text; }

  // ---- Search ----------------------------------------------------------------------------

  /** The k field as a whole number the API accepts (1...200 here; the server has its own limit). */
  function kValue() {
    const k = Math.round(Number(els.k.value));
    return Number.isFinite(k) && k >= 1 ? Math.min(k, 200) : 24;
  }

  /** The cutoff, or null when the slider sits at its lowest value ("off"). */
  function cutoff() {
    const v = Number(els.minScore.value);
    return v <= Number(els.minScore.min) ? null : v;
  }

  /** Runs one search; `describe` is the status text's subject ("“a red circle”"). */
  async function runSearch(describe, call) {
    const ticket = ++state.request;
    clearError();
    setStatus(`Searching for ${describe}…`);
    els.results.setAttribute("aria-busy", "true");
    els.results.dataset.state = "loading";
    try {
      const body = await call();
      if (ticket !== state.request) return;  // a newer search has started
      state.results = Array.isArray(body.results) ? body.results : [];
      render(describe, body);
    } catch (e) {
      if (ticket !== state.request) return;
      state.results = [];
      els.queryPreview.hidden = true;
      render(describe, null);
      els.results.dataset.state = "error";
      setStatus(`The search for ${describe} failed.`);
      showError(e);
    } finally {
      if (ticket === state.request) els.results.removeAttribute("aria-busy");
    }
  }

  function searchText(text) {
    const k = kValue(), min = cutoff();
    const request = { text, k };
    if (min !== null) request.min_score = min;
    showQueryImage(null);
    return runSearch(`“${text}”`, () => postJSON("/v1/search", request));
  }

  function searchImage(file) {
    const params = new URLSearchParams({ k: String(kValue()) });
    const min = cutoff();
    if (min !== null) params.set("min_score", String(min));
    showQueryImage(file);
    return runSearch(`the image ${file.name ? `“${file.name}”` : "you gave"}`, () => api(`/v1/search/image?${params}`, {
      method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file,
    }));
  }

  function searchSimilar(result) {
    const request = { image_ids: [result.id], k: kValue() };
    const min = cutoff();
    if (min !== null) request.min_score = min;
    showQueryImage(null);
    return runSearch(`images similar to ${displayName(result)}`, () => postJSON("/v1/search", request));
  }

  // ---- Results ---------------------------------------------------------------------------

  function displayName(result) {
    const path = typeof result.path === "string" ? result.path : "";
    const name = path.split("/").filter(Boolean).pop();
    return name || `item ${result.id}`;
  }

  function thumbnailURL(result) {
    const t = typeof result.thumbnail === "string" && result.thumbnail.startsWith("/v1/items/")
      ? result.thumbnail : `/v1/items/${encodeURIComponent(String(result.id))}/thumbnail`;
    return `${t}${t.includes("?") ? "&" : "?"}size=256`;
  }

  function render(describe, body) {
    els.results.replaceChildren();
    state.results.forEach((result, rank) => {
      const li = document.createElement("li");
      li.className = "tile";
      li.dataset.id = String(result.id);
      li.dataset.score = String(result.score);
      li.dataset.rank = String(rank + 1);

      const button = document.createElement("button");
      button.type = "button";
      button.className = "tile-button";
      const name = displayName(result);
      const score = Number(result.score);
      button.setAttribute("aria-label", `${rank + 1}. ${name}, score ${score.toFixed(3)}. Find similar images.`);
      button.title = typeof result.path === "string" ? result.path : name;
      button.addEventListener("click", () => searchSimilar(result));

      const img = document.createElement("img");
      img.src = thumbnailURL(result);
      img.alt = "";
      img.loading = "lazy";
      img.decoding = "async";
      img.width = 256; img.height = 256;

      const caption = document.createElement("span");
      caption.className = "caption";
      const scoreEl = document.createElement("span");
      scoreEl.className = "score";
      scoreEl.textContent = score.toFixed(3);
      const nameEl = document.createElement("span");
      nameEl.className = "name";
      nameEl.textContent = name;
      caption.append(scoreEl, nameEl);

      button.append(img, caption);
      li.append(button);
      els.results.append(li);
    });
    els.results.dataset.state = state.results.length ? "results" : "empty";
    const took = body && typeof body.took_ms === "number" ? ` in ${body.took_ms.toFixed(1)} ms` : "";
    els.results.dataset.total = String(state.results.length);
    applyCutoff(`${state.results.length} result${state.results.length === 1 ? "" : "s"} for ${describe}${took}`);
  }

  /** Hides the tiles scoring below the cutoff and says how many are shown. */
  function applyCutoff(prefix) {
    const min = cutoff();
    els.minScoreValue.textContent = min === null ? "off" : min.toFixed(2);
    let shown = 0;
    for (const li of els.results.children) {
      const hide = min !== null && Number(li.dataset.score) < min;
      li.hidden = hide;
      if (!hide) shown += 1;
    }
    els.results.dataset.shown = String(shown);
    if (prefix !== undefined) els.results.dataset.summary = prefix;
    const summary = els.results.dataset.summary;
    if (!summary) return;
    const hidden = state.results.length - shown;
    setStatus(hidden > 0 ? `${summary}; ${hidden} below the cutoff hidden.` : `${summary}.`);
  }

  // ---- Images: drop, paste, choose --------------------------------------------------------

  function firstImage(files) {
    for (const f of files || []) if (!f.type || f.type.startsWith("image/")) return f;
    return null;
  }

  /** Remembers the image for the label panel and previews it. */
  function rememberImage(file) {
    if (state.imageURL) URL.revokeObjectURL(state.imageURL);
    state.image = file;
    state.imageURL = URL.createObjectURL(file);
    els.labelImage.src = state.imageURL;
    els.labelImage.hidden = false;
  }

  function showQueryImage(file) {
    if (!file) { els.queryPreview.hidden = true; els.queryImage.removeAttribute("src"); return; }
    els.queryImage.src = state.imageURL;
    els.queryPreview.hidden = false;
  }

  function useImage(file, target) {
    if (!file) { showError(new APIFailure(0, "", "that is not an image file")); return; }
    rememberImage(file);
    if (target === "search") searchImage(file);
    else { clearError(); els.labelStatus.textContent = `Ready to label “${file.name || "the pasted image"}”.`; }
  }

  function wireDropZone(zone, input, target) {
    const over = (e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; zone.classList.add("dragging"); };
    zone.addEventListener("dragenter", over);
    zone.addEventListener("dragover", over);
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("dragging");
      useImage(firstImage(e.dataTransfer.files), target);
    });
    // Enter or Space on the focused zone opens the file chooser.
    zone.addEventListener("keydown", (e) => {
      if ((e.key === "Enter" || e.key === " ") && e.target === zone) { e.preventDefault(); input.click(); }
    });
    input.addEventListener("change", () => {
      const file = firstImage(input.files);
      input.value = "";
      if (file) useImage(file, target);
    });
  }

  // A drop outside the zones must not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());

  // Pasting an image anywhere searches by it (pasting text into a field stays text).
  document.addEventListener("paste", (e) => {
    const file = firstImage(Array.from(e.clipboardData ? e.clipboardData.files : []));
    if (!file) return;
    e.preventDefault();
    const target = els.labelForm.contains(document.activeElement) || els.labelDrop.contains(document.activeElement) ? "label" : "search";
    useImage(file, target);
  });

  // ---- Labels ----------------------------------------------------------------------------

  function parseLabels(text) {
    return text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
  }

  async function label() {
    clearError();
    const labels = parseLabels(els.labels.value);
    if (!state.image) { showError(new APIFailure(0, "", "drop, paste or choose an image to label first")); return; }
    if (labels.length === 0) { showError(new APIFailure(0, "", "type at least one label")); els.labels.focus(); return; }
    const form = new FormData();
    form.append("image", state.image, state.image.name || "image");
    form.append("labels", JSON.stringify(labels));
    els.labelStatus.textContent = "Labelling…";
    els.labelResults.replaceChildren();
    els.labelResults.dataset.state = "loading";
    try {
      const body = await api("/v1/label", { method: "POST", body: form });
      const rows = Array.isArray(body.labels) ? body.labels : [];
      for (const row of rows) {
        const li = document.createElement("li");
        li.className = "label-row";
        li.dataset.label = String(row.label);
        li.dataset.probability = String(row.probability);
        const name = document.createElement("span");
        name.className = "label-name";
        name.textContent = String(row.label);
        const meter = document.createElement("meter");
        meter.min = 0; meter.max = 1; meter.value = Number(row.probability) || 0;
        meter.setAttribute("aria-label", `probability of ${row.label}`);
        const value = document.createElement("span");
        value.className = "label-value";
        const cos = typeof row.cosine === "number" ? ` · cos ${row.cosine.toFixed(3)}` : "";
        value.textContent = `${(100 * (Number(row.probability) || 0)).toFixed(1)}%${cos}`;
        li.append(name, meter, value);
        els.labelResults.append(li);
      }
      els.labelResults.dataset.state = rows.length ? "results" : "empty";
      els.labelStatus.textContent = body.best !== undefined ? `Best label: ${body.best}` : "";
    } catch (e) {
      els.labelResults.dataset.state = "error";
      els.labelStatus.textContent = "Labelling failed.";
      showError(e);
    }
  }

  // ---- Wiring ----------------------------------------------------------------------------

  els.form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = els.query.value.trim();
    if (!text) { els.query.focus(); return; }
    searchText(text);
  });
  els.minScore.addEventListener("input", () => applyCutoff());
  els.labelForm.addEventListener("submit", (e) => { e.preventDefault(); label(); });
  wireDropZone(els.dropZone, els.imageInput, "search");
  wireDropZone(els.labelDrop, els.labelFile, "label");
  applyCutoff();

  // The catalog's size and model, when the server says (the page works without it).
  api("/v1/info", { method: "GET" }).then((info) => {
    const parts = [];
    const count = info.items ?? info.item_count ?? info.count;
    if (typeof count === "number") parts.push(`${count} image${count === 1 ? "" : "s"}`);
    if (info.model && typeof info.model.name === "string") parts.push(`model ${info.model.name}`);
    els.info.textContent = parts.join(" · ");
  }).catch(() => {});

  document.documentElement.dataset.ready = "true";
})();
