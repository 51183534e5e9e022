// The history dialog of one schedule: statistics, next runs, and its runs filtered by status and paged.

import { get } from "./api.js";
import { $, $$, el, fill } from "./dom.js";
import { guarded } from "./notify.js";
import { badge } from "./table.js";
import { duration, formatInstant, instantTitle } from "./time.js";

const PAGE = 25;
const LIVE = new Set(["queued", "running"]);

const at = (iso, zone) => (iso
  ? el("time", { datetime: iso, title: instantTitle(iso, zone) }, formatInstant(iso)) : "—");
const cell = (label, ...children) => el("td", { dataset: { label } }, children);

function runRow(run, zone) {
  return el("tr", { dataset: { runId: run.run_id } },
    cell("Status", badge(run.status),
      run.attempt > 1 ? el("small", { class: "muted" }, ` attempt ${run.attempt}`) : null),
    cell("Trigger", run.trigger),
    cell("Scheduled for", at(run.scheduled_for, zone)),
    cell("Fired at", at(run.fired_at, zone)),
    cell("Duration", duration(run.duration_ms)),
    cell("Error", run.error ? el("span", { class: "error-text" }, run.error) : null,
      run.note ? el("small", { class: "muted block" }, run.note) : null),
    el("td", { class: "row-action" }, el("button", { type: "button", class: "btn btn-small", dataset: { runDetail: "" },
      "aria-label": `Details of the run scheduled for ${formatInstant(run.scheduled_for, zone)}` }, "Details")));
}

/** The schedule's chains: what it runs after, and what runs after it (each opens its own history). */
function chainLine(line, chain) {
  const link = (s) => el("button", { type: "button", class: "link", dataset: { schedule: s.schedule_id } },
    s.name || s.schedule_id);
  const parts = [];
  if (chain?.upstream) parts.push("Runs after ", link(chain.upstream), ". ");
  if (chain?.downstream?.length) {
    parts.push("Then: ");
    chain.downstream.forEach((s, i) => parts.push(...(i ? [", "] : []), link(s)));
    parts.push(".");
  }
  fill(line, parts);
  line.hidden = parts.length === 0;
}

function statsList(stats) {
  const rate = stats.success_rate === null ? "—" : `${Math.round(stats.success_rate * 1000) / 10}%`;
  const pairs = [["Runs", stats.total_runs], ["Succeeded", stats.successful_runs], ["Failed", stats.failed_runs],
    ["Missed", stats.missed_runs], ["Success rate", rate], ["Average duration", duration(stats.avg_duration_ms)]];
  return pairs.map(([term, value]) => el("div", {}, el("dt", {}, term), el("dd", {}, String(value))));
}

/**
 * The history dialog; `open(scheduleId)` shows one schedule (and polls while a run is queued or running).
 * `onOpenRun(runId)` opens a run's detail.
 */
export function createHistory(dialog, { onOpenRun }) {
  const state = { id: null, status: "", offset: 0 };
  let timer = 0;
  let sequence = 0;

  async function load() {
    const mine = ++sequence;
    clearTimeout(timer);
    const id = state.id;
    // Runs first: a run and its schedule's counters end in one transaction, so statistics read
    // afterwards always include every finished run shown.
    const page = await get(`/schedules/${id}/history`, { status: state.status, limit: PAGE, offset: state.offset });
    const [schedule, next] = await Promise.all([get(`/schedules/${id}`), get(`/schedules/${id}/next`, { count: 5 })]);
    if (mine !== sequence || !dialog.open) return;
    const zone = schedule.timezone;
    $("[data-history-title]", dialog).textContent = schedule.name;
    $("[data-history-timing]", dialog).textContent = `${schedule.timing_description} · ${schedule.status}`;
    chainLine($("[data-history-chain]", dialog), schedule.chain);
    fill($("[data-history-stats]", dialog), statsList(schedule.stats));
    let upcoming = el("li", { class: "muted" }, `None while ${schedule.status}`);
    if (schedule.schedule_type === "after") upcoming = el("li", { class: "muted" }, "None of its own: see above");
    else if (schedule.is_active) upcoming = next.times.map((t) => el("li", {}, at(t, zone)));
    fill($("[data-history-next]", dialog), upcoming);
    fill($("[data-history-rows]", dialog), page.items.map((r) => runRow(r, zone)));
    const empty = $("[data-history-empty]", dialog);
    empty.hidden = page.items.length > 0;
    empty.textContent = state.status ? `No ${state.status} runs.` : "No runs yet.";
    $("[data-range]", dialog).textContent = page.total
      ? `${state.offset + 1}–${state.offset + page.items.length} of ${page.total}` : "0 runs";
    $("[data-page=prev]", dialog).disabled = state.offset === 0;
    $("[data-page=next]", dialog).disabled = state.offset + PAGE >= page.total;
    if (page.items.some((r) => LIVE.has(r.status))) timer = setTimeout(guarded(load), 1500);
  }

  $("[data-history-status]", dialog).addEventListener("change", guarded(async (event) => {
    state.status = event.target.value;
    state.offset = 0;
    await load();
  }));
  $("[data-history-refresh]", dialog).addEventListener("click", guarded(load));
  $("[data-history-chain]", dialog).addEventListener("click", guarded(async (event) => {
    const button = event.target.closest("[data-schedule]");
    if (!button) return;
    Object.assign(state, { id: button.dataset.schedule, status: "", offset: 0 });
    await load();
  }));
  $("[data-history-rows]", dialog).addEventListener("click", (event) => {
    const button = event.target.closest("[data-run-detail]");
    if (button) guarded(onOpenRun)(button.closest("tr").dataset.runId);
  });
  for (const button of $$("[data-page]", dialog)) {
    button.addEventListener("click", guarded(async () => {
      state.offset = Math.max(0, state.offset + (button.dataset.page === "next" ? PAGE : -PAGE));
      await load();
    }));
  }
  for (const close of $$("[data-close]", dialog)) close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => clearTimeout(timer));

  return {
    async open(scheduleId) {
      Object.assign(state, { id: scheduleId, status: "", offset: 0 });
      $("[data-history-status]", dialog).value = "";
      for (const part of $$("[data-history-rows], [data-history-stats], [data-history-next]", dialog)) fill(part);
      $("[data-history-title]", dialog).textContent = "History";
      $("[data-history-timing]", dialog).textContent = "";
      $("[data-history-chain]", dialog).hidden = true;
      dialog.showModal();
      await load();
    },
  };
}
