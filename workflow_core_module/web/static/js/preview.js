// The form's live preview: description, next 5 times and same-minute overlaps, from POST /schedules/preview.

import { ApiError, post } from "./api.js";
import { $, el, fill } from "./dom.js";
import { TIMING_FIELDS } from "./spec.js";
import { LOCAL_ZONE, formatInstant } from "./time.js";

const PRIMARY = { cron: "cron_expression", interval: "interval_seconds", one_time: "scheduled_time", rrule: "rrule",
  after: "after" };
const HINT = { cron: "Enter a cron expression or pick a template.", interval: "Enter how often it runs.",
  one_time: "Pick the date and time it runs.", rrule: "Enter a recurrence rule, like FREQ=WEEKLY;BYDAY=MO.",
  after: "Pick the schedule it runs after." };

function timeItem(iso, zone) {
  return el("li", {}, el("time", { datetime: iso }, formatInstant(iso)),
    zone !== LOCAL_ZONE ? el("small", { class: "muted" }, ` · ${formatInstant(iso, zone)} ${zone}`) : null);
}

function overlapItem(overlap) {
  const times = overlap.minutes === 1 ? "once" : `${overlap.minutes} times`;
  return el("li", {}, `“${overlap.name}” fires in the same minute ${times} in the next 7 days, first `,
    el("time", { datetime: overlap.first_at }, formatInstant(overlap.first_at)), ".");
}

/**
 * The preview in `panel`. `showErrors(details)` receives the API's field errors for the timing
 * fields (an empty object when the spec is valid).
 */
export function createPreview(panel, { showErrors }) {
  let sequence = 0;
  const description = $("[data-preview-description]", panel);
  const times = $("[data-preview-times]", panel);
  const warning = $("[data-overlap-warning]", panel);

  function render(text, items = [], overlaps = []) {
    description.textContent = text;
    fill(times, items);
    fill($("ul", warning), overlaps.map(overlapItem));
    warning.hidden = overlaps.length === 0;
  }

  async function run(spec, editingId) {
    const mine = ++sequence;
    if (spec[PRIMARY[spec.schedule_type]] === undefined || spec[PRIMARY[spec.schedule_type]] === "") {
      render(HINT[spec.schedule_type]);
      showErrors({});
      return;
    }
    const body = Object.fromEntries(TIMING_FIELDS.filter((f) => spec[f] !== undefined && spec[f] !== "")
      .map((f) => [f, spec[f]]));
    Object.assign(body, { count: 5 }, editingId ? { schedule_id: editingId } : {},
      spec.community_id ? { community_id: spec.community_id } : {});
    try {
      const answer = await post("/schedules/preview", body);
      if (mine !== sequence) return;
      const zone = spec.timezone || "UTC";
      render(answer.description, answer.times.map((t) => timeItem(t, zone)), answer.overlaps);
      if (answer.times.length === 0 && spec.schedule_type !== "after") {
        times.append(el("li", { class: "muted" }, "No future run."));
      }
      showErrors({});
    } catch (error) {
      if (mine !== sequence) return;
      if (!(error instanceof ApiError) || error.status !== 400) throw error;
      render("Fix the highlighted fields to see the next runs.");
      showErrors(error.details);
    }
  }

  return {
    /** Previews `spec` (the schedule being edited is `editingId`, left out of overlaps). */
    run,
    clear() {
      sequence += 1;
      render("");
    },
  };
}
