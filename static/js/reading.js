// The reading panel of a read task (reads.md "Reading a timepoint"), beside the viewer: the case's
// lesions with this timepoint's and the earlier timepoints' values, the entries of this timepoint,
// the RECIST engine's live result and the e-signature. Everything it shows comes from
// /api/read-tasks/{id}/ and every change goes through that API; diameters come from measurements
// drawn in the viewer (followed through its "viewer:selection" / "viewer:measurement" events) and
// are never typed. Loaded only on the task page.

import { getJSON, send } from "./lib/http.js";

const cfg = JSON.parse(document.getElementById("reading-config").textContent);
const $ = (id) => document.getElementById(id);

const RESPONSES = {
  CR: "CR (complete response)", PR: "PR (partial response)", SD: "SD (stable disease)",
  PD: "PD (progressive disease)", NE: "NE (not evaluable)", NON_CR_NON_PD: "Non-CR/non-PD", NA: "NA (none of that kind)",
};
const NEW_LESIONS = { NO: "None", YES: "Yes (unequivocal)", EQUIVOCAL: "Equivocal" };
const STATUS_LABELS = {
  present: "Present", absent: "Absent", unequivocal_progression: "Unequivocal progression",
  not_evaluable: "Not evaluable", equivocal: "Equivocal", unequivocal: "Unequivocal",
};
const NON_TARGET_STATUSES = ["present", "absent", "unequivocal_progression", "not_evaluable"];
const NEW_LESION_STATUSES = ["equivocal", "unequivocal", "absent"];
const KIND_LABELS = { target: "Target", non_target: "Non-target", new: "New lesion" };

const state = {
  detail: null,
  selected: null, // the measurement selected in the viewer, when it is mine and on this timepoint's images
  lastDrawn: null, // the last measurement drawn on this timepoint's images
  busy: false,
};

// ---------------------------------------------------------------- small helpers

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const mm = (value) => (value === null || value === undefined ? "—" : `${Number(value).toFixed(1)} mm`);
const pct = (value) => (value === null || value === undefined ? "—"
  : `${value > 0 ? "+" : value < 0 ? "−" : ""}${Math.abs(Number(value)).toFixed(1)} %`);
const response = (code) => (code ? RESPONSES[code] || code : "—");

function measurementText(m) {
  if (!m) return "";
  const kind = m.kind === "bidirectional" ? "bidirectional" : "caliper";
  if (m.kind === "bidirectional") return `${mm(m.length_mm)} × ${mm(m.short_axis_mm)} (${kind})`;
  return `${mm(m.length_mm)} (${kind})`;
}

function observationText(lesion, obs) {
  if (!obs) return null;
  switch (obs.kind) {
    case "measured": return `${mm(obs.diameter_mm)}${lesion.lymph_node ? " short axis" : ""}`;
    case "disappeared": return "Disappeared (0 mm)";
    case "too_small": return "Too small to measure (counts 5 mm)";
    case "not_evaluable": return `Not evaluable: ${obs.reason}`;
    default: {
      const status = STATUS_LABELS[obs.status] || obs.status;
      return obs.measurement ? `${status}, ${mm(obs.diameter_mm ?? obs.measurement.length_mm)}` : status;
    }
  }
}

function current() { return state.selected || state.lastDrawn; }

function usedBy(measurementId) {
  if (!state.detail || measurementId === null || measurementId === undefined) return null;
  const lesion = state.detail.lesions.find((l) => l.observation && l.observation.measurement &&
    l.observation.measurement.id === measurementId);
  return lesion ? lesion.label : null;
}

function goTo(measurement) {
  const detail = { series: measurement.series, instance: measurement.instance, frame: measurement.frame,
    measurement: measurement.id };
  document.dispatchEvent(new CustomEvent("viewer:go-to", { detail }));
  return detail.done;
}

// Re-rendering replaces the lesion list; give keyboard focus back to the same control.
function focusKey() {
  const active = document.activeElement;
  return active && active.dataset ? active.dataset.key || null : null;
}

function restoreFocus(key) {
  if (!key) return;
  const node = document.querySelector(`#reading-panel [data-key="${CSS.escape(key)}"]`);
  if (node && !node.disabled) node.focus();
  else if (!document.activeElement || document.activeElement === document.body) $("lesions-heading").focus();
}

// ---------------------------------------------------------------- talking to the API

