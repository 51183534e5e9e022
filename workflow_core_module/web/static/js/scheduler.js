// The scheduler widget: loop state, active count, the next 3 runs (with countdowns), replicas, recent failures.

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

function nextRuns(status) {
  const runs = status.next_runs || [];
  if (!runs.length) return stat("Next runs", "Nothing scheduled");
  const items = runs.map((r) => el("li", { dataset: { nextRun: r.schedule_id } },
    el("strong", { class: "next-name" }, r.name), " ", ticking(r.at),
    el("span", { class: "block" }, formatInstant(r.at))));
  return el("div", { class: "stat" }, el("span", { class: "stat-label" }, "Next runs"),
    el("ol", { class: "plain next-runs" }, items));
}

function replicas(status) {
  if (!status.replicas) return null;  // a community key does not see the service's replicas
  const list = el("ul", { class: "plain" }, status.replicas.map((r) =>
    el("li", {}, `${r.host} · pid ${r.pid} · `, r.last_pass_at ? ["pass ", ticking(r.last_pass_at)] : "no pass yet")));
  return el("div", { class: "stat" }, el("span", { class: "stat-label" }, "Replicas"),
    el("strong", { class: "stat-value" }, String(status.replicas.length)), list);
}

function failures(status, onOpenRun) {
  const items = status.recent_failures.map((f) => el("li", {},
    el("button", { type: "button", class: "link", dataset: { failureRun: f.run_id },
      "aria-label": `Details of the failed run of ${f.name}`, onclick: () => onOpenRun(f.run_id) }, f.name),
    " ", el("span", { class: "badge badge-failed" }, f.status),
    " ", el("time", { datetime: f.scheduled_for, title: instantTitle(f.scheduled_for) },
      formatInstant(f.scheduled_for)),
    f.error ? el("span", { class: "muted", title: f.error }, ` — ${f.error}`) : null));
  return el("div", { class: "stat stat-wide" }, el("span", { class: "stat-label" }, "Recent failures"),
    items.length ? el("ul", { class: "plain failures" }, items) : el("span", { class: "muted" }, "None"));
}

const ALERT_STATUS = { sent: "completed", failed: "failed", pending: "queued", sending: "running" };

/** The newest alerts sent (or being sent) about the schedules this key sees. */
function alerts(page, onOpenRun) {
  const items = page.items.map((a) => el("li", { dataset: { alert: a.id } },
    el("span", { class: `badge badge-alert-${a.event}` }, a.event), " ",
    a.run?.run_id && a.run.status !== "missed"
      ? el("button", { type: "button", class: "link", "aria-label": `Details of the run ${a.event} alerted on`,
        onclick: () => onOpenRun(a.run.run_id) }, a.schedule_name || a.schedule_id)
      : el("strong", {}, a.schedule_name || a.schedule_id),
    " → ", a.channel === "operator" ? "operator webhook" : a.channel, " ",
    el("span", { class: `badge badge-${ALERT_STATUS[a.status]}`, title: a.last_error || "" },
      a.status === "sent" && a.digest_size > 1 ? `sent in a digest of ${a.digest_size}` : a.status),
    " ", el("time", { datetime: a.created_at, title: instantTitle(a.created_at) }, formatInstant(a.created_at)),
    a.status !== "sent" && a.last_error ? el("span", { class: "muted", title: a.last_error },
      ` — attempt ${a.attempts}: ${a.last_error}`) : null));
  return el("div", { class: "stat stat-wide", dataset: { alerts: "" } }, el("span", { class: "stat-label" },
    "Recent alerts"), items.length ? el("ul", { class: "plain failures" }, items)
    : el("span", { class: "muted" }, "None sent"));
}

/**
 * The widget in `root`. `onOpenRun(runId)` opens a run's detail.
 */
export function createSchedulerWidget(root, { onOpenRun }) {
  async function refresh() {
    const [status, recent] = await Promise.all([get("/schedules/status"), get("/alerts", { limit: 8 })]);
    fill(root, loopState(status), stat("Active schedules", String(status.active_schedules)),
      nextRuns(status), replicas(status), failures(status, onOpenRun), alerts(recent, onOpenRun));
  }
  return { refresh };
}
