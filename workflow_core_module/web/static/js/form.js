// The create / edit / clone dialog: fields, cron templates, live preview and the API's errors inline.

import { ApiError, get, post, put } from "./api.js";
import { $, $$, debounce, el, fill } from "./dom.js";
import { guarded, toast } from "./notify.js";
import { createPreview } from "./preview.js";
import { CRON_TEMPLATES, TIMING_FIELDS, readForm, writeForm } from "./spec.js";
import { toZoneInput, zoneNames } from "./time.js";

const TITLES = { create: "New schedule", edit: "Edit schedule", clone: "Clone schedule" };

/** The field an input reports errors for (the interval's two inputs share one). */
const fieldOf = (control) => control.closest("[data-field]")?.dataset.field || control.name;

/**
 * The form in `dialog`. `workflows()` lists the workflows to pick from, `who` is /whoami,
 * `onSaved(schedule)` runs after a successful save.
 */
export function createScheduleForm(dialog, { workflows, who, onSaved }) {
  const form = $("form", dialog);
  const general = $("[data-form-error]", form);
  let editingId = null;

  function showErrors(details, only = null) {
    const byField = {};
    for (const [key, message] of Object.entries(details)) {
      const dot = key.indexOf(".");  // alerts.channels[0].url: the part of the field that is wrong
      byField[dot < 0 ? key : key.slice(0, dot)] = dot < 0 ? message : `${key.slice(dot + 1)}: ${message}`;
    }
    for (const slot of $$("[data-error-for]", form)) {
      const name = slot.dataset.errorFor;
      if (only && !only.includes(name)) continue;
      slot.textContent = byField[name] || "";
      slot.hidden = !byField[name];
      for (const control of $$(`[name="${name}"], [data-field="${name}"] input`, form)) {
        control.toggleAttribute("aria-invalid", Boolean(byField[name]));
      }
      delete byField[name];
    }
    if (!only) {
      const rest = Object.entries(byField).map(([key, message]) => `${key}: ${message}`);
      general.textContent = rest.join("; ");
      general.hidden = rest.length === 0;
    }
  }

  const preview = createPreview($("[data-preview]", dialog), { showErrors: (d) => showErrors(d, TIMING_FIELDS) });

  function showType() {
    const type = form.elements.schedule_type.value;
    for (const part of $$("[data-type]", form)) part.hidden = part.dataset.type !== type;
    $("[data-calendar-field]", form).hidden = type === "after";  // an after schedule has no time of its own
  }

  /** The schedules an after schedule may run after (all but the one being edited), by name. */
  async function fillUpstreams(selected) {
    const select = form.elements.after_schedule_id;
    const page = await get("/schedules", { limit: 500 });
    const others = page.items.filter((s) => s.schedule_id !== editingId);
    if (selected && !others.some((s) => s.schedule_id === selected)) {
      others.push({ schedule_id: selected, name: selected });  // out of this page: shown by its id
    }
    fill(select, [el("option", { value: "" }, "Pick a schedule"),
      ...others.map((s) => el("option", { value: s.schedule_id, selected: s.schedule_id === selected }, s.name))]);
  }

  /** Previews what the form holds now (client-side problems with the timing are shown instead). */
  async function refreshPreview() {
    if (!dialog.open) return;
    const { spec, errors } = readForm(form);
    const timingErrors = Object.fromEntries(Object.entries(errors).filter(([k]) => TIMING_FIELDS.includes(k)));
    if (Object.keys(timingErrors).length) {
      preview.clear();
      showErrors(timingErrors, TIMING_FIELDS);
      return;
    }
    await preview.run(spec, editingId);
  }
  const refreshSoon = debounce(guarded(refreshPreview), 400);

  // "When, in words": the phrase is read by POST /schedules/preview (the chat's reader, in the form's
  // zone) and the timing fields it became are filled in; an unreadable phrase shows the reader's hint.
  const whenStatus = $("[data-when-status]", form);
  const whenHint = whenStatus.textContent;
  let whenSequence = 0;
  let fromWords = new Set();  // the optional fields the last phrase filled (cleared by the next one)

  function applyTiming(timing) {
    const f = form.elements;
    const zone = f.timezone.value.trim() || "UTC";
    for (const name of fromWords) if (!(name in timing)) f[name].value = "";
    fromWords = new Set();
    f.schedule_type.value = timing.schedule_type;
    if (timing.cron_expression !== undefined) f.cron_expression.value = timing.cron_expression;
    if (timing.rrule !== undefined) f.rrule.value = timing.rrule;
    if (timing.interval_seconds !== undefined) {
      const unit = [86400, 3600, 60, 1].find((u) => timing.interval_seconds % u === 0);
      f.interval_value.value = String(timing.interval_seconds / unit);
      f.interval_unit.value = String(unit);
    }
    if (timing.scheduled_time !== undefined) f.scheduled_time.value = toZoneInput(timing.scheduled_time, zone);
    for (const name of ["start_date", "end_date"]) {
      if (timing[name] !== undefined) {
        f[name].value = toZoneInput(timing[name], zone);
        fromWords.add(name);
      }
    }
    if (timing.max_executions !== undefined) {
      f.max_executions.value = String(timing.max_executions);
      fromWords.add("max_executions");
    }
    showType();
    showErrors({}, TIMING_FIELDS);
  }

  async function readWhen() {
    const mine = ++whenSequence;
    const phrase = form.elements.when_words.value.trim();
    const error = $('[data-error-for="when"]', form);
    if (!phrase) {
      error.hidden = true;
      form.elements.when_words.removeAttribute("aria-invalid");
      whenStatus.textContent = whenHint;
      return;
    }
    const timezone = form.elements.timezone.value.trim() || "UTC";
    try {
      const answer = await post("/schedules/preview", { when: phrase, timezone, count: 1 });
      if (mine !== whenSequence || !dialog.open) return;
      applyTiming(answer.timing || {});
      error.hidden = true;
      form.elements.when_words.removeAttribute("aria-invalid");
      whenStatus.textContent = `Read as: ${answer.description} (${timezone})`;
      await refreshPreview();
    } catch (problem) {
      if (mine !== whenSequence) return;
      if (!(problem instanceof ApiError) || problem.status !== 400) throw problem;
      const message = problem.details.when || problem.details.timezone || problem.message;
      error.textContent = message;
      error.hidden = false;
      form.elements.when_words.setAttribute("aria-invalid", "");
      whenStatus.textContent = "The fields below keep what they had.";
    }
  }
  const readWhenSoon = debounce(guarded(readWhen), 400);

  function fillWorkflows(selected) {
    const list = workflows();
    fill(form.elements.workflow_id, list.length
      ? list.map((w) => el("option", { value: w.workflow_id, selected: w.workflow_id === selected },
        w.is_active ? w.name : `${w.name} (inactive)`))
      : el("option", { value: "" }, "No workflows yet: create one through the API"));
  }

  fill($("[data-templates]", form), CRON_TEMPLATES.map((t) => el("button", {
    type: "button", class: "chip", dataset: { cron: t.cron }, title: t.cron }, t.label)));
  fill($("#zone-list"), zoneNames().map((z) => el("option", { value: z })));

  $("[data-templates]", form).addEventListener("click", (event) => {
    const button = event.target.closest("[data-cron]");
    if (!button) return;
    form.elements.cron_expression.value = button.dataset.cron;
    form.elements.cron_expression.dispatchEvent(new Event("input", { bubbles: true }));
  });
  form.addEventListener("input", (event) => {
    if (event.target.name === "when_words") {
      readWhenSoon();
      return;
    }
    if (event.target.name === "timezone" && form.elements.when_words.value.trim()) readWhenSoon();
    const field = fieldOf(event.target);
    if (event.target.name === "schedule_type") showType();
    if (event.target.name === "alerts_enabled") $("[data-alerts-detail]", form).hidden = !event.target.checked;
    showErrors({}, [field]);
    if (field === "context_data") showErrors(readForm(form).errors, ["context_data"]);
    refreshSoon();
  });
  for (const close of $$("[data-close]", dialog)) close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => preview.clear());

  form.addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const { spec, errors } = readForm(form);
    showErrors(errors);
    if (Object.keys(errors).length) return;
    const save = $("[type=submit]", form);
    save.disabled = true;
    try {
      const saved = editingId ? await put(`/schedules/${editingId}`, spec) : await post("/schedules", spec);
      dialog.close();
      toast(`Saved “${saved.name}”`, "ok");
      await onSaved(saved);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 401) throw error;
      showErrors(error.details);
      if (!Object.keys(error.details).length) {
        general.textContent = error.message;
        general.hidden = false;
      }
    } finally {
      save.disabled = false;
    }
  }));

  return {
    /** mode: "create" | "edit" | "clone"; `schedule` fills the form for edit and clone. */
    async open(mode, schedule = null) {
      editingId = mode === "edit" ? schedule.schedule_id : null;
      $("[data-form-title]", dialog).textContent = TITLES[mode];
      fillWorkflows(schedule?.workflow_id);
      await fillUpstreams(schedule?.after?.schedule_id);
      writeForm(form, mode === "clone" ? { ...schedule, name: `${schedule.name} (copy)` } : schedule);
      const community = form.elements.community_id;
      community.disabled = !who().is_global || mode === "edit";
      community.closest(".field").hidden = !who().is_global;
      form.elements.when_words.value = "";
      fromWords = new Set();
      whenSequence += 1;
      $('[data-error-for="when"]', form).hidden = true;
      whenStatus.textContent = whenHint;
      showType();
      showErrors({});
      dialog.showModal();
      form.elements.name.focus();
      await refreshPreview();
    },
  };
}
