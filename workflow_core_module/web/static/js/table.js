// Rows of the schedule list. Every cell carries a data-label so narrow screens can show it as a card.

import { sparkline } from "./charts.js";
import { el } from "./dom.js";
import { countdown, formatInstant, instantTitle } from "./time.js";

const DESCRIPTION_CHARS = 80;

const TYPE_LABEL = { cron: "Cron", interval: "Interval", one_time: "One time", rrule: "RRULE", after: "After" };
const ON_LABEL = { success: "on success", failure: "on failure", any: "on any end" };

/** An after schedule's timing: "after nightly-export (on success)"; else the API's description. */
function timing(schedule, scheduleName) {
  if (schedule.schedule_type !== "after" || !schedule.after) return schedule.timing_description;
  return `after ${scheduleName(schedule.after.schedule_id)} (${ON_LABEL[schedule.after.on] || schedule.after.on})`;
}

export const badge = (status) => el("span", { class: `badge badge-${status}` }, status.replace("_", " "));

const cell = (label, ...children) => el("td", { dataset: { label } }, children);

const action = (name, label, scheduleName, extra = "") =>
  el("button", { type: "button", class: `btn btn-small ${extra}`, dataset: { action: name },
    "aria-label": `${label} ${scheduleName}` }, label);

function nextRun(schedule) {
  const at = schedule.next_execution_at;
  if (!at || !schedule.is_active) return el("span", { class: "muted" }, "—");
  return [el("time", { class: "countdown", datetime: at, dataset: { countdown: at },
    title: instantTitle(at, schedule.timezone) }, countdown(at)),
  el("small", { class: "muted block" }, formatInstant(at))];
}

function toggle(schedule) {
  const locked = schedule.status === "completed" || schedule.status === "expired";
  return el("label", { class: "switch", title: locked ? `A ${schedule.status} schedule cannot be resumed` : null },
    el("input", { type: "checkbox", role: "switch", dataset: { action: "toggle" },
      checked: schedule.status === "active", disabled: locked, "aria-label": `Enabled: ${schedule.name}` }),
    el("span", { class: "switch-track", "aria-hidden": "true" }));
}

/** The schedule's description, cut to one short line; the whole text is its title. */
function description(schedule) {
  const text = (schedule.description || "").trim();
  if (!text) return null;
  const short = text.length > DESCRIPTION_CHARS ? `${text.slice(0, DESCRIPTION_CHARS - 1).trimEnd()}…` : text;
  return el("span", { class: "description block", title: text }, short);
}

/** One <tr> for `schedule`; `workflowName` and `scheduleName` map ids to names, `recent` holds its
 * newest ended runs. */
export function scheduleRow(schedule, { workflowName, scheduleName, selected, recent }) {
  const tags = schedule.tags.map((t) => el("span", { class: "tag" }, t));
  const workflow = workflowName(schedule.workflow_id);
  const failing = schedule.consecutive_failures > 0 || pausedByFailures(schedule);
  return el("tr", { dataset: { id: schedule.schedule_id }, class: failing ? "row-failing" : null },
    el("td", { class: "select-cell" }, el("input", { type: "checkbox", dataset: { select: "" }, checked: selected,
      "aria-label": `Select ${schedule.name}` })),
    cell("Schedule", el("strong", { class: "name" }, schedule.name), description(schedule),
      el("small", { class: "muted block" }, el("button", { type: "button", class: "link", dataset: { action: "workflow" },
        "aria-label": `Workflow ${workflow} of ${schedule.name}`, title: "Open the workflow" }, workflow),
      schedule.community_id ? ` · community ${schedule.community_id}` : null),
      tags.length ? el("span", { class: "tags" }, tags) : null),
    cell("Timing", el("span", { class: "type" }, TYPE_LABEL[schedule.schedule_type]),
      el("span", { class: "block" }, timing(schedule, scheduleName))),
    cell("Zone", schedule.timezone),
    cell("Status", badge(schedule.status), trouble(schedule), pauseNote(schedule), alertsNote(schedule)),
    cell("Next run", nextRun(schedule)),
    cell("Last run", lastRun(schedule), recent && recent.length ? sparkline(recent) : null),
    cell("Enabled", toggle(schedule)),
    el("td", { class: "actions" }, el("div", { class: "action-group" },
      action("run", "Run now", schedule.name), action("history", "History", schedule.name),
      action("edit", "Edit", schedule.name), action("clone", "Clone", schedule.name),
      action("delete", "Delete", schedule.name, "btn-danger"))));
}

const pausedByFailures = (schedule) => schedule.status === "paused" && schedule.paused_by === "system";

/** A schedule that is failing, or paused itself after failing, says so in red. */
function trouble(schedule) {
  if (pausedByFailures(schedule)) return el("span", { class: "badge badge-failed block-badge" }, "paused by failures");
  const n = schedule.consecutive_failures;
  return n > 0 ? el("span", { class: "badge badge-failed block-badge" }, n === 1 ? "last run failed"
    : `${n} failures in a row`) : null;
}

/** Whether the schedule alerts anyone, and whether its alerts are in a failing state. */
function alertsNote(schedule) {
  const alerts = schedule.alerts;
  if (!alerts || alerts.enabled === false) return null;
  const kinds = (alerts.channels || []).map((c) => c.type);
  const where = ["chat", "webhook"].filter((k) => kinds.includes(k)).join(" + ");
  return el("small", { class: "muted block alerts-note", title: `Alerts on ${(alerts.on || []).join(", ")}` },
    `alerts: ${where}`);
}

/** Why and until when a paused schedule is paused, when it says. */
function pauseNote(schedule) {
  if (schedule.status !== "paused" || !(schedule.pause_reason || schedule.paused_until)) return null;
  const until = schedule.paused_until ? `until ${formatInstant(schedule.paused_until)}` : null;
  return el("small", { class: "muted block pause-note", title: schedule.pause_reason || "" },
    [schedule.pause_reason, until].filter(Boolean).join(" · "));
}

/** The status and time of the schedule's newest ended run (the API keeps them on the schedule). */
function lastRun(schedule) {
  const at = schedule.last_run_at;
  if (!schedule.last_run_status || !at) return el("span", { class: "muted" }, "Never run");
  return [badge(schedule.last_run_status),
    el("time", { class: "muted block", datetime: at, title: instantTitle(at, schedule.timezone) }, formatInstant(at))];
}