async function run(action, errorEl, done) {
  if (state.busy) return;
  state.busy = true;
  if (errorEl) errorEl.textContent = "";
  const key = focusKey();
  try {
    const result = await action();
    render(result && result.lesions ? result : (result && result.task) || await getJSON(cfg.api.task), key);
    if (done) done(result);
  } catch (error) {
    if (errorEl) errorEl.textContent = error.message;
    else $("lesion-status").textContent = error.message;
  } finally {
    state.busy = false;
  }
}

const observe = (payload, errorEl) => run(() => send("POST", `${cfg.api.task}observations/`, payload), errorEl);

function status(text) { $("lesion-status").textContent = text; }

// ---------------------------------------------------------------- rendering

const STATE_LABELS = { ready: "Ready", in_progress: "In progress", signed: "Signed" };

function render(detail, key = focusKey()) {
  state.detail = detail;
  const chip = $("reading-state");
  chip.textContent = STATE_LABELS[detail.state] || detail.state;
  chip.className = `chip chip-${detail.state}`;
  renderResult(detail);
  renderLesions(detail);
  renderNewLesionQuestion(detail);
  renderQualityQueries(detail);
  renderCurrent();
  // The result box sticks to the top of the side panel: keep focused controls from scrolling under it.
  const side = $("reading-panel").closest(".vw-side");
  if (side) side.style.scrollPaddingTop = `${$("reading-result").offsetHeight + 8}px`;
  restoreFocus(key);
}

function renderQualityQueries(detail) {
  const queries = detail.quality_queries || [];
  const list = $("quality-list");
  $("quality-queries").hidden = queries.length === 0;
  list.replaceChildren(...queries.map((q) => h("li", { class: `rd-quality rd-quality-${q.state}` },
    h("p", {}, h("strong", {}, q.state === "open" ? "Waiting for QC: " : "QC answered: "), q.message),
    q.answer ? h("p", { class: "rd-answer" }, q.answer) : "")));
}

function bindQualityQuery() {
  const form = $("quality-form");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const message = $("quality-message").value.trim();
    const errorEl = $("quality-error");
    if (!message) { errorEl.textContent = "Say what is wrong with the images."; return; }
    run(() => send("POST", `${cfg.api.task}quality-queries/`, { message }), errorEl, () => {
      form.reset();
      status("Your query was sent to QC.");
    });
  });
}

function renderResult(detail) {
  const body = $("result-body");
  const r = detail.response;
  body.textContent = "";
  if (!r) { body.append(h("p", { class: "empty", text: "No result." })); return; }
  // At a follow-up the engine gives the sums once it could assess the timepoint (baseline_sum_mm set);
  // until then sum_mm is still the baseline's, so it is not shown as this timepoint's.
  const assessed = cfg.baseline || r.baseline_sum_mm !== null;
  const rows = [["Sum of diameters", assessed ? mm(r.sum_mm) : "—", "r-sum"]];
  if (!cfg.baseline) {
    rows.push(
      ["Baseline sum", mm(r.baseline_sum_mm), "r-baseline-sum"], ["Nadir", mm(r.nadir_mm), "r-nadir"],
      ["Change from baseline", pct(r.change_from_baseline_pct), "r-change-baseline"],
      ["Change from nadir", pct(r.change_from_nadir_pct), "r-change-nadir"],
      ["Target response", response(r.target), "r-target"], ["Non-target response", response(r.non_target), "r-non-target"],
      ["New lesions", r.new_lesions ? NEW_LESIONS[r.new_lesions] || r.new_lesions : "—", "r-new"],
      ["Overall response", r.pending ? "Pending" : response(r.overall), "r-overall"],
      ["Best response so far", response(r.best_response), "r-best"],
    );
  }
  const dl = h("dl", { class: "rd-numbers" });
  for (const [label, value, id] of rows) dl.append(h("dt", { text: label }), h("dd", { id, text: value }));
  body.append(dl);
  if (r.explanation) body.append(h("p", { id: "r-explanation", class: "rd-explanation", text: r.explanation }));
  if (detail.state === "signed") return;
  if (detail.missing && detail.missing.length) {
    const list = h("ul", { id: "r-missing" });
    for (const m of detail.missing) list.append(h("li", { text: m.message }));
    body.append(h("div", { class: "rd-missing" }, h("p", { text: "Still missing before signing:" }), list));
  } else {
    body.append(h("p", { id: "r-complete", class: "rd-complete", text: "Complete: ready to sign." }));
  }
}

function goToButton(measurement, lesion, where) {
  if (!measurement) return null;
  return h("button", {
    type: "button", class: "rd-goto", text: "Go to", "aria-label": `Go to ${lesion.label} at ${where}`,
    "data-key": `${lesion.id}:goto:${measurement.id}`,
    onclick: async () => {
      if (!(await goTo(measurement))) status(`The image of ${lesion.label} at ${where} is not available in the viewer.`);
    },
  });
}

