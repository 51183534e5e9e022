// Selecting schedules (checkboxes, or everything with a tag) and enabling/disabling them at once.

import { all, post } from "./api.js";
import { $ } from "./dom.js";
import { guarded, toast } from "./notify.js";

const FINISHED = new Set(["completed", "expired"]);

/** The set of selected schedules (id -> {name, status}); `onChange` runs after every change. */
export function createSelection(onChange) {
  const picked = new Map();
  const remember = (s) => picked.set(s.schedule_id, { name: s.name, status: s.status });
  return {
    has: (id) => picked.has(id),
    get size() { return picked.size; },
    entries: () => Array.from(picked, ([id, s]) => ({ id, ...s })),
    /** Selects (on) or unselects a list of schedules. */
    set(schedules, on) {
      for (const s of schedules) {
        if (on) remember(s); else picked.delete(s.schedule_id);
      }
      onChange();
    },
    clear() {
      picked.clear();
      onChange();
    },
  };
}

/** Wires the bulk bar in `bar`; `afterChange()` reloads what the page shows. */
export function setUpBulk(bar, { selection, afterChange }) {
  async function apply(action, label) {
    const targets = selection.entries().filter((s) => !FINISHED.has(s.status));
    const names = new Map(targets.map((s) => [s.id, s.name]));
    // One request for them all (POST /schedules/bulk): each change audited, the rest go on when one fails.
    const result = targets.length
      ? await post("/schedules/bulk", { action, schedule_ids: targets.map((s) => s.id) })
      : { matched: 0, changed: 0, errors: [] };
    const finished = selection.size - targets.length;
    const notes = [`${label} ${targets.length - result.errors.length} of ${selection.size}`];
    if (finished) notes.push(`${finished} completed or expired left as they are`);
    for (const e of result.errors) notes.push(`${names.get(e.schedule_id) || e.schedule_id}: ${e.error}`);
    toast(notes.join("; "), result.errors.length ? "error" : "ok");
    selection.clear();
    await afterChange();
  }

  $("[data-bulk-enable]", bar).addEventListener("click", guarded(() => apply("resume", "Enabled")));
  $("[data-bulk-disable]", bar).addEventListener("click", guarded(() => apply("pause", "Disabled")));
  $("[data-bulk-clear]", bar).addEventListener("click", () => selection.clear());
  $("[data-bulk-tag]", bar).addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const tag = event.target.elements.tag.value.trim();
    if (!tag) return;
    const found = await all("/schedules", { tag });
    selection.set(found, true);
    toast(`Selected ${found.length} schedule${found.length === 1 ? "" : "s"} tagged “${tag}”`, "ok");
  }));

  return function render() {
    $("[data-bulk-count]", bar).textContent = `${selection.size} selected`;
    for (const button of bar.querySelectorAll("[data-bulk-enable], [data-bulk-disable], [data-bulk-clear]")) {
      button.disabled = selection.size === 0;
    }
  };
}
