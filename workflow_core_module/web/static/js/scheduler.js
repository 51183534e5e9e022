// The scheduler widget: loop state, active count, next due (with countdown), replicas, recent failures.

import { get } from "./api.js";
import { el, fill } from "./dom.js";
import { countdown, formatInstant, instantTitle } from "./time.js";

const ticking = (iso) => el("time", { datetime: iso, title: instantTitle(iso), dataset: { countdown: iso } },
  countdown(iso));

function stat(label, value, ...notes) {
  return el("div", { class: "stat" }, el("span", { class: "stat-label" }, label),
    el("strong", { class: "stat-value" }, value), notes.length ? el("small", {}, notes) : null);
}

function loopState(status) {
  const lag = status.lag_seconds > 5
    ? el("span", { class: "warn" }, ` · lag ${Math.round(status.lag_seconds)} s`) : null;
  return stat("Scheduler",
    el("span", { class: `pill ${status.running ? "pill-ok" : "pill-bad"}` }, status.running ? "Running" : "Stopped"),
    status.last_pass_at ? ["last pass ", ticking(status.last_pass_at)] : "no pass yet", lag);
}

function nextDue(status) {
  if (!status.next_due) return stat("Next due", "Nothing scheduled");
  const { at, name } = status.next_due;
  return stat("Next due", name, ticking(at), ` · ${formatInstant(at)}`);
}

function replicas(status) {
  const list = el("ul", { class: "plain" }, status.replicas.map((r) =>
    el("li", {}, `${r.host} · pid ${r.pid} · `, r.last_pass_at ? ["pass ", ticking(r.last_pass_at)] : "no pass yet")));
  return el("div", { class: "stat" }, el("span", { class: "stat-label" }, "Replicas"),
    el("strong", { class: "stat-value" }, String(status.replicas.length)), list);
}

function failures(status, onOpen) {
  const items = status.recent_failures.map((f) => el("li", {},
    el("button", { type: "button", class: "link", onclick: () => onOpen(f.schedule_id) }, f.name),
    " ", el("span", { class: "badge badge-failed" }, f.status),
    " ", el("time", { datetime: f.scheduled_for, title: instantTitle(f.scheduled_for) },
      formatInstant(f.scheduled_for)),
    f.error ? el("span", { class: "muted", title: f.error }, ` — ${f.error}`) : null));
  return el("div", { class: "stat stat-wide" }, el("span", { class: "stat-label" }, "Recent failures"),
    items.length ? el("ul", { class: "plain failures" }, items) : el("span", { class: "muted" }, "None"));
}

/**
 * The widget in `root`. `onOpen(scheduleId)` opens a schedule's history.
 */
export function createSchedulerWidget(root, { onOpen }) {
  async function refresh() {
    const status = await get("/schedules/status");
    fill(root, loopState(status), stat("Active schedules", String(status.active_schedules)),
      nextDue(status), replicas(status), failures(status, onOpen));
  }
  return { refresh };
}