function lesionActions(lesion) {
  const actions = h("div", { class: "rd-actions" });
  const errorEl = h("p", { class: "error", role: "alert" });
  const m = current; // read when the button is pressed: the selection changes in the viewer
  if (lesion.kind === "target") {
    actions.append(h("button", {
      type: "button", "data-use": "", "data-key": `${lesion.id}:use`, text: "Use selected measurement",
      "aria-label": `Use the selected measurement for ${lesion.label}`,
      onclick: () => (m() ? observe({ lesion: lesion.id, measurement: m().id }, errorEl)
        : (errorEl.textContent = "Select or draw a measurement on this timepoint's images first.")),
    }));
    if (!cfg.baseline) {
      if (!lesion.lymph_node) {
        actions.append(h("button", {
          type: "button", "data-key": `${lesion.id}:gone`, text: "Disappeared",
          "aria-label": `${lesion.label} disappeared`, onclick: () => observe({ lesion: lesion.id, disappeared: true }, errorEl),
        }));
      }
      actions.append(h("button", {
        type: "button", "data-key": `${lesion.id}:small`, text: "Too small",
        "aria-label": `${lesion.label} too small to measure`, onclick: () => observe({ lesion: lesion.id, too_small: true }, errorEl),
      }));
      const reasonId = `ne-reason-${lesion.id}`;
      const reason = h("input", { type: "text", id: reasonId, "data-key": `${lesion.id}:reason`, maxlength: 200 });
      const neForm = h("form", { class: "rd-ne", hidden: true, novalidate: true },
        h("label", { for: reasonId, text: `Why ${lesion.label} is not evaluable` }), reason,
        h("button", { type: "submit", "data-key": `${lesion.id}:ne-record`, text: "Record not evaluable" }));
      neForm.addEventListener("submit", (e) => {
        e.preventDefault();
        if (!reason.value.trim()) { errorEl.textContent = "Say why the lesion is not evaluable."; reason.focus(); return; }
        observe({ lesion: lesion.id, not_evaluable: reason.value.trim() }, errorEl);
      });
      const toggle = h("button", {
        type: "button", "data-key": `${lesion.id}:ne`, text: "Not evaluable…", "aria-expanded": "false",
        "aria-label": `${lesion.label} not evaluable…`,
        onclick: () => {
          neForm.hidden = !neForm.hidden;
          toggle.setAttribute("aria-expanded", String(!neForm.hidden));
          if (!neForm.hidden) reason.focus();
        },
      });
      actions.append(toggle, neForm);
    }
  } else if (!cfg.baseline && (lesion.kind === "non_target" || lesion.kind === "new")) {
    const id = `status-${lesion.id}`;
    const choices = lesion.kind === "new" ? NEW_LESION_STATUSES : NON_TARGET_STATUSES;
    const obs = lesion.observation;
    const select = h("select", { id, "data-key": `${lesion.id}:status` },
      h("option", { value: "", text: "— choose —" }),
      ...choices.map((value) => h("option", { value, text: STATUS_LABELS[value] })));
    select.value = obs && obs.kind === "status" ? obs.status : "";
    select.addEventListener("change", () => {
      if (!select.value) return;
      const payload = { lesion: lesion.id, status: select.value };
      // A new lesion keeps the measurement it was recorded with here.
      if (lesion.kind === "new" && obs && obs.measurement) payload.measurement = obs.measurement.id;
      observe(payload, errorEl);
    });
    actions.append(h("span", { class: "rd-inline" }, h("label", { for: id, text: `${lesion.label} status` }), select));
  }
  if (lesion.added_here) {
    actions.append(h("button", {
      type: "button", class: "rd-remove", "data-key": `${lesion.id}:remove`, text: "Remove",
      "aria-label": `Remove ${lesion.label}`,
      onclick: () => run(() => send("DELETE", `${cfg.api.task}lesions/${lesion.id}/`), errorEl,
        () => status(`${lesion.label} removed.`)),
    }));
  }
  return [actions, errorEl];
}

