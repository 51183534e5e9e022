// The dashboard: sign-in, then the scheduler widget and two pages, schedules and workflows, with their
// dialogs (schedule form, history, run detail, workflow form, import).

import { all, del, onUnauthorized, post, request, session } from "./api.js";
import { createSelection, setUpBulk } from "./bulk.js";
import { $, $$ } from "./dom.js";
import { createScheduleForm } from "./form.js";
import { createHistory } from "./history.js";
import { createScheduleList } from "./list.js";
import { createRunDetail } from "./run.js";
import { confirmAction, guarded, toast } from "./notify.js";
import { ImportFileError, createImporter, exportSchedules, readDocument } from "./portability.js";
import { createSchedulerWidget } from "./scheduler.js";
import { hideSignIn, setUpSignIn, showSignIn } from "./signin.js";
import { countdown } from "./time.js";
import { createWorkflows } from "./workflows.js";

let me = null;
let workflows = [];
let timers = [];

const workflowName = (id) => workflows.find((w) => w.workflow_id === id)?.name || `workflow ${id.slice(0, 8)}`;

async function loadWorkflows() {
  workflows = await all("/workflows");
}

async function refreshAll() {
  await Promise.all([list.load(), scheduler.refresh()]);
}

const runDetail = createRunDetail($("#run-dialog"), { onOpenSchedule: (id) => guarded(history.open)(id) });
const history = createHistory($("#history-dialog"), { onOpenRun: (id) => runDetail.open(id) });
const scheduler = createSchedulerWidget($("#scheduler"), { onOpenRun: (id) => guarded(runDetail.open)(id) });
const workflowPage = createWorkflows($("#workflows"), $("#workflow-dialog"), {
  who: () => me,
  onOpenSchedule: (id) => guarded(history.open)(id),
  async onChanged() {
    await loadWorkflows();
    await refreshAll();
  },
});

const VIEWS = ["schedules", "workflows"];

/** Shows one page (from the address's #fragment); the workflows page is read when it is shown. */
function showView(name) {
  const view = VIEWS.includes(name) ? name : "schedules";
  for (const v of VIEWS) $(`#${v}`).hidden = v !== view;
  for (const link of $$("[data-view]")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view === "workflows" && me) guarded(workflowPage.load)();
}
window.addEventListener("hashchange", () => showView(window.location.hash.slice(1)));
const selection = createSelection(() => {
  renderBulk();
  list.syncSelection();
});
const renderBulk = setUpBulk($("[data-bulk]"), { selection, afterChange: refreshAll });
const form = createScheduleForm($("#schedule-dialog"), {
  workflows: () => workflows, who: () => me, onSaved: refreshAll,
});

const list = createScheduleList($("#schedules"), {
  workflowName,
  selection,
  actions: {
    async toggle(schedule, on) {
      await post(`/schedules/${schedule.schedule_id}/${on ? "resume" : "pause"}`);
      toast(`${on ? "Enabled" : "Disabled"} “${schedule.name}”`, "ok");
      await refreshAll();
    },
    async run(schedule) {
      await post(`/schedules/${schedule.schedule_id}/run`);
      toast(`Started a run of “${schedule.name}”; see its history`, "ok");
      setTimeout(guarded(list.load), 1500);
    },
    history: (schedule) => history.open(schedule.schedule_id),
    async workflow(schedule) {
      window.location.hash = "workflows";
      await workflowPage.show(schedule.workflow_id);
    },
    async edit(schedule) {
      await loadWorkflows();
      await form.open("edit", schedule);
    },
    async clone(schedule) {
      await loadWorkflows();
      await form.open("clone", schedule);
    },
    async delete(schedule) {
      const sure = await confirmAction(
        `Delete “${schedule.name}”? It stops firing at once and leaves this list.`, "Delete schedule");
      if (!sure) return;
      await del(`/schedules/${schedule.schedule_id}`);
      selection.set([schedule], false);
      toast(`Deleted “${schedule.name}”`, "ok");
      await refreshAll();
    },
  },
});

function tick() {
  const now = Date.now();
  for (const node of $$("[data-countdown]")) node.textContent = countdown(node.dataset.countdown, now);
  list.tick(now);
}

function every(ms, task) {
  timers.push(setInterval(() => {
    if (!document.hidden) guarded(task)();
  }, ms));
}

function stop() {
  timers.forEach(clearInterval);
  timers = [];
  for (const dialog of $$("dialog[open]")) dialog.close();
}

async function start(who) {
  me = who;
  hideSignIn();
  $("[data-who-name]").textContent = who.name;
  $("[data-who-scope]").textContent = who.community_id ? `community ${who.community_id}` : "all communities";
  selection.clear();
  stop();
  every(1000, tick);
  every(10000, scheduler.refresh);
  every(30000, list.load);
  await loadWorkflows();
  await refreshAll();
  showView(window.location.hash.slice(1));
}

onUnauthorized(() => {
  stop();
  showSignIn("Your API key was not accepted (401). Sign in again.");
});
setUpSignIn(guarded(start));

$("[data-sign-out]").addEventListener("click", () => {
  stop();
  showSignIn();
});
$("[data-new]").addEventListener("click", guarded(async () => {
  await loadWorkflows();
  await form.open("create");
}));
$("[data-export]").addEventListener("click", guarded(async () => {
  const { schedules } = await exportSchedules(list.filters());
  toast(`Exported ${schedules.length} schedule${schedules.length === 1 ? "" : "s"} (every one the filters match)`, "ok");
}));
const importer = createImporter($("#import-dialog"), { afterImport: refreshAll });
const importInput = $("[data-import-file]");
$("[data-import]").addEventListener("click", () => importInput.click());
importInput.addEventListener("change", guarded(async () => {
  const [file] = importInput.files;
  importInput.value = "";
  if (!file) return;
  let document_;
  try {
    document_ = await readDocument(file);
  } catch (error) {
    if (!(error instanceof ImportFileError)) throw error;
    toast(`Nothing imported: ${error.message}`, "error");
    return;
  }
  await importer.open(document_);
}));

if (session.key) {
  guarded(async () => start(await request("GET", "/whoami")))();
} else {
  showSignIn();
}
