// A workflow's steps as forms generated from the actions' JSON schemas (GET /actions): one
// control per field (text, number, choice, or JSON for objects and free values), its description
// as a hint, its bounds as the control's own. An action without a schema (registered in Python by
// the operator) is kept as written and edited in the JSON view.

import { $, $$, el } from "./dom.js";

const TEXTAREAS = new Set(["message"]);

const title = (name, prop) => (prop.title || name).replace(/\bUrl\b/, "URL").replace(/\bId\b/, "ID")
  .replace(/ Seconds$/, " (s)");

/** The kind of control a schema property gets: "choice", "number", "json" or "text". */
function kindOf(prop) {
  if (prop.enum) return "choice";
  if (prop.type === "number" || prop.type === "integer") return "number";
  if (prop.type === "string") return "text";
  if (prop.anyOf && prop.anyOf.every((p) => p.type === "string" || p.type === "null")) return "text";
  return "json";  // objects, arrays, and values of any type (a request's body)
}

function control(id, name, prop, kind, required) {
  const common = { id, name, dataset: { stepField: name, kind }, required, "aria-describedby": `${id}-hint` };
  if (kind === "choice") {
    return el("select", common, required ? null : el("option", { value: "" }, `default (${prop.default ?? "none"})`),
      prop.enum.map((v) => el("option", { value: v }, v)));
  }
  if (kind === "number") {
    return el("input", { ...common, type: "number", step: "any", inputmode: "decimal",
      min: prop.minimum ?? prop.exclusiveMinimum, max: prop.maximum,
      placeholder: prop.default !== undefined && prop.default !== null ? String(prop.default) : null });
  }
  if (kind === "json") {
    return el("textarea", { ...common, rows: 3, class: "mono", spellcheck: "false",
      placeholder: prop.type === "object" ? '{"X-Name": "value"}' : "JSON, e.g. {\"text\": \"hi\"}" });
  }
  if (TEXTAREAS.has(name)) return el("textarea", { ...common, rows: 2 });
  return el("input", { ...common, autocomplete: "off", spellcheck: "false" });
}

/**
 * One step's editor: `actions` maps action names to their schema, `step` is the step (or null for
 * a new one), `n` its position (1-based), `onChange` runs after an edit.
 */
export function stepEditor(actions, step, n, uid) {
  const names = Object.keys(actions);
  const action = step?.action || names[0];
  const root = el("fieldset", { class: "step", dataset: { stepAction: action } });
  const known = Boolean(actions[action]);
  const legend = el("legend", { class: "label" }, `Step ${n}`);
  const choose = el("select", { "aria-label": `Step ${n} action`, dataset: { stepActionSelect: "" } },
    (known ? names : [action, ...names]).map((a) => el("option", { value: a, selected: a === action }, a)));
  const tools = el("div", { class: "step-tools" },
    el("button", { type: "button", class: "btn btn-small", dataset: { stepMove: "-1" }, "aria-label": `Move step ${n} up` }, "↑"),
    el("button", { type: "button", class: "btn btn-small", dataset: { stepMove: "1" }, "aria-label": `Move step ${n} down` }, "↓"),
    el("button", { type: "button", class: "btn btn-small btn-danger", dataset: { stepRemove: "" },
      "aria-label": `Remove step ${n}` }, "Remove"));
  root.append(legend, el("div", { class: "step-head" }, choose, tools));
  if (!known) {
    root.dataset.raw = JSON.stringify(step);
    root.append(el("p", { class: "hint" }, `“${action}” has no form here (an action the operator added); `
      + "edit it in the JSON view. It is kept as it is."));
    return root;
  }
  const schema = actions[action].schema;
  root.append(el("p", { class: "hint" }, actions[action].description));
  const grid = el("div", { class: "grid-2" });
  for (const name of actions[action].fields) {
    const prop = schema.properties[name];
    if (name === "action" || !prop) continue;
    const kind = kindOf(prop);
    const required = (schema.required || []).includes(name);
    const id = `${uid}-${name}`;
    const input = control(id, name, prop, kind, required);
    const value = step ? step[name] : undefined;
    if (value !== undefined && value !== null) {
      input.value = kind === "json" ? JSON.stringify(value, null, 2) : String(value);
    } else if (kind === "choice" && required) {
      input.value = prop.default ?? prop.enum[0];
    }
    const wide = kind === "json" || TEXTAREAS.has(name) || name === "url";
    grid.append(el("div", { class: `field${wide ? " field-wide" : ""}` },
      el("label", { class: "label", for: id }, title(name, prop), required ? el("span", { "aria-hidden": "true" }, " *")
        : null),
      input,
      prop.description ? el("small", { class: "hint", id: `${id}-hint` }, prop.description) : null,
      el("small", { class: "error", dataset: { errorFor: name }, hidden: true })));
  }
  root.append(grid);
  return root;
}

/** Reads one step editor: { step, errors } (errors by field, for JSON that does not parse). */
export function readStep(root) {
  if (root.dataset.raw) return { step: JSON.parse(root.dataset.raw), errors: {} };
  const step = { action: root.dataset.stepAction };
  const errors = {};
  for (const input of $$("[data-step-field]", root)) {
    const name = input.dataset.stepField;
    const text = input.value.trim();
    if (text === "") continue;
    if (input.dataset.kind === "number") step[name] = Number(text);
    else if (input.dataset.kind === "json") {
      try {
        step[name] = JSON.parse(text);
      } catch (error) {
        errors[name] = `not valid JSON: ${error.message}`;
      }
    } else step[name] = input.value;
  }
  return { step, errors };
}

/** Shows `errors` ({field: message}) next to the step's fields. */
export function showStepErrors(root, errors) {
  for (const slot of $$("[data-error-for]", root)) {
    const message = errors[slot.dataset.errorFor];
    slot.textContent = message || "";
    slot.hidden = !message;
    const input = $(`[data-step-field="${slot.dataset.errorFor}"]`, root);
    if (input) input.toggleAttribute("aria-invalid", Boolean(message));
  }
}
