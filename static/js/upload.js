// The upload page: resumable chunked uploads of folders, files and zip archives, several at a
// time, with live per-file results from the server. No dependencies.
(function () {
  "use strict";

  const root = document.getElementById("uploader");
  if (!root) return;
  const submissionId = root.dataset.submission;
  const canUpload = root.dataset.canUpload === "1";
  const api = "/api/submissions/" + submissionId + "/";
  const PARALLEL = 3;
  const SKIP = /(^|\/)(\.DS_Store|Thumbs\.db|desktop\.ini)$|(^|\/)__MACOSX\/|(^|\/)\._/i;
  const FINAL = ["deidentified", "duplicate", "rejected", "skipped", "expanded"];
  const LABEL = {
    uploading: "uploading", received: "received", deidentified: "de-identified", duplicate: "duplicate (already received, skipped)",
    rejected: "rejected", skipped: "skipped", expanded: "archive unpacked", queued: "waiting", interrupted: "interrupted — drop the same file again to resume",
    retrying: "connection lost — retrying",
  };

  const state = {
    rows: new Map(),        // server file id -> row state {id, name, size, sent, status, reason}
    byKey: new Map(),       // client key -> server file id
    queue: [],              // pending local uploads {file, path, key}
    starting: new Map(),    // uploads taken off the queue whose server row is not known yet: key -> size
    skipped: 0,             // files this browser did not send (operating-system files): counted as skipped
    active: 0,
    processedAfter: null,
    submissionState: root.dataset.state,
  };
  const names = loadNames();

  // --- helpers ---------------------------------------------------------------------------------
  function csrf() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  async function call(method, url, body) {
    const res = await fetch(url, {
      method, credentials: "same-origin",
      headers: Object.assign({ "X-CSRFToken": csrf() }, body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = res.headers.get("Content-Type") && res.headers.get("Content-Type").includes("json") ? await res.json() : {};
    if (!res.ok) { const err = new Error(data.detail || res.statusText); err.status = res.status; err.data = data; throw err; }
    return data;
  }
  function human(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(0) + " KB";
    if (n < 1073741824) return (n / 1048576).toFixed(1) + " MB";
    return (n / 1073741824).toFixed(2) + " GB";
  }
  function storageKey() { return "ictms-upload-names-" + submissionId; }
  function loadNames() { try { return JSON.parse(localStorage.getItem(storageKey()) || "{}"); } catch (e) { return {}; } }
  function saveName(id, path) {
    // File names may carry patient names: they stay in this browser and never go to the server's records.
    names[id] = path;
    try { localStorage.setItem(storageKey(), JSON.stringify(names)); } catch (e) { /* storage full: names shown for this session only */ }
  }
  async function clientKey(path, file) {
    const text = path + "|" + file.size + "|" + file.lastModified;
    if (window.crypto && crypto.subtle) {
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
      return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, "0")).join("");
    }
    let h1 = 0x811c9dc5, h2 = 0x01000193;
    for (let i = 0; i < text.length; i++) { h1 = Math.imul(h1 ^ text.charCodeAt(i), 16777619); h2 = Math.imul(h2 + text.charCodeAt(i), 2654435761); }
    return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0") + text.length.toString(16);
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // --- table -----------------------------------------------------------------------------------
  const tbody = document.querySelector("#files tbody");
  function rowFor(id) {
    let row = state.rows.get(id);
    if (!row) {
      row = { id, el: document.createElement("tr"), sent: 0, size: 0, status: "queued", reason: "", name: "" };
      row.el.dataset.fileId = id;
      row.el.innerHTML = "<td></td><td class='name'></td><td></td><td><div class='progress'><div class='bar'></div></div></td><td class='status'></td>";
      tbody.appendChild(row.el);
      state.rows.set(id, row);
    }
    return row;
  }
  function paint(row) {
    const cells = row.el.children;
    cells[0].textContent = row.ordinal || "";
    cells[1].textContent = names[row.id] || row.name || "";
    cells[2].textContent = human(row.size || 0);
    const pct = row.size ? Math.min(100, (100 * row.sent) / row.size) : FINAL.includes(row.status) ? 100 : 0;
    cells[3].firstChild.firstChild.style.width = pct.toFixed(1) + "%";
    cells[4].className = "status st-" + row.status;
    cells[4].textContent = (LABEL[row.status] || row.status) + (row.reason && row.status !== "duplicate" ? ": " + row.reason : "");
    row.el.dataset.status = row.status;
  }
  function applyServer(f) {
    const row = rowFor(f.id);
    row.ordinal = f.archive ? "" : f.ordinal;
    row.size = f.size; row.name = f.name; row.reason = f.reason;
    if (!row.local || FINAL.includes(f.status) || f.status === "received") {
      row.status = f.status === "uploading" && !row.local ? "interrupted" : f.status;
      row.sent = Math.max(row.sent, f.received_bytes);
    }
    paint(row);
  }
  function paintTotals() {
    // Files still waiting in this browser count in the totals: the bar reaches 100 % only when all are sent.
    let total = 0, sent = 0;
    const counts = { received: 0, deidentified: 0, duplicate: 0, rejected: 0, skipped: state.skipped };
    state.rows.forEach((row) => {
      if (row.status === "expanded") return;
      total += row.size || 0; sent += Math.min(row.sent, row.size || 0);
      if (row.status in counts) counts[row.status] += 1;
    });
    state.queue.forEach((item) => { total += item.file.size; });
    state.starting.forEach((size) => { total += size; });
    const waiting = state.queue.length + state.starting.size;
    const pct = total ? (100 * sent) / total : (countFiles() + state.skipped ? 100 : 0);
    // Never show 100 % while something is still to be sent.
    const shown = waiting && pct >= 100 ? 99.9 : pct;
    document.getElementById("overall-bar").style.width = shown.toFixed(1) + "%";
    const done = counts.deidentified + counts.duplicate + counts.rejected + counts.skipped;
    document.getElementById("overall-text").textContent =
      human(sent) + " of " + human(total) + " sent · " + done + " of " + (countFiles() + waiting + state.skipped) + " files processed" +
      (waiting ? " · " + waiting + " waiting to be sent" : "");
    document.querySelectorAll("#counts [data-count]").forEach((el) => { el.textContent = counts[el.dataset.count]; });
    const cancel = document.getElementById("cancel-submission");  // only an empty submission can be cancelled
    if (cancel && (state.rows.size || waiting || state.active)) cancel.remove();
    const finish = document.getElementById("finish");
    if (finish) finish.disabled = state.submissionState !== "receiving" || state.active > 0 || state.queue.length > 0 || state.rows.size === 0;
  }
  function countFiles() { let n = 0; state.rows.forEach((r) => { if (r.status !== "expanded") n += 1; }); return n; }

  // --- collecting dropped folders --------------------------------------------------------------
  function readAll(reader) {
    return new Promise((resolve, reject) => {
      const out = [];
      const next = () => reader.readEntries((batch) => { if (!batch.length) resolve(out); else { out.push(...batch); next(); } }, reject);
      next();
    });
  }
  async function walk(entry, prefix, out) {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file, path: prefix + entry.name });
    } else if (entry.isDirectory) {
      for (const child of await readAll(entry.createReader())) await walk(child, prefix + entry.name + "/", out);
    }
  }
  async function filesFromDrop(dt) {
    const out = [];
    const entries = Array.from(dt.items || []).map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null)).filter(Boolean);
    if (entries.length) { for (const e of entries) await walk(e, "", out); }
    else Array.from(dt.files || []).forEach((file) => out.push({ file, path: file.name }));
    return out;
  }

  // --- uploading -------------------------------------------------------------------------------
  async function enqueue(items) {
    for (const item of items) {
      if (SKIP.test(item.path)) { state.skipped += 1; continue; }  // never sent; counted as skipped
      item.key = await clientKey(item.path, item.file);
      state.queue.push(item);
    }
    pump();
    paintTotals();
  }
  function pump() {
    while (state.active < PARALLEL && state.queue.length) {
      const item = state.queue.shift();
      state.active += 1;
      uploadOne(item).catch((err) => console.error(err)).finally(() => { state.active -= 1; pump(); paintTotals(); });
    }
  }
  function putChunk(url, blob, start, total, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.setRequestHeader("Content-Range", "bytes " + start + "-" + (start + blob.size - 1) + "/" + total);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.setRequestHeader("X-CSRFToken", csrf());
      xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = () => {
        let data = {};
        try { data = JSON.parse(xhr.responseText || "{}"); } catch (e) { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else { const err = new Error(data.detail || xhr.statusText); err.status = xhr.status; err.data = data; reject(err); }
      };
      xhr.onerror = () => { const err = new Error("network"); err.status = 0; reject(err); };
      xhr.send(blob);
    });
  }
  async function withRetry(row, fn) {
    // Network drops, server restarts and laptop sleep: keep trying, backing off, resuming where we were.
    for (let attempt = 0; ; attempt++) {
      try { return await fn(); } catch (err) {
        if (err.status && err.status < 500 && err.status !== 408 && err.status !== 429) throw err;
        // A file whose upload has not started yet has no table row to paint (it stays counted as waiting).
        row.status = "retrying"; if (row.el) paint(row);
        await sleep(Math.min(30000, 1000 * 2 ** Math.min(attempt, 5)));
        if (!navigator.onLine) await new Promise((r) => window.addEventListener("online", r, { once: true }));
      }
    }
  }
  async function uploadOne(item) {
    const pending = { status: "queued", sent: 0, size: item.file.size };
    state.starting.set(item.key, item.file.size);
    let info;
    try {
      info = await withRetry(pending, () => call("POST", api + "uploads/", { client_key: item.key, name: item.path, size: item.file.size }));
    } finally { state.starting.delete(item.key); }
    saveName(info.id, item.path);
    const row = rowFor(info.id);
    row.local = true; row.size = info.size; row.ordinal = info.ordinal; row.name = info.name;
    row.sent = info.received_bytes; row.status = info.status; row.reason = info.reason;
    paint(row);
    if (info.status !== "uploading") { paintTotals(); return; }
    const chunk = info.chunk_size || Number(root.dataset.chunk) || 8388608;
    let offset = info.received_bytes;
    row.status = "uploading";
    while (offset < item.file.size) {
      const end = Math.min(offset + chunk, item.file.size);
      const blob = item.file.slice(offset, end);
      const base = offset;
      try {
        const res = await withRetry(row, () => putChunk(api + "uploads/" + info.id + "/", blob, base, item.file.size, (loaded) => {
          row.sent = base + loaded; row.status = "uploading"; paint(row); paintTotals();
        }));
        offset = res.received_bytes;
        row.status = res.status; row.reason = res.reason;
      } catch (err) {
        if (err.status === 409 && err.data && typeof err.data.received_bytes === "number") { offset = err.data.received_bytes; continue; }
        row.status = "rejected"; row.reason = err.message; paint(row); return;
      }
      row.sent = offset; paint(row); paintTotals();
    }
  }

  // --- following the server ----------------------------------------------------------------------
  async function loadAll() {
    let url = api + "files/?limit=1000";
    while (url) {
      const page = await call("GET", url);
      page.results.forEach(applyServer);
      page.results.forEach((f) => { if (f.processed_at && (!state.processedAfter || f.processed_at > state.processedAfter)) state.processedAfter = f.processed_at; });
      url = page.next;
    }
  }
  async function poll() {
    try {
      const sub = await call("GET", api);
      state.submissionState = sub.state;
      const badge = document.getElementById("submission-state");
      badge.textContent = sub.state.charAt(0).toUpperCase() + sub.state.slice(1);
      badge.className = "pill pill-sub-" + sub.state;
      let url = api + "files/?limit=1000" + (state.processedAfter ? "&processed_after=" + encodeURIComponent(state.processedAfter) : "");
      while (url) {
        const page = await call("GET", url);
        page.results.forEach((f) => {
          applyServer(f);
          if (f.processed_at && (!state.processedAfter || f.processed_at > state.processedAfter)) state.processedAfter = f.processed_at;
        });
        url = page.next;
      }
      // Files are stamped processed_at before their task commits, so a file whose task commits after a later-stamped
      // one can fall behind the processed_after mark: if the server has fewer files still pending than this page
      // shows, read them all again.
      let shownPending = 0;
      state.rows.forEach((r) => { if (r.status !== "expanded" && !FINAL.includes(r.status)) shownPending += 1; });
      const serverPending = (sub.counts.uploading || 0) + (sub.counts.received || 0);
      // And every few polls while files are pending here, read them all anyway: a row this page left behind heals
      // within seconds whatever made it fall behind (seen on a loaded machine, with the counts above agreeing).
      state.polls = (state.polls || 0) + 1;
      if (!state.processedAfter || state.rows.size < sub.counts.files || shownPending > serverPending
          || (shownPending > 0 && state.polls % 4 === 0)) await loadAll();
      paintTotals();
      if (sub.state !== "receiving") hideControls(sub.state);
      if (sub.state === "done" || sub.state === "failed" || sub.state === "cancelled") return;
    } catch (err) { /* the next poll tries again */ }
    setTimeout(poll, state.active ? 1500 : 2500);
  }

  // Once the site has finished, nothing more can be sent: the upload controls go and, unless nothing usable
  // arrived (failed), the page says the core lab has been told.
  function hideControls(subState) {
    ["dropzone", "finish-controls", "cancel-submission"].forEach((id) => { const el = document.getElementById(id); if (el) el.remove(); });
    const finished = document.getElementById("finished");
    if (finished) finished.hidden = !(subState === "processing" || subState === "done");
  }

  // --- wiring -----------------------------------------------------------------------------------
  if (canUpload) {
    const dz = document.getElementById("dropzone");
    ["dragenter", "dragover"].forEach((t) => dz.addEventListener(t, (e) => { e.preventDefault(); dz.classList.add("over"); }));
    ["dragleave", "drop"].forEach((t) => dz.addEventListener(t, () => dz.classList.remove("over")));
    dz.addEventListener("drop", async (e) => { e.preventDefault(); await enqueue(await filesFromDrop(e.dataTransfer)); });
    // The pickers are real buttons (focusable, Enter/Space) that open the hidden inputs; Enter or Space on the
    // focused dropzone itself opens the file picker, so a keyboard-only user can upload too.
    const pickFiles = document.getElementById("pick-files"), pickFolder = document.getElementById("pick-folder");
    document.getElementById("choose-files").addEventListener("click", () => pickFiles.click());
    document.getElementById("choose-folder").addEventListener("click", () => pickFolder.click());
    dz.addEventListener("keydown", (e) => {
      if (e.target !== dz || (e.key !== "Enter" && e.key !== " ")) return;
      e.preventDefault();
      pickFiles.click();
    });
    pickFiles.addEventListener("change", (e) => {
      enqueue(Array.from(e.target.files).map((file) => ({ file, path: file.name }))); e.target.value = "";
    });
    pickFolder.addEventListener("change", (e) => {
      enqueue(Array.from(e.target.files).map((file) => ({ file, path: file.webkitRelativePath || file.name }))); e.target.value = "";
    });
    document.getElementById("finish").addEventListener("click", async () => {
      const btn = document.getElementById("finish");
      btn.disabled = true;
      try { const sub = await call("POST", api + "complete/"); state.submissionState = sub.state; hideControls(sub.state); }
      catch (err) { alert(err.message); }
      poll();
    });
    window.addEventListener("beforeunload", (e) => { if (state.active || state.queue.length) { e.preventDefault(); e.returnValue = ""; } });
  }
  loadAll().then(() => { paintTotals(); poll(); });
  window.ictmsUpload = { enqueue, state };  // for tests and power users
})();