function renderLesions(detail) {
  const list = $("lesion-list");
  list.textContent = "";
  if (!detail.lesions.length) {
    list.append(h("li", { class: "empty", text: cfg.baseline
      ? "No lesions yet: draw a measurement, then add it as a target below (or add a non-target)."
      : "No lesions in this read." }));
    return;
  }
  for (const lesion of detail.lesions) {
    const item = h("li", { class: `rd-lesion rd-${lesion.kind}`, "data-lesion": lesion.id, "data-label": lesion.label });
    const where = [KIND_LABELS[lesion.kind], lesion.organ, lesion.location, lesion.lymph_node ? "lymph node" : ""]
      .filter((part, i, parts) => part && parts.indexOf(part) === i).join(" · ");
    item.append(h("p", { class: "rd-lesion-head" }, h("strong", { text: lesion.label }), ` ${where}`));
    const obs = lesion.observation;
    const nowText = observationText(lesion, obs) ||
      (cfg.baseline && lesion.kind !== "target" ? "listed at baseline (its status is given at follow-ups)" : "not recorded yet");
    item.append(h("p", { class: "rd-now" }, `${detail.timepoint}: `,
      h("span", { class: obs ? "rd-value" : "rd-value empty", text: nowText }), " ",
      goToButton(obs && obs.measurement, lesion, detail.timepoint)));
    if (lesion.prior.length) {
      const prior = h("ul", { class: "rd-prior", "aria-label": `${lesion.label} at earlier timepoints` });
      for (const p of lesion.prior) {
        prior.append(h("li", { "data-timepoint": p.timepoint }, `${p.timepoint}: `,
          h("span", { class: "rd-value", text: observationText(lesion, p.observation) }), " ",
          goToButton(p.observation.measurement, lesion, p.timepoint)));
      }
      item.append(prior);
    }
    if (cfg.editable) item.append(...lesionActions(lesion));
    list.append(item);
  }
}

function renderNewLesionQuestion(detail) {
  const answer = $("new-lesions-answer");
  if (!answer) return;
  const here = detail.lesions.filter((l) => l.kind === "new" && l.added_here);
  if (detail.new_lesions_none) answer.textContent = "Answered: no new lesions.";
  else if (here.length) answer.textContent = `Answered: new lesion${here.length > 1 ? "s" : ""} ${here.map((l) => l.label).join(", ")} recorded here.`;
  else if (detail.lesions.some((l) => l.kind === "new" && l.observation)) answer.textContent = "Answered through the earlier new lesions' statuses.";
  else answer.textContent = "Not answered yet: say there are none, or add them.";
  $("no-new-lesions").hidden = detail.new_lesions_none;
  $("no-new-lesions").disabled = here.length > 0;
  $("undo-no-new-lesions").hidden = !detail.new_lesions_none;
}

function renderCurrent() {
  const line = $("current-measurement");
  if (!line) return;
  const m = current();
  let text = "No measurement selected: draw one on this timepoint's images with the Caliper or Bidirectional tool.";
  if (m) {
    const used = usedBy(m.id);
    text = `${state.selected ? "Selected" : "Last drawn"} measurement: ${measurementText(m)}` +
      (used ? `, used by ${used}.` : ", not used yet.");
  }
  if (line.textContent !== text) line.textContent = text;
  for (const button of document.querySelectorAll("#lesion-list [data-use]")) button.disabled = !m;
}

// ---------------------------------------------------------------- forms

async function loadOrgans() {
  const selects = document.querySelectorAll("select[data-organs]");
  if (!selects.length) return;
  const { organs } = await getJSON(cfg.api.organs);
  for (const select of selects) {
    select.textContent = "";
    select.append(h("option", { value: "", text: "— choose —" }), ...organs.map((o) => h("option", { value: o, text: o })));
    const node = select.closest("form").querySelector("input[name=lymph_node]");
    select.addEventListener("change", () => { if (select.value === "lymph node") node.checked = true; });
  }
}

function lesionForm(form, errorEl, build) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    errorEl.textContent = "";
    const organ = form.elements.organ;
    if (!organ.value) { errorEl.textContent = "Choose an organ."; organ.focus(); return; }
    const payload = build(form);
    if (payload === null) return;
    run(() => send("POST", `${cfg.api.task}lesions/`, payload), errorEl, (row) => {
      status(`${row.label} added.`);
      form.reset();
    });
  });
}

function measurementFor(form, errorEl) {
  if (!form.elements.use_measurement.checked || form.elements.use_measurement.disabled) return undefined;
  if (!current()) {
    errorEl.textContent = "Select or draw a measurement on this timepoint's images first (or untick “Use the selected measurement”).";
    return null;
  }
  return current().id;
}

