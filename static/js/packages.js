// The read-package page: follow unfinished builds and fill their rows in place when they are ready.
// Polls /api/read-packages/{id}/ once a second for every queued or building package; the bar and
// "N of M files" follow files_written / files_total; a ready package gets its size, SHA-256, build
// time and download link without a reload (focus stays where the user is), and a polite live
// region says so.
import { getJSON } from "./lib/http.js";

const table = document.getElementById("packages");
const status = document.getElementById("package-status");
const UNFINISHED = new Set(["queued", "building"]);
const STATE_WORDS = { queued: "Queued", building: "Building", ready: "Ready", failed: "Failed" };

function formatSize(size) {
  if (size == null) return "";
  if (size < 1024) return `${size} bytes`;
  let value = size;
  for (const unit of ["KB", "MB", "GB", "TB"]) {
    value /= 1024;
    if (value < 1024 || unit === "TB") return `${value.toFixed(1)} ${unit}`;
  }
  return "";
}

function isoMinute(text) {
  // "2026-12-02T10:41:07.123+00:00" -> "2026-12-02 10:41" in the page's (server) time zone as sent.
  return text ? text.slice(0, 16).replace("T", " ") : "";
}

function render(row, data) {
  row.dataset.state = data.state;
  row.querySelector(".state").textContent = STATE_WORDS[data.state] || data.state;
  if (data.error) {
    const error = document.createElement("span");
    error.className = "error-text";
    error.textContent = ` ${data.error}`;
    row.querySelector(".state").append(error);
  }
  const bar = row.querySelector("progress");
  bar.value = Math.round(data.progress_pct);
  bar.textContent = `${bar.value} %`;
  row.querySelector(".files").textContent = data.files_total
    ? `${data.files_written} of ${data.files_total} files`
    : UNFINISHED.has(data.state) ? "waiting for a worker" : "";
  if (data.state !== "ready") return;
  row.querySelector(".size").textContent = formatSize(data.size);
  row.querySelector(".sha256 code").textContent = data.sha256;
  const took = (Date.parse(data.built_at) - Date.parse(data.created_at)) / 1000;
  row.querySelector(".built").textContent = `${isoMinute(data.built_at)} (${Math.round(took)} s after the request)`;
  const link = document.createElement("a");
  link.href = `${row.dataset.download}`;
  link.setAttribute("download", "");
  link.textContent = "Download zip";
  row.querySelector(".download").replaceChildren(link);
}

async function follow(row) {
  const url = `${table.dataset.api}${row.dataset.package}/`;
  while (UNFINISHED.has(row.dataset.state)) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    let data;
    try {
      data = await getJSON(url);
    } catch {
      continue; // a dropped poll is retried on the next tick
    }
    render(row, data);
    if (data.state === "ready") status.textContent = `Read package ${data.id} is ready to download.`;
    if (data.state === "failed") status.textContent = `Read package ${data.id} failed: ${data.error}`;
  }
}

if (table) {
  for (const row of table.querySelectorAll("tr[data-package]")) {
    if (UNFINISHED.has(row.dataset.state)) follow(row);
  }
}
