// Export the visible schedules as JSON, import such a file (new ids, names kept), report row by row.

import { ApiError, eachLimited, post } from "./api.js";
import { $, download, el, fill } from "./dom.js";
import { SPEC_FIELDS, specOf } from "./spec.js";

const FORMAT = "workflow_core_module/schedules";

/** Downloads `schedules` as an export file. */
export function exportSchedules(schedules) {
  const stamp = new Date().toISOString();
  const document_ = { format: FORMAT, version: 1, exported_at: stamp,
    schedules: schedules.map((s) => ({ ...specOf(s), status: s.status })) };
  download(`schedules-${stamp.slice(0, 19).replace(/[:T]/g, "-")}.json`, JSON.stringify(document_, null, 2));
}

/** A file that is not an export of this page. */
export class ImportFileError extends Error {}

/** The schedule entries of an export file's text. */
function entriesOf(text) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ImportFileError(`the file is not JSON (${error.message})`);
  }
  const entries = Array.isArray(parsed) ? parsed : parsed?.schedules;
  if (!Array.isArray(entries)) {
    throw new ImportFileError("the file has no \"schedules\" list; export one from this page");
  }
  return entries;
}

function outcomeOf(error) {
  if (!(error instanceof ApiError)) return { result: "failed", detail: error.message };
  const fields = Object.entries(error.details).map(([k, v]) => `${k}: ${v}`).join("; ");
  return { result: error.status === 409 ? "conflict" : "rejected", detail: fields || error.message };
}

async function importEntry(entry) {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new Error("not a schedule object");
  const spec = Object.fromEntries(SPEC_FIELDS.filter((f) => f in entry).map((f) => [f, entry[f]]));
  const created = await post("/schedules", spec);
  let detail = `new id ${created.schedule_id}`;
  if (entry.status === "paused") {
    try {
      await post(`/schedules/${created.schedule_id}/pause`);
      detail += ", paused as exported";
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw error;
      detail += `, left active: pausing failed (${error.message})`;
    }
  }
  return detail;
}

/** Imports the file's schedules (a few at a time) and answers one report row per entry. */
export async function importSchedules(file) {
  const entries = entriesOf(await file.text());
  const results = await eachLimited(entries, 4, importEntry);
  return results.map(({ item, value, error }, index) => ({
    row: index + 1,
    name: (item && typeof item.name === "string") ? item.name : "(no name)",
    ...(value ? { result: "created", detail: value } : outcomeOf(error)),
  }));
}

/** Shows the import report in `dialog`. */
export function showImportReport(dialog, rows) {
  const created = rows.filter((r) => r.result === "created").length;
  $("[data-import-summary]", dialog).textContent =
    `${created} of ${rows.length} imported${rows.length > created ? `, ${rows.length - created} not imported` : ""}.`;
  fill($("[data-import-rows]", dialog), rows.map((r) => el("tr", {},
    el("td", { dataset: { label: "Row" } }, String(r.row)),
    el("td", { dataset: { label: "Name" } }, r.name),
    el("td", { dataset: { label: "Result" } }, el("span", { class: `badge badge-${r.result}` }, r.result)),
    el("td", { dataset: { label: "Detail" } }, r.detail))));
  dialog.showModal();
}
