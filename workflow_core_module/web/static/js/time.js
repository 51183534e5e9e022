// Times: the API speaks UTC ISO ("...Z"); people read the browser's zone, with the schedule's zone at hand.
// Every time shown carries its zone's name and its seconds.

export const LOCAL_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

const formats = new Map();

function formatter(zone, withYear) {
  const key = `${zone || ""}|${withYear}`;
  if (!formats.has(key)) {
    formats.set(key, new Intl.DateTimeFormat("en-US", {
      weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
      hourCycle: "h23", timeZoneName: "short", year: withYear ? "numeric" : undefined, timeZone: zone || LOCAL_ZONE,
    }));
  }
  return formats.get(key);
}

/**
 * "Mon, Nov 23, 08:00:00 EST": to the second, in `zone` (default: the browser's), always with the
 * zone's name, and with the year when it is not this year.
 */
export function formatInstant(iso, zone) {
  if (!iso) return "—";
  const date = new Date(iso);
  return formatter(zone, date.getFullYear() !== new Date().getFullYear()).format(date);
}

/** The tooltip of a shown time: the same instant in the schedule's zone and in the browser's, each named. */
export function instantTitle(iso, zone = LOCAL_ZONE) {
  if (!iso) return "";
  const here = `${formatInstant(iso)} (${LOCAL_ZONE}, your zone)`;
  return zone === LOCAL_ZONE ? here : `${formatInstant(iso, zone)} (${zone}, the schedule's zone)\n${here}`;
}

/** "08:00": the wall clock of `date` in the browser's zone (callers name the zone beside it). */
export function formatClock(date) {
  return new Intl.DateTimeFormat("en-US", { hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    timeZone: LOCAL_ZONE }).format(date);
}

/** "Mon 23" (with `month`: "Mon, Nov 23"): the day of `date` in the browser's zone. */
export function formatDay(date, { month = false } = {}) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { weekday: "short", day: "numeric",
    month: "short", timeZone: LOCAL_ZONE }).formatToParts(date).map((p) => [p.type, p.value]));
  return month ? `${parts.weekday}, ${parts.month} ${parts.day}` : `${parts.weekday} ${parts.day}`;
}

/** The browser's zone as a short name at `date` ("EST", "GMT+1"). */
export function zoneAbbreviation(date = new Date(), zone = LOCAL_ZONE) {
  const part = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "short" }).formatToParts(date)
    .find((p) => p.type === "timeZoneName");
  return part ? part.value : zone;
}

function span(seconds) {
  const s = Math.abs(Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "in 3h 12m", "due now", "5m 3s ago". */
export function countdown(iso, now = Date.now()) {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  if (Math.abs(seconds) < 1) return "due now";
  return seconds > 0 ? `in ${span(seconds)}` : `${span(seconds)} ago`;
}

/** "45 ms", "1.2 s", "3m 4s". */
export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return span(ms / 1000);
}

/** The wall-clock time of `iso` in `zone` as "YYYY-MM-DDTHH:MM:SS" (for datetime-local inputs). */
export function toZoneInput(iso, zone) {
  if (!iso) return "";
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    hourCycle: "h23", timeZone: zone,
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

/** Every IANA zone the browser knows, UTC first. */
export function zoneNames() {
  const names = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [LOCAL_ZONE];
  return ["UTC", ...names.filter((n) => n !== "UTC")];
}
