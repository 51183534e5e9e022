// The schedule list: filters, paging, rows and their actions. Rows are re-read from the API after
// every change; nothing is edited locally except the switch the user just flipped.

import { get } from "./api.js";
import { createTimeline } from "./charts.js";
import { $, $$, debounce, fill } from "./dom.js";
import { guarded } from "./notify.js";
import { scheduleRow } from "./table.js";

/**
 * The list inside `root`.
 * actions: async { toggle(schedule, on), run, history, edit, clone, delete } (each gets the schedule)
 * selection: { has(id), set(schedules, on) }; its owner calls `syncSelection()` after each change
 */
export function createScheduleList(root, { workflowName, selection, actions }) {
  const state = { q: "", status: "", schedule_type: "", tag: "", limit: 50, offset: 0 };
  const rows = $("[data-rows]", root);
  const selectAll = $("[data-select-all]", root);
  let page = { items: [], total: 0 };
  let recent = new Map();
  const names = new Map();  // schedule id -> name, for after schedules whose upstream is not on this page
  const timeline = createTimeline($("[data-timeline]", root));
  let sequence = 0;
  let loadedAt = 0;

  const byId = (id) => page.items.find((s) => s.schedule_id === id);

  async function load() {
    const mine = ++sequence;
    // The timeline and the sparklines are of the very schedules this page shows (same filters and page).
    const [data, runs, upcoming] = await Promise.all([get("/schedules", state),
      get("/schedules/recent-runs", state), get("/schedules/timeline", state)]);
    if (mine !== sequence) return;
    if (data.items.length === 0 && state.offset > 0 && data.total > 0) {
      state.offset = Math.floor((data.total - 1) / state.limit) * state.limit;
      await load();
      return;
    }
    page = data;
    recent = new Map(runs.items.map((i) => [i.schedule_id, i.runs]));
    for (const s of page.items) names.set(s.schedule_id, s.name);
    const missing = [...new Set(page.items.filter((s) => s.after && !names.has(s.after.schedule_id))
      .map((s) => s.after.schedule_id))];
    await Promise.all(missing.map(async (id) => {
      try {
        names.set(id, (await get(`/schedules/${id}`)).name);
      } catch {
        names.set(id, id);  // gone, or out of reach: its id
      }
    }));
    if (mine !== sequence) return;
    loadedAt = Date.now();
    render();
    timeline.render(upcoming);
  }

  function render() {
    const scheduleName = (id) => names.get(id) || id;
    fill(rows, page.items.map((s) => scheduleRow(s, { workflowName, scheduleName,
      selected: selection.has(s.schedule_id), recent: recent.get(s.schedule_id) })));
    const empty = $("[data-empty]", root);
    const filtered = state.q || state.status || state.schedule_type || state.tag;
    empty.textContent = filtered
      ? "No schedule matches these filters." : "No schedules yet. Create one with “New schedule”.";
    empty.hidden = page.items.length > 0;
    const [first, last] = [page.total ? state.offset + 1 : 0, state.offset + page.items.length];
    $("[data-range]", root).textContent =
      `${first.toLocaleString()}–${last.toLocaleString()} of ${page.total.toLocaleString()}`;
    $("[data-page=prev]", root).disabled = state.offset === 0;
    $("[data-page=next]", root).disabled = state.offset + state.limit >= page.total;
    syncSelection();
  }

  function syncSelection() {
    for (const box of $$("[data-select]", rows)) box.checked = selection.has(box.closest("tr").dataset.id);
    const picked = page.items.filter((s) => selection.has(s.schedule_id)).length;
    selectAll.checked = picked > 0 && picked === page.items.length;
    selectAll.indeterminate = picked > 0 && picked < page.items.length;
  }

  function setFilter(name, value) {
    state[name] = value.trim();
    state.offset = 0;
    guarded(load)();
  }

  const typed = debounce(setFilter, 300);
  const filters = $("[data-filters]", root);
  filters.addEventListener("submit", (event) => event.preventDefault());
  filters.addEventListener("input", (event) => {
    if (event.target.matches("input")) typed(event.target.name, event.target.value);
  });
  filters.addEventListener("change", (event) => {
    if (event.target.matches("select")) setFilter(event.target.name, event.target.value);
  });

  $("[data-limit]", root).addEventListener("change", (event) => {
    state.limit = Number(event.target.value);
    state.offset = 0;
    guarded(load)();
  });
  for (const button of $$("[data-page]", root)) {
    button.addEventListener("click", guarded(async () => {
      const step = button.dataset.page === "next" ? state.limit : -state.limit;
      state.offset = Math.max(0, state.offset + step);
      await load();
    }));
  }

  rows.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const schedule = byId(button.closest("tr").dataset.id);
    guarded(actions[button.dataset.action])(schedule);
  });
  rows.addEventListener("change", guarded(async (event) => {
    const box = event.target;
    const schedule = byId(box.closest("tr").dataset.id);
    if (box.matches("[data-select]")) {
      selection.set([schedule], box.checked);
    } else if (box.matches("[data-action=toggle]")) {
      box.disabled = true;
      try {
        await actions.toggle(schedule, box.checked);
      } catch (error) {
        box.checked = !box.checked;
        throw error;
      } finally {
        box.disabled = false;
      }
    }
  }));
  selectAll.addEventListener("change", () => {
    selection.set(page.items, selectAll.checked);
  });

  /** Reloads once when a visible active schedule's next run has just passed. */
  function tick(now) {
    const crossed = page.items.some((s) => s.is_active && s.next_execution_at &&
      Date.parse(s.next_execution_at) <= now - 1000 && Date.parse(s.next_execution_at) > loadedAt - 1000);
    if (crossed && now - loadedAt > 2000) guarded(load)();
  }

  /** The filters the list shows (what an export takes). */
  const shownFilters = () => ({ q: state.q, status: state.status, schedule_type: state.schedule_type, tag: state.tag });

  /** Shows only the schedules whose name holds `text` (the search box says so too). */
  function search(text) {
    const box = $("[data-filters] [name=q]", root);
    box.value = text;
    setFilter("q", text);
  }

  return { load, tick, syncSelection, search, filters: shownFilters };
}
