// Between the schedule form and the API's schedule spec (the body of POST/PUT /schedules).

import { LOCAL_ZONE, toZoneInput } from "./time.js";

/** The fields that shape when a schedule fires (what the preview needs), plus the workflow for overlaps. */
export const TIMING_FIELDS = [
  "workflow_id", "schedule_type", "cron_expression", "interval_seconds", "scheduled_time", "rrule", "calendar_id",
  "after", "timezone", "start_date", "end_date", "max_executions",
];

export const CRON_TEMPLATES = [
  { label: "Weekdays, hourly 08–23", cron: "0 8-23 * * 1-5" },
  { label: "Weekends at 09, 15, 21", cron: "0 9,15,21 * * 6,0" },
  { label: "Daily at 07:00", cron: "0 7 * * *" },
  { label: "Weekly, Sunday 02:00", cron: "0 2 * * 0" },
];

const UNITS = [86400, 3600, 60, 1];
const INTEGERS = ["max_executions", "grace_period_seconds", "jitter_seconds", "catchup_max", "timeout_seconds",
  "max_retries", "retry_backoff_seconds", "pause_after_failures"];
const DATES = ["start_date", "end_date"];

const naive = (value) => (value.length === 16 ? `${value}:00` : value);

function integer(value, field, errors) {
  const number = Number(value);
  if (!Number.isInteger(number)) errors[field] = "enter a whole number";
  return number;
}

/**
 * Reads the form: { spec, errors } where `errors` are the problems found before asking the API
 * (numbers that are not whole, context data that is not a JSON object).
 */
export function readForm(form) {
  const f = form.elements;
  const errors = {};
  const type = f.schedule_type.value;
  const spec = { name: f.name.value.trim(), workflow_id: f.workflow_id.value, schedule_type: type,
    description: f.description.value, overlap_policy: f.overlap_policy.value,
    catchup_policy: f.catchup_policy.value };
  if (type === "cron") spec.cron_expression = f.cron_expression.value.trim();
  if (type === "interval" && f.interval_value.value !== "") {
    spec.interval_seconds = integer(f.interval_value.value, "interval_seconds", errors) * Number(f.interval_unit.value);
  }
  if (type === "one_time" && f.scheduled_time.value) spec.scheduled_time = naive(f.scheduled_time.value);
  if (type === "rrule") spec.rrule = f.rrule.value.trim();
  if (type === "after" && f.after_schedule_id.value) {
    spec.after = { schedule_id: f.after_schedule_id.value, on: f.after_on.value };
  }
  if (type !== "after" && f.calendar_id.value.trim()) spec.calendar_id = f.calendar_id.value.trim();
  if (f.timezone.value.trim()) spec.timezone = f.timezone.value.trim();
  for (const name of DATES) if (f[name].value) spec[name] = naive(f[name].value);
  for (const name of INTEGERS) if (f[name].value !== "") spec[name] = integer(f[name].value, name, errors);
  const tags = f.tags.value.split(",").map((t) => t.trim()).filter(Boolean);
  spec.tags = Array.from(new Set(tags));
  if (f.context_data.value.trim()) {
    try {
      spec.context_data = JSON.parse(f.context_data.value);
    } catch (error) {
      errors.context_data = `not valid JSON: ${error.message}`;
    }
    if (!errors.context_data && (typeof spec.context_data !== "object" || spec.context_data === null ||
        Array.isArray(spec.context_data))) errors.context_data = "must be a JSON object, like {\"channel\": \"ops\"}";
  }
  if (f.callback_url.value.trim()) spec.callback_url = f.callback_url.value.trim();
  spec.alerts = readAlerts(form, errors);
  if (!f.community_id.disabled && f.community_id.value.trim()) spec.community_id = f.community_id.value.trim();
  return { spec, errors };
}

const ALERT_EVENTS = ["failure", "missed", "paused", "recovered", "success"];

/** The form's alert settings (null: none). Channels the form has no fields for (a second webhook
 * set over the API) are kept as they were. */
