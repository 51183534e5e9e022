// Pictures drawn as plain SVG: a schedule's sparkline of its last run durations, and the 7-day
// timeline of the listed schedules' upcoming runs (runs per hour, crowded hours and same-minute
// overlaps marked; an hour's runs listed on click). No chart library; text goes in as text nodes.

import { el, fill } from "./dom.js";
import { LOCAL_ZONE, duration, formatClock, formatDay, formatInstant, zoneAbbreviation } from "./time.js";

const SVG = "http://www.w3.org/2000/svg";
const FAILED = new Set(["failed", "timed_out", "missed"]);
const HOUR_MS = 3600 * 1000;

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/**
 * A sparkline of `runs` (newest first, as the API lists them): one bar per run, oldest on the
 * left, its height the run's duration against the longest; failed, timed-out and missed runs are
 * red (at full height when they have no duration).
 */
export function sparkline(runs, slots = 20) {
  if (!runs.length) return null;
  const shown = runs.slice(0, slots).reverse();
  const longest = Math.max(1, ...shown.map((r) => r.duration_ms || 0));
  const [width, height, gap] = [slots * 5, 22, 1];
  const failures = shown.filter((r) => FAILED.has(r.status)).length;
  const label = `Last ${shown.length} run${shown.length === 1 ? "" : "s"}: longest ${duration(longest)}` +
    (failures ? `, ${failures} failed` : ", none failed");
  const bars = shown.map((run, i) => {
    const failed = FAILED.has(run.status);
    const share = run.duration_ms ? run.duration_ms / longest : (failed ? 1 : 0);
    const h = Math.max(2, Math.round(share * (height - 2)));
    return svg("rect", { x: i * 5, y: height - h, width: 5 - gap, height: h, class: failed ? "spark-bad" : "spark-ok",
      "data-status": run.status, "data-duration": run.duration_ms ?? "" },
    svg("title", {}, `${run.status} · ${duration(run.duration_ms)} · ${formatInstant(run.scheduled_for)}`));
  });
  return svg("svg", { class: "sparkline", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": label, "data-runs": shown.length, "data-failures": failures }, svg("title", {}, label), ...bars);
}

/** The local hour (browser zone) that `ms` falls in, as its start in ms. */
function hourStart(ms) {
  const date = new Date(ms);
  date.setMinutes(0, 0, 0);
  return date.getTime();
}

/**
 * Buckets the timeline answer into hours from the hour of `start` (browser zone): for each hour its
 * runs ({at, name, scheduleId, overlap}) in time order; `overlap` when another run falls in the
 * same minute.
 */
export function bucketRuns(answer, hours = 168) {
  const first = hourStart(Date.parse(answer.start));
  const buckets = Array.from({ length: hours }, (_, i) => ({ start: first + i * HOUR_MS, runs: [] }));
  const perMinute = new Map();
  for (const item of answer.items) {
    for (const at of item.times) {
      const ms = Date.parse(at);
      const index = Math.floor((ms - first) / HOUR_MS);
      if (index < 0 || index >= hours) continue;
      const run = { at, ms, name: item.name, scheduleId: item.schedule_id, zone: item.timezone, overlap: false };
      buckets[index].runs.push(run);
      const minute = Math.floor(ms / 60000);
      perMinute.set(minute, [...(perMinute.get(minute) || []), run]);
    }
  }
  for (const runs of perMinute.values()) if (runs.length > 1) runs.forEach((r) => { r.overlap = true; });
  for (const bucket of buckets) bucket.runs.sort((a, b) => a.ms - b.ms);
  return buckets;
}

/** How many runs make an hour "crowded": at least 3, and at least twice the average busy hour. */
export function crowdedAt(buckets) {
  const busy = buckets.filter((b) => b.runs.length > 0);
  if (!busy.length) return Infinity;
  const average = busy.reduce((sum, b) => sum + b.runs.length, 0) / busy.length;
  return Math.max(3, Math.ceil(average * 2));
}

function hourLabel(bucket) {
  const start = new Date(bucket.start);
  const overlaps = bucket.runs.filter((r) => r.overlap).length;
  const end = new Date(bucket.start + HOUR_MS);
  return `${formatDay(start, { month: true })}, ${formatClock(start)}–${formatClock(end)} ${zoneAbbreviation(start)}: ` +
    `${bucket.runs.length} run` +
    `${bucket.runs.length === 1 ? "" : "s"}${overlaps ? `, ${overlaps} in a shared minute` : ""}`;
}

/**
 * The timeline inside `root` (which holds [data-timeline-chart], [data-timeline-summary] and
 * [data-timeline-hour]) for one answer of GET /schedules/timeline.
 */
export function createTimeline(root) {
  const chart = root.querySelector("[data-timeline-chart]");
  const summary = root.querySelector("[data-timeline-summary]");
  const detail = root.querySelector("[data-timeline-hour]");
  let buckets = [];
  let selected = null;

  function showHour(index) {
    selected = index;
    for (const bar of chart.querySelectorAll("[data-hour-index]")) {
      bar.setAttribute("aria-pressed", String(Number(bar.dataset.hourIndex) === index));
    }
    const bucket = buckets[index];
    if (!bucket) {
      fill(detail);
      detail.hidden = true;
      return;
    }
    detail.hidden = false;
    fill(detail, el("h4", {}, hourLabel(bucket)),
      bucket.runs.length ? el("ul", { class: "plain hour-runs" }, bucket.runs.map((r) => el("li",
        { class: r.overlap ? "overlap" : null, dataset: { scheduleId: r.scheduleId } },
        el("time", { datetime: r.at }, formatInstant(r.at)), " · ", el("strong", {}, r.name),
        r.overlap ? el("span", { class: "badge badge-conflict" }, "same minute") : null)))
        : el("p", { class: "muted" }, "No runs in this hour."));
  }

  function render(answer) {
    buckets = bucketRuns(answer);
    const crowded = crowdedAt(buckets);
    const most = Math.max(1, ...buckets.map((b) => b.runs.length));
    const [barWidth, height, top] = [6, 60, 10];
    const nodes = [];
    buckets.forEach((bucket, i) => {
      const date = new Date(bucket.start);
      if (date.getHours() === 0 || i === 0) {
        nodes.push(svg("line", { x1: i * barWidth, x2: i * barWidth, y1: 0, y2: height + top, class: "tl-day" }));
        nodes.push(svg("text", { x: i * barWidth + 2, y: height + top + 12, class: "tl-label" }, formatDay(date)));
      }
      const count = bucket.runs.length;
      const h = count ? Math.max(3, Math.round((count / most) * height)) : 0;
      const overlaps = bucket.runs.some((r) => r.overlap);
      const kind = count >= crowded ? "tl-crowded" : "tl-bar";
      const bar = svg("g", { class: `tl-hour${overlaps ? " tl-has-overlap" : ""}`, tabindex: count ? 0 : -1,
        role: "button", "aria-label": hourLabel(bucket), "aria-pressed": "false", "data-hour-index": i,
        "data-hour": new Date(bucket.start).toISOString(), "data-count": count, "data-overlaps": overlaps ? 1 : 0 },
      svg("title", {}, hourLabel(bucket)),
      svg("rect", { x: i * barWidth, y: 0, width: barWidth, height: height + top, class: "tl-hit" }),
      count ? svg("rect", { x: i * barWidth + 0.5, y: top + height - h, width: barWidth - 1, height: h, class: kind })
        : null,
      overlaps ? svg("circle", { cx: i * barWidth + barWidth / 2, cy: top + height - h - 4, r: 2.2, class: "tl-overlap" })
        : null);
      nodes.push(bar);
    });
    fill(chart, svg("svg", { viewBox: `0 0 ${buckets.length * barWidth} ${height + top + 16}`,
      preserveAspectRatio: "none", class: "timeline-svg", role: "group",
      "aria-label": `Runs per hour for the next 7 days (${LOCAL_ZONE})` }, ...nodes.filter(Boolean)));
    const total = buckets.reduce((sum, b) => sum + b.runs.length, 0);
    const crowdedHours = buckets.filter((b) => b.runs.length >= crowded).length;
    const overlapHours = buckets.filter((b) => b.runs.some((r) => r.overlap)).length;
    summary.textContent = `${total.toLocaleString()} run${total === 1 ? "" : "s"} in the next 7 days` +
      ` · hours in ${LOCAL_ZONE}` + (crowdedHours ? ` · ${crowdedHours} crowded hour${crowdedHours === 1 ? "" : "s"} ` +
      `(${crowded}+ runs)` : "") + (overlapHours ? ` · same-minute runs in ${overlapHours} hour` +
      `${overlapHours === 1 ? "" : "s"}` : "") + (answer.complete ? "" : " · not every run is shown (too many to count at once)");
    showHour(selected !== null && buckets[selected]?.runs.length ? selected : null);
  }

  function pick(event) {
    const bar = event.target.closest?.("[data-hour-index]");
    if (bar && Number(bar.dataset.count) > 0) showHour(Number(bar.dataset.hourIndex));
  }
  chart.addEventListener("click", pick);
  chart.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      pick(event);
    }
  });

  return { render };
}
