// The workflows page: list, create, edit (a form per step from the actions' schemas, or the raw
// JSON), disable, delete (a 409 names the schedules in the way), and a test run shown inline.
// Each workflow lists and links its schedules; a schedule's row links back here.

import { ApiError, all, del, get, post, put } from "./api.js";
import { $, $$, el, fill } from "./dom.js";
import { confirmAction, guarded, toast } from "./notify.js";
import { stepRows } from "./run.js";
import { readStep, showStepErrors, stepEditor } from "./stepform.js";
import { badge } from "./table.js";
import { duration, formatInstant, instantTitle } from "./time.js";

const DESCRIPTION_CHARS = 80;
const LIVE = new Set(["queued", "running"]);
const TEST_RUN_LIMIT_MS = 120000;

const cell = (label, ...children) => el("td", { dataset: { label } }, children);
const short = (text) => (text.length > DESCRIPTION_CHARS ? `${text.slice(0, DESCRIPTION_CHARS - 1).trimEnd()}…` : text);

function button(name, label, workflowName, extra = "") {
  return el("button", { type: "button", class: `btn btn-small ${extra}`, dataset: { workflowAction: name },
    "aria-label": `${label} ${workflowName}` }, label);
}

function scheduleLinks(schedules, onOpenSchedule) {
  if (!schedules.length) return el("span", { class: "muted" }, "None");
  return el("ul", { class: "plain schedule-links" }, schedules.map((s) => el("li", {},
    el("button", { type: "button", class: "link", dataset: { scheduleLink: s.schedule_id },
      onclick: () => onOpenSchedule(s.schedule_id) }, s.name), " ", badge(s.status))));
}

/** The test run's result: its status, time, duration and each step (bounded output). */
function testResult(execution, workflow) {
  const when = execution.started_at || execution.created_at;
  return el("div", { class: "test-run", role: "status", dataset: { testRunStatus: execution.status } },
    el("p", {}, el("strong", {}, "Test run "), badge(execution.status), " ",
      when ? el("time", { datetime: when, title: instantTitle(when) }, formatInstant(when)) : null,
      ` · ${duration(execution.duration_ms)}`,
      execution.error ? el("span", { class: "error-text block" }, execution.error) : null),
    el("div", { class: "table-wrap" }, el("table", { class: "runs-table steps-table" },
      el("thead", {}, el("tr", {}, ["#", "Step", "Status", "Duration", "Output", "Error"].map((h) => el("th", {}, h)))),
      el("tbody", {}, stepRows(execution, workflow.steps)))));
}