function readAlerts(form, errors) {
  const f = form.elements;
  if (!f.alerts_enabled.checked) return null;
  const alerts = { on: ALERT_EVENTS.filter((e) => form.querySelector(`[name=alerts_on][value=${e}]`).checked) };
  if (f.alerts_after.value !== "") alerts.after_consecutive = integer(f.alerts_after.value, "alerts", errors);
  if (f.alerts_repeat.value !== "") alerts.repeat_every_seconds = integer(f.alerts_repeat.value, "alerts", errors);
  const channels = [];
  if (f.alerts_chat.checked) {
    const entity = f.alerts_chat_entity.value.trim();
    channels.push({ ...(form.alertsKept?.chat || {}), type: "chat", ...(entity ? { entity_id: entity } : {}) });
    if (!entity) delete channels[0].entity_id;
  }
  if (f.alerts_webhook.value.trim()) channels.push({ type: "webhook", url: f.alerts_webhook.value.trim() });
  alerts.channels = channels.concat(form.alertsKept?.others || []);
  if (!alerts.channels.length) errors.alerts = "pick the chat or give a webhook URL (or switch alerts off)";
  return alerts;
}

/** Puts a schedule's alert settings into the form. */
function writeAlerts(form, alerts) {
  const f = form.elements;
  const channels = alerts?.channels || [];
  const chat = channels.find((c) => c.type === "chat");
  const webhook = channels.find((c) => c.type === "webhook");
  form.alertsKept = { chat, others: channels.filter((c) => c !== chat && c !== webhook) };
  f.alerts_enabled.checked = Boolean(alerts && alerts.enabled !== false);
  const on = alerts?.on || ["failure", "missed", "paused", "recovered"];
  for (const box of form.querySelectorAll("[name=alerts_on]")) box.checked = on.includes(box.value);
  f.alerts_after.value = alerts?.after_consecutive > 1 ? alerts.after_consecutive : "";
  f.alerts_repeat.value = alerts && alerts.repeat_every_seconds !== 3600 ? alerts.repeat_every_seconds ?? "" : "";
  f.alerts_chat.checked = Boolean(chat);
  f.alerts_chat_entity.value = chat?.entity_id || "";
  f.alerts_webhook.value = webhook?.url || "";
  form.querySelector("[data-alerts-detail]").hidden = !f.alerts_enabled.checked;
}

function intervalParts(seconds) {
  const unit = UNITS.find((u) => seconds % u === 0);
  return { value: String(seconds / unit), unit: String(unit) };
}

/** Puts a schedule (or the defaults for a new one) into the form. */
export function writeForm(form, schedule) {
  const f = form.elements;
  const s = schedule || { schedule_type: "cron", timezone: LOCAL_ZONE, overlap_policy: "skip", tags: [] };
  const zone = s.timezone || "UTC";
  f.name.value = s.name || "";
  f.workflow_id.value = s.workflow_id || f.workflow_id.options[0]?.value || "";
  f.community_id.value = s.community_id || "";
  f.description.value = s.description || "";
  f.schedule_type.value = s.schedule_type;
  f.cron_expression.value = s.cron_expression || "";
  f.rrule.value = s.rrule || "";
  f.calendar_id.value = s.calendar_id || "";
  f.after_schedule_id.value = s.after?.schedule_id || "";
  f.after_on.value = s.after?.on || "success";
  const interval = s.interval_seconds ? intervalParts(s.interval_seconds) : { value: "", unit: "60" };
  f.interval_value.value = interval.value;
  f.interval_unit.value = interval.unit;
  f.scheduled_time.value = toZoneInput(s.scheduled_time, zone);
  f.timezone.value = zone;
  for (const name of DATES) f[name].value = toZoneInput(s[name], zone);
  f.max_executions.value = s.max_executions ?? "";
  f.grace_period_seconds.value = s.grace_period_seconds ?? "";
  f.jitter_seconds.value = s.jitter_seconds || "";
  f.overlap_policy.value = s.overlap_policy || "skip";
  f.catchup_policy.value = s.catchup_policy || "latest";
  for (const name of ["catchup_max", "timeout_seconds", "max_retries", "retry_backoff_seconds",
    "pause_after_failures"]) f[name].value = s[name] ?? "";
  f.tags.value = (s.tags || []).join(", ");
  f.context_data.value = s.context_data && Object.keys(s.context_data).length
    ? JSON.stringify(s.context_data, null, 2) : "";
  f.callback_url.value = s.callback_url || "";
  writeAlerts(form, s.alerts);
}
