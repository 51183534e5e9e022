// Export every schedule matching the list's filters (GET /schedules/export) and import such a file
// (POST /schedules/import): a dry run first shows what would happen, then Import applies it whole.

import { ApiError, get, request } from "./api.js";
import { $, download, el, fill } from "./dom.js";
import { guarded } from "./notify.js";

/** Downloads every schedule matching `filters` (and the workflows they use); answers the document. */
export async function exportSchedules(filters) {
  const document_ = await get("/schedules/export", filters);
  const stamp = document_.exported_at.slice(0, 19).replace(/[:T]/g, "-");
  download(`schedules-${stamp}.json`, JSON.stringify(document_, null, 2));
  return document_;
}

/** A file that is not an export document. */
export class ImportFileError extends Error {}

/** The import document in a file: an export, or (older files) a bare list of schedules. */
export async function readDocument(file) {
  let parsed;
  try {
    parsed = JSON.parse(await file.text());
  } catch (error) {
    throw new ImportFileError(`the file is not JSON (${error.message})`);
  }
  const schedules = Array.isArray(parsed) ? parsed : parsed?.schedules;
  if (!Array.isArray(schedules)) {
    throw new ImportFileError("the file has no \"schedules\" list; export one from this page");
  }
  return { version: 1, schedules, workflows: Array.isArray(parsed?.workflows) ? parsed.workflows : [] };
}

const send = (document_, mode, dryRun) =>
  request("POST", "/schedules/import", { body: document_, query: { mode, dry_run: dryRun } });

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** One report row per schedule the answer names, in file order. */
function resultRows(document_, answer, done) {
  const rowOf = new Map();
  document_.schedules.forEach((s, index) => {
    if (s && typeof s.name === "string" && !rowOf.has(s.name)) rowOf.set(s.name, index + 1);
  });
  const rows = [
    ...answer.created.map((name) => ({ name, result: done ? "created" : "create", detail: "a new schedule" })),
    ...answer.updated.map((name) => ({ name, result: done ? "updated" : "update", detail: "same name: its fields change" })),
    ...answer.unchanged.map((name) => ({ name, result: "unchanged", detail: "already as in the file" })),
  ].map((r) => ({ ...r, row: rowOf.get(r.name) ?? "" }));
  rows.push(...answer.skipped.map((s) => ({ row: s.index + 1, name: s.name ?? "", result: "skipped", detail: s.reason })));
  return rows.sort((a, b) => (a.row || 0) - (b.row || 0));
}

/** One report row per problem the API named (`schedules[3].cron_expression: ...`). */
function problemRows(document_, error) {
  const entries = Object.entries(error.details);
  if (!entries.length || ![400, 403].includes(error.status)) return [{ row: "", name: "", result: "problem", detail: error.message }];
  return entries.map(([where, problem]) => {
    const match = /^(schedules|workflows)\[(\d+)\]\.?(.*)$/.exec(where);
    if (!match) return { row: "", name: "", result: "problem", detail: `${where}: ${problem}` };
    const entry = document_[match[1]][Number(match[2])];
    const name = entry && typeof entry.name === "string" ? entry.name : "";
    const row = match[1] === "schedules" ? Number(match[2]) + 1 : `workflow ${Number(match[2]) + 1}`;
    return { row, name, result: "problem", detail: match[3] ? `${match[3]}: ${problem}` : problem };
  });
}

/** The import dialog in `dialog`; `afterImport()` runs once an import has changed something. */
export function createImporter(dialog, { afterImport }) {
  const mode = $("[data-import-mode]", dialog);
  const apply = $("[data-import-apply]", dialog);
  const summary = $("[data-import-summary]", dialog);
  const rows = $("[data-import-rows]", dialog);
  const leave = $("[data-import-leave]", dialog);
  let current = null;

  function show(text, list) {
    summary.textContent = text;
    fill(rows, list.map((r) => el("tr", {},
      el("td", { dataset: { label: "Row" } }, String(r.row)),
      el("td", { dataset: { label: "Name" } }, r.name),
      el("td", { dataset: { label: "Result" } }, el("span", { class: `badge badge-${r.result}` }, r.result)),
      el("td", { dataset: { label: "Detail" } }, r.detail))));
  }

  function refused(error) {
    if (!(error instanceof ApiError) || error.status === 401) throw error;
    const found = problemRows(current, error);
    show(`Nothing can be imported: ${plural(found.length, "problem")}. Fix the file, or choose what happens to ` +
      "names in use, and try again.", found);
    apply.disabled = true;
  }

  async function preview() {
    apply.disabled = true;
    apply.hidden = false;
    leave.textContent = "Cancel";
    mode.disabled = false;
    summary.textContent = "Checking the file…";
    try {
      const answer = await send(current, mode.value, true);
      const workflows = answer.workflows_created.length
        ? ` Workflows to create: ${answer.workflows_created.join(", ")}.` : "";
      show(`Ready: ${plural(answer.created.length, "schedule")} to create, ${answer.updated.length} to update, ` +
        `${answer.unchanged.length} unchanged, ${answer.skipped.length} skipped.${workflows} ` +
        "Nothing changes until you press Import.", resultRows(current, answer, false));
      apply.disabled = answer.created.length + answer.updated.length + answer.workflows_created.length === 0;
    } catch (error) {
      refused(error);
    }
  }

  async function run() {
    apply.disabled = true;
    mode.disabled = true;
    try {
      const answer = await send(current, mode.value, false);
      show(`Imported: ${answer.created.length} created, ${answer.updated.length} updated, ` +
        `${answer.unchanged.length} unchanged, ${answer.skipped.length} skipped.`, resultRows(current, answer, true));
      apply.hidden = true;
      leave.textContent = "Done";
      await afterImport();
    } catch (error) {
      refused(error);
    }
  }

  mode.addEventListener("change", guarded(preview));
  apply.addEventListener("click", guarded(run));
  for (const close of dialog.querySelectorAll("[data-close]")) close.addEventListener("click", () => dialog.close());

  return {
    /** Opens the dialog on a document and shows its dry run. */
    async open(document_) {
      current = document_;
      mode.value = "create";
      fill(rows);
      dialog.showModal();
      await preview();
    },
  };
}