function bindBaselineForm() {
  const form = $("add-lesion");
  if (!form) return;
  const errorEl = $("add-lesion-error");
  const kind = form.elements.kind;
  const sync = () => { form.elements.use_measurement.disabled = kind.value !== "target"; };
  kind.addEventListener("change", sync);
  form.addEventListener("reset", () => setTimeout(sync));
  sync();
  lesionForm(form, errorEl, () => {
    const measurement = measurementFor(form, errorEl);
    if (measurement === null) return null;
    return { kind: kind.value, organ: form.elements.organ.value, location: form.elements.location.value,
      lymph_node: form.elements.lymph_node.checked, ...(measurement ? { measurement } : {}) };
  });
}

function bindFollowUpForms() {
  const form = $("add-new-lesion");
  if (!form) return;
  const errorEl = $("add-new-lesion-error");
  const questionError = h("p", { class: "error", role: "alert", id: "new-lesions-error" });
  $("new-lesions-answer").after(questionError);
  $("no-new-lesions").addEventListener("click", () =>
    run(() => send("PATCH", cfg.api.task, { new_lesions: "none" }), questionError, () => $("undo-no-new-lesions").focus()));
  $("undo-no-new-lesions").addEventListener("click", () =>
    run(() => send("PATCH", cfg.api.task, { new_lesions: "unanswered" }), questionError, () => $("no-new-lesions").focus()));
  lesionForm(form, errorEl, () => {
    const measurement = measurementFor(form, errorEl);
    if (measurement === null) return null;
    return { kind: "new", organ: form.elements.organ.value, location: form.elements.location.value,
      lymph_node: form.elements.lymph_node.checked, status: form.elements.status.value,
      ...(measurement ? { measurement } : {}) };
  });
}

function bindSigning() {
  const dialog = $("sign-dialog");
  if (!dialog) return;
  const opener = $("sign-open");
  const password = $("sign-password");
  const errorEl = $("sign-error");
  opener.addEventListener("click", () => {
    errorEl.textContent = "";
    password.value = "";
    dialog.showModal();
    password.focus();
  });
  $("sign-cancel").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => opener.focus());
  $("sign-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    errorEl.textContent = "";
    if (!password.value) { errorEl.textContent = "Enter your password to sign."; password.focus(); return; }
    $("sign-submit").disabled = true;
    try {
      await send("POST", `${cfg.api.task}sign/`, { password: password.value, meaning: cfg.meaning });
      sessionStorage.setItem(`ictms-signed-${cfg.task}`, "1");
      window.location.reload(); // the page comes back locked, with the signature and the next timepoint
      return;
    } catch (error) {
      errorEl.append(h("p", { text: error.message }));
      const missing = error.data && error.data.missing;
      if (missing && missing.length) {
        const list = h("ul", { id: "sign-missing" });
        for (const m of missing) list.append(h("li", { text: m.message }));
        errorEl.append(list);
      }
      password.value = "";
      password.focus();
      if (error.status !== 403) getJSON(cfg.api.task).then((detail) => render(detail, null)).catch(() => {});
    } finally {
      $("sign-submit").disabled = false;
    }
  });
}

// ---------------------------------------------------------------- the viewer's measurements

document.addEventListener("viewer:selection", (event) => {
  const { measurement, visit } = event.detail;
  state.selected = measurement && visit === cfg.visit && measurement.can_edit ? measurement : null;
  renderCurrent();
});

document.addEventListener("viewer:measurement", (event) => {
  const { change, measurement, visit } = event.detail;
  if (change === "created" && visit === cfg.visit) state.lastDrawn = measurement;
  if (change === "deleted") {
    if (state.lastDrawn && state.lastDrawn.id === measurement.id) state.lastDrawn = null;
    if (state.selected && state.selected.id === measurement.id) state.selected = null;
  }
  // The diameter of an unsigned observation follows its measurement when it is moved.
  if (change === "moved" && usedBy(measurement.id) && !state.busy) {
    getJSON(cfg.api.task).then((detail) => render(detail)).catch(() => {});
  }
  renderCurrent();
});

// ---------------------------------------------------------------- start

async function start() {
  bindBaselineForm();
  bindFollowUpForms();
  bindSigning();
  bindQualityQuery();
  if (sessionStorage.getItem(`ictms-signed-${cfg.task}`)) {
    sessionStorage.removeItem(`ictms-signed-${cfg.task}`);
    const signature = $("signature");
    if (signature) signature.focus();
  }
  try {
    // Opening a ready task starts it (the read's start time); a signed one is only shown.
    const detail = cfg.editable && cfg.state === "ready"
      ? await send("POST", `${cfg.api.task}start/`) : await getJSON(cfg.api.task);
    render(detail, null);
    await loadOrgans();
  } catch (error) {
    $("result-body").textContent = `Could not load the read: ${error.message}`;
  }
}

window.ictmsReading = { state, ready: start() };