/** The page in `root` and its dialog. `who()` is /whoami; `onOpenSchedule(id)` opens a schedule. */
export function createWorkflows(root, dialog, { who, onOpenSchedule, onChanged }) {
  const rows = $("[data-workflow-rows]", root);
  const form = $("form", dialog);
  const general = $("[data-workflow-error]", dialog);
  const stepsBox = $("[data-steps]", dialog);
  let workflows = [];
  let usedBy = new Map();
  let actions = null;
  let editing = null;
  let view = "form";
  let uid = 0;
  const testRuns = new Map();  // workflow_id -> the last test run's result node

  async function loadActions() {
    if (!actions) actions = Object.fromEntries((await get("/actions")).items.map((a) => [a.action, a]));
    return actions;
  }

  async function load() {
    const [list, schedules] = await Promise.all([all("/workflows"), all("/schedules")]);
    workflows = list;
    usedBy = new Map();
    for (const s of schedules) usedBy.set(s.workflow_id, [...(usedBy.get(s.workflow_id) || []), s]);
    render();
  }

  function row(w) {
    const schedules = usedBy.get(w.workflow_id) || [];
    const tr = el("tr", { dataset: { workflowId: w.workflow_id } },
      cell("Workflow", el("strong", { class: "name" }, w.name),
        w.description ? el("span", { class: "description block", title: w.description }, short(w.description)) : null,
        w.community_id ? el("small", { class: "muted block" }, `community ${w.community_id}`)
          : el("small", { class: "muted block" }, "shared")),
      cell("Steps", el("span", { class: "mono steps-summary" }, w.steps.map((s) => s.action).join(" → "))),
      cell("Schedules", scheduleLinks(schedules, onOpenSchedule)),
      cell("Status", badge(w.is_active ? "active" : "disabled")),
      el("td", { class: "actions" }, el("div", { class: "action-group" },
        button("test", "Test run", w.name), button("edit", "Edit", w.name),
        button("toggle", w.is_active ? "Disable" : "Enable", w.name),
        button("delete", "Delete", w.name, "btn-danger"))));
    const result = testRuns.get(w.workflow_id);
    return result ? [tr, el("tr", { class: "test-run-row", dataset: { testRunFor: w.workflow_id } },
      el("td", { colspan: 5 }, result))] : tr;
  }

  function render() {
    fill(rows, workflows.map(row));
    const empty = $("[data-workflows-empty]", root);
    empty.hidden = workflows.length > 0;
    empty.textContent = "No workflows yet. Create one with “New workflow”.";
  }

  const byId = (id) => workflows.find((w) => w.workflow_id === id);

  async function testRun(w) {
    const { execution_id: id } = await post(`/workflows/${w.workflow_id}/execute`);
    testRuns.set(w.workflow_id, el("p", { role: "status" }, "Test run started…"));
    render();
    const began = Date.now();
    let execution = await get(`/executions/${id}`);
    while (LIVE.has(execution.status) && Date.now() - began < TEST_RUN_LIMIT_MS) {
      await new Promise((resolve) => { setTimeout(resolve, 500); });
      execution = await get(`/executions/${id}`);
    }
    testRuns.set(w.workflow_id, testResult(execution, w));
    render();
  }

  function inUse(w, error) {
    const names = (usedBy.get(w.workflow_id) || []).filter((s) => s.status === "active" || s.status === "paused")
      .map((s) => `“${s.name}”`);
    const listed = names.length ? `: ${names.join(", ")}` : "";
    return `“${w.name}” is used by ${error.details.schedules ?? names.length} active or paused schedule(s)${listed}. `
      + "Delete them or point them at another workflow first.";
  }

  async function setActive(w, on) {
    try {
      await put(`/workflows/${w.workflow_id}`, { name: w.name, description: w.description, steps: w.steps,
        is_active: on });
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 409) throw error;
      toast(`Not disabled: ${inUse(w, error)}`, "error");
      return;
    }
    toast(`${on ? "Enabled" : "Disabled"} “${w.name}”`, "ok");
    await load();
  }

  async function remove(w) {
    const sure = await confirmAction(`Delete the workflow “${w.name}”? This cannot be undone.`, "Delete workflow");
    if (!sure) return;
    try {
      await del(`/workflows/${w.workflow_id}`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 409) throw error;
      toast(`Not deleted: ${inUse(w, error)}`, "error");
      return;
    }
    testRuns.delete(w.workflow_id);
    toast(`Deleted “${w.name}”`, "ok");
    await load();
    await onChanged();
  }

  rows.addEventListener("click", (event) => {
    const target = event.target.closest("[data-workflow-action]");
    if (!target) return;
    const w = byId(target.closest("tr").dataset.workflowId);
    const act = { test: testRun, edit: (x) => open(x), toggle: (x) => setActive(x, !x.is_active), delete: remove };
    guarded(act[target.dataset.workflowAction])(w);
  });

  // ---- the dialog ------------------------------------------------------------------------------

  function editors() {
    return $$("fieldset.step", stepsBox);
  }

  function renumber() {
    editors().forEach((editor, i) => {
      $("legend", editor).textContent = `Step ${i + 1}`;
      $("[data-step-action-select]", editor).setAttribute("aria-label", `Step ${i + 1} action`);
      for (const b of $$("[data-step-move], [data-step-remove]", editor)) {
        const what = b.dataset.stepRemove !== undefined ? "Remove" : b.dataset.stepMove === "-1" ? "Move up" : "Move down";
        b.setAttribute("aria-label", `${what}: step ${i + 1}`);
      }
    });
  }

  function addEditor(step) {
    uid += 1;
    stepsBox.append(stepEditor(actions, step, editors().length + 1, `step${uid}`));
    renumber();
  }

  function readSteps() {
    const steps = [];
    let bad = false;
    for (const editor of editors()) {
      const { step, errors } = readStep(editor);
      showStepErrors(editor, errors);
      bad = bad || Object.keys(errors).length > 0;
      steps.push(step);
    }
    return bad ? null : steps;
  }

  function writeSteps(steps) {
    fill(stepsBox);
    for (const step of steps) addEditor(step);
  }

  function jsonBox() {
    return form.elements.steps_json;
  }

  function fieldError(name, message) {
    const slot = $(`[data-error-for="${name}"]`, form);
    slot.textContent = message || "";
    slot.hidden = !message;
  }

  /** Switches between the step forms and the raw JSON, carrying the steps across. */
  function showView(next) {
    if (next === view) return true;
    if (next === "json") {
      const steps = readSteps();
      if (!steps) return false;
      jsonBox().value = JSON.stringify(steps, null, 2);
    } else {
      let steps;
      try {
        steps = JSON.parse(jsonBox().value || "[]");
        if (!Array.isArray(steps) || steps.some((s) => typeof s !== "object" || s === null || Array.isArray(s))) {
          throw new Error("expected an array of step objects");
        }
      } catch (error) {
        fieldError("steps_json", `Cannot show this as forms: ${error.message}`);
        return false;
      }
      fieldError("steps_json", "");
      writeSteps(steps);
    }
    view = next;
    $("[data-steps-form]", dialog).hidden = view !== "form";
    $("[data-steps-json]", dialog).hidden = view !== "json";
    for (const b of $$("[data-steps-view]", dialog)) b.setAttribute("aria-pressed", String(b.dataset.stepsView === view));
    return true;
  }

  for (const b of $$("[data-steps-view]", dialog)) b.addEventListener("click", () => showView(b.dataset.stepsView));
  $("[data-add-step]", dialog).addEventListener("click", () => {
    addEditor(null);
    $("select", editors().at(-1)).focus();
  });
  stepsBox.addEventListener("change", (event) => {
    const select = event.target.closest("[data-step-action-select]");
    if (!select) return;
    const editor = select.closest("fieldset.step");
    const { step } = readStep(editor);
    uid += 1;
    const fresh = stepEditor(actions, { ...step, action: select.value }, 0, `step${uid}`);
    editor.replaceWith(fresh);
    renumber();
    $("[data-step-action-select]", fresh).focus();
  });
  stepsBox.addEventListener("click", (event) => {
    const editor = event.target.closest("fieldset.step");
    if (event.target.closest("[data-step-remove]")) {
      editor.remove();
      renumber();
    } else if (event.target.closest("[data-step-move]")) {
      const move = Number(event.target.closest("[data-step-move]").dataset.stepMove);
      const all = editors();
      const other = all[all.indexOf(editor) + move];
      if (!other) return;
      if (move < 0) other.before(editor);
      else other.after(editor);
      renumber();
      event.target.closest("[data-step-move]").focus();
    }
  });
  for (const close of $$("[data-close]", dialog)) close.addEventListener("click", () => dialog.close());

  function showApiErrors(details, message) {
    const rest = [];
    const perStep = new Map();
    for (const [key, text] of Object.entries(details || {})) {
      const match = /^steps\[(\d+)\]\.(\w+)/.exec(key);
      if (match && view === "form") {
        perStep.set(Number(match[1]), { ...(perStep.get(Number(match[1])) || {}), [match[2]]: text });
      } else if (key === "name" || key === "description") {
        fieldError(key, text);
      } else rest.push(`${key}: ${text}`);
    }
    editors().forEach((editor, i) => {
      const errors = perStep.get(i) || {};
      showStepErrors(editor, errors);
      const unknown = Object.keys(errors).filter((f) => !$(`[data-error-for="${f}"]`, editor));
      rest.push(...unknown.map((f) => `step ${i + 1} ${f}: ${errors[f]}`));
    });
    if (!Object.keys(details || {}).length && message) rest.push(message);
    general.textContent = rest.join("; ");
    general.hidden = rest.length === 0;
  }

  form.addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    fieldError("name", "");
    fieldError("description", "");
    let steps;
    if (view === "json") {
      try {
        steps = JSON.parse(jsonBox().value || "[]");
      } catch (error) {
        fieldError("steps_json", `not valid JSON: ${error.message}`);
        return;
      }
    } else {
      steps = readSteps();
      if (!steps) return;
    }
    const body = { name: form.elements.name.value.trim(), description: form.elements.description.value,
      steps, is_active: form.elements.is_active.checked };
    const community = form.elements.community_id;
    if (!editing && !community.disabled && community.value.trim()) body.community_id = community.value.trim();
    const save = $("[type=submit]", form);
    save.disabled = true;
    try {
      const saved = editing ? await put(`/workflows/${editing.workflow_id}`, body) : await post("/workflows", body);
      dialog.close();
      toast(`Saved “${saved.name}”`, "ok");
      await load();
      await onChanged();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 401) throw error;
      showApiErrors(error.details, error.status === 409 && editing ? inUse(editing, error) : error.message);
    } finally {
      save.disabled = false;
    }
  }));

  async function open(w = null) {
    await loadActions();
    editing = w;
    view = "form";
    $("[data-steps-form]", dialog).hidden = false;
    $("[data-steps-json]", dialog).hidden = true;
    for (const b of $$("[data-steps-view]", dialog)) b.setAttribute("aria-pressed", String(b.dataset.stepsView === "form"));
    $("[data-workflow-form-title]", dialog).textContent = w ? "Edit workflow" : "New workflow";
    form.elements.name.value = w?.name || "";
    form.elements.description.value = w?.description || "";
    form.elements.is_active.checked = w ? w.is_active : true;
    const community = form.elements.community_id;
    community.value = w?.community_id || "";
    community.disabled = !who().is_global || Boolean(w);
    community.closest(".field").hidden = !who().is_global;
    jsonBox().value = "";
    for (const name of ["name", "description", "steps_json"]) fieldError(name, "");
    general.hidden = true;
    writeSteps(w ? w.steps : [{ action: "http_request" }]);
    const schedules = w ? usedBy.get(w.workflow_id) || [] : [];
    fill($("[data-workflow-schedules]", dialog), w ? [el("h3", {}, "Schedules that run it"),
      scheduleLinks(schedules, (id) => { dialog.close(); onOpenSchedule(id); })] : null);
    dialog.showModal();
    form.elements.name.focus();
  }

  $("[data-new-workflow]", root).addEventListener("click", guarded(() => open()));

  return {
    load,
    /** Opens the workflow `id` in the dialog (the list and its schedules read afresh). */
    async show(id) {
      await load();
      const w = byId(id);
      if (!w) {
        toast("That workflow is not visible to this key.", "error");
        return;
      }
      await open(w);
    },
  };
}
