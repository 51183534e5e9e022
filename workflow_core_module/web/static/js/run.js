// The run detail dialog: a run's status, trigger, times to the second, attempts and each step's
// status, duration, output (bounded) and error, from GET /runs/{id}. Also used for a workflow's
// test run (an execution without a schedule), from GET /executions/{id}.

import { get } from "./api.js";
import { $, $$, el, fill } from "./dom.js";
import { guarded } from "./notify.js";
import { badge } from "./table.js";
import { duration, formatInstant, instantTitle } from "./time.js";

const OUTPUT_CHARS = 2000;  // shown of a step's output; the server keeps at most 16 KB
const LIVE = new Set(["queued", "running"]);

const at = (iso, zone) => (iso
  ? el("time", { datetime: iso, title: instantTitle(iso, zone) }, formatInstant(iso, zone)) : "—");
const cell = (label, ...children) => el("td", { dataset: { label } }, children);

/** A step's output as bounded text; an HTTP answer's status code first. */
function outputOf(step) {
  if (step.output === undefined || step.output === null) return null;
  const text = typeof step.output === "string" ? step.output : JSON.stringify(step.output, null, 2);
  const shown = text.length > OUTPUT_CHARS ? `${text.slice(0, OUTPUT_CHARS)}\n… (${text.length - OUTPUT_CHARS} more characters)` : text;
  const code = typeof step.output === "object" && Number.isInteger(step.output.status_code)
    ? el("strong", { class: "status-code", dataset: { statusCode: step.output.status_code } },
      `HTTP ${step.output.status_code}`) : null;
  return [code, el("details", {}, el("summary", {}, "Output"), el("pre", { class: "output" }, shown))];
}

/** The rows of an execution's steps (shared by the run dialog and a workflow's test run). */
export function stepRows(execution, steps = []) {
  const results = execution ? execution.step_results : [];
  return results.map((step) => el("tr", { dataset: { step: step.index } },
    cell("#", String(step.index + 1)),
    cell("Step", el("span", { class: "mono" }, step.action || "?"),
      steps[step.index]?.label ? el("small", { class: "muted block" }, steps[step.index].label) : null),
    cell("Status", badge(step.status || "unknown")),
    cell("Duration", duration(step.duration_ms)),
    cell("Output", outputOf(step)),
    cell("Error", step.error ? el("span", { class: "error-text" }, step.error) : null)));
}

function facts(pairs) {
  return pairs.map(([term, value]) => el("div", {}, el("dt", {}, term), el("dd", {}, value)));
}

/** The dialog; `open(runId)` shows one run and refreshes while it is queued or running. */
export function createRunDetail(dialog, { onOpenSchedule }) {
  let timer = 0;
  let sequence = 0;
  let current = null;
  let attempts = [];
  let shown = null;  // the attempt whose steps are shown (null: the latest)

  async function load() {
    const mine = ++sequence;
    clearTimeout(timer);
    const detail = await get(`/runs/${encodeURIComponent(current)}`);
    if (mine !== sequence || !dialog.open) return;
    const { run, schedule } = detail;
    const execution = detail.execution;
    const zone = schedule.timezone;
    $("[data-run-title]", dialog).textContent = `Run of “${schedule.name}”`;
    fill($("[data-run-sub]", dialog), el("button", { type: "button", class: "link", dataset: { runSchedule: "" },
      onclick: () => { dialog.close(); onOpenSchedule(schedule.schedule_id); } }, "Open the schedule's history"),
    schedule.deleted ? " (deleted)" : null, ` · times in ${zone}, the schedule's zone`);
    fill($("[data-run-facts]", dialog), facts([
      ["Status", badge(run.status)],
      ["Trigger", run.trigger],
      ["Scheduled for", at(run.scheduled_for, zone)],
      ["Started", at(execution?.started_at || run.fired_at, zone)],
      ["Finished", at(run.finished_at, zone)],
      ["Duration", duration(run.duration_ms)],
      ["Attempts", String(Math.max(run.attempt, detail.attempts.length))],
    ]));
    const error = $("[data-run-error]", dialog);
    error.textContent = [run.error, run.note].filter(Boolean).join(" · ");
    error.hidden = !error.textContent;
    attempts = detail.attempts || [];
    if (shown === null || shown >= attempts.length) shown = attempts.length - 1;
    showAttempt(zone);
    if (LIVE.has(run.status)) timer = setTimeout(guarded(load), 1000);
  }

  /** The attempts (when there were several) and the steps of the one picked (the latest first). */
  function showAttempt(zone) {
    const list = $("[data-run-attempts]", dialog);
    list.hidden = attempts.length < 2;
    fill(list, attempts.length < 2 ? null : [el("h3", {}, "Attempts"), el("ol", { class: "plain attempts" },
      attempts.map((a, i) => el("li", {}, el("button", { type: "button", class: "btn btn-small",
        "aria-pressed": String(i === shown), dataset: { attempt: a.attempt },
        onclick: () => { shown = i; showAttempt(zone); } }, `Attempt ${a.attempt}`), " ", badge(a.status), " ",
      at(a.started_at, zone), ` · ${duration(a.duration_ms)}`,
      a.error ? el("span", { class: "error-text block" }, a.error) : null)))]);
    const execution = attempts[shown] || null;
    $("[data-run-steps-title]", dialog).textContent = attempts.length > 1 && execution
      ? `Steps of attempt ${execution.attempt}` : "Steps";
    const rows = stepRows(execution);
    fill($("[data-run-steps]", dialog), rows);
    const empty = $("[data-run-steps-empty]", dialog);
    empty.hidden = rows.length > 0;
    empty.textContent = execution ? "No step has run yet." : "This run started no workflow (nothing ran).";
  }

  for (const close of $$("[data-close]", dialog)) close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => clearTimeout(timer));

  return {
    async open(runId) {
      current = runId;
      attempts = [];
      shown = null;
      for (const part of $$("[data-run-facts], [data-run-steps], [data-run-sub], [data-run-attempts]", dialog)) {
        fill(part);
      }
      $("[data-run-title]", dialog).textContent = "Run";
      $("[data-run-error]", dialog).hidden = true;
      if (!dialog.open) dialog.showModal();
      await load();
    },
  };
}
