// Natural-language times for the time range ("6 hours ago", "now", "yesterday", dates).

const unitSeconds: Record<string, number> = {
  s: 1, sec: 1, secs: 1, second: 1, seconds: 1,
  m: 60, min: 60, mins: 60, minute: 60, minutes: 60,
  h: 3600, hr: 3600, hrs: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
  w: 604800, week: 604800, weeks: 604800,
};

function startOfDay(d: Date): Date {
  const r = new Date(d);
  r.setHours(0, 0, 0, 0);
  return r;
}

function addMonths(d: Date, months: number): Date {
  const r = new Date(d);
  r.setMonth(r.getMonth() + months);
  return r;
}

/**
 * Parses a time expression relative to `now`; null when not understood. Accepts "now",
 * "N <unit>s ago" (also "an hour ago", "6h ago", "-6h"), "today", "yesterday",
 * "day before yesterday", "this week", "this month", "this year", ISO dates and times
 * ("2026-11-26", "2026-11-26 10:00", "2026-11-26T10:00:00Z").
 */
export function parseTime(input: string, now: Date = new Date()): Date | null {
  const text = input.trim().toLowerCase().replace(/\s+/g, " ");
  if (text === "") return null;
  if (text === "now") return new Date(now);
  if (text === "today" || text === "midnight") return startOfDay(now);
  if (text === "yesterday") return new Date(startOfDay(now).getTime() - 86400e3);
  if (text === "day before yesterday") return new Date(startOfDay(now).getTime() - 2 * 86400e3);
  if (text === "this week") {
    const d = startOfDay(now);
    const monday = (d.getDay() + 6) % 7;
    return new Date(d.getTime() - monday * 86400e3);
  }
  if (text === "this month") {
    const d = startOfDay(now);
    d.setDate(1);
    return d;
  }
  if (text === "this year") {
    const d = startOfDay(now);
    d.setMonth(0, 1);
    return d;
  }
  const rel = /^(-)?\s*(\d+(?:\.\d+)?|an?|one)\s*([a-z]+?)(\s+ago)?$/.exec(text);
  if (rel && (rel[1] === "-" || rel[4])) {
    const n = rel[2] === "a" || rel[2] === "an" || rel[2] === "one" ? 1 : Number(rel[2]);
    const unit = rel[3];
    if (unit in unitSeconds) return new Date(now.getTime() - n * unitSeconds[unit] * 1000);
    if (/^(months?|mo)$/.test(unit)) return addMonths(now, -n);
    if (/^(years?|y|yr|yrs)$/.test(unit)) return addMonths(now, -12 * n);
    return null;
  }
  // ISO dates: "YYYY-MM-DD" is local midnight (Date.parse would say UTC), times as given.
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) {
    const d = new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
    return Number.isNaN(d.getTime()) ? null : d;
  }
  const local = /^(\d{4})-(\d{2})-(\d{2})[ t](\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (local) {
    const [, y, mo, da, h, mi, s] = local;
    return new Date(Number(y), Number(mo) - 1, Number(da), Number(h), Number(mi), Number(s ?? 0));
  }
  if (/^\d{4}-\d{2}-\d{2}t[\d:.]+(z|[+-]\d{2}:?\d{2})$/.test(text)) {
    const t = Date.parse(input.trim());
    return Number.isNaN(t) ? null : new Date(t);
  }
  return null;
}

export interface Preset {
  label: string;
  start: string;
  end: string;
}

export const presets: Preset[] = [
  { label: "Last hour", start: "1 hour ago", end: "now" },
  { label: "Last 6 hours", start: "6 hours ago", end: "now" },
  { label: "Last 24 hours", start: "24 hours ago", end: "now" },
  { label: "Last 2 days", start: "2 days ago", end: "now" },
  { label: "Last 7 days", start: "7 days ago", end: "now" },
  { label: "Last 30 days", start: "30 days ago", end: "now" },
  { label: "Last 90 days", start: "90 days ago", end: "now" },
  { label: "Last year", start: "1 year ago", end: "now" },
  { label: "Today", start: "today", end: "now" },
  { label: "Yesterday", start: "yesterday", end: "today" },
  { label: "This week", start: "this week", end: "now" },
  { label: "This month", start: "this month", end: "now" },
];

/** Auto-refresh choices of the Visualize page (seconds, 0 is off), as Akvorado's. */
export const refreshIntervals: { seconds: number; label: string }[] = [
  { seconds: 0, label: "off" },
  { seconds: 5, label: "5 s" },
  { seconds: 10, label: "10 s" },
  { seconds: 30, label: "30 s" },
  { seconds: 60, label: "1 min" },
  { seconds: 300, label: "5 min" },
];

/** Whether a range ending at `end` moves with time: only then is auto-refresh offered. */
export function endsNow(end: string): boolean {
  return end.trim().toLowerCase() === "now";
}

/** "2026-11-26 10:00" in local time, for a resolved range shown or written back to inputs. */
export function formatLocal(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Resolves both ends; throws an Error naming the bad end. */
export function resolveRange(start: string, end: string, now: Date = new Date()): { start: Date; end: Date } {
  const s = parseTime(start, now);
  if (!s) throw new Error(`cannot understand start time "${start}"`);
  const e = parseTime(end, now);
  if (!e) throw new Error(`cannot understand end time "${end}"`);
  if (e.getTime() <= s.getTime()) throw new Error("the end of the range must be after its start");
  return { start: s, end: e };
}

/** Moves the range by its own length (direction -1 back, +1 forward); never past now. */
export function shiftRange(start: string, end: string, direction: -1 | 1, now: Date = new Date()): { start: string; end: string } {
  const r = resolveRange(start, end, now);
  const len = r.end.getTime() - r.start.getTime();
  let s = r.start.getTime() + direction * len;
  let e = r.end.getTime() + direction * len;
  if (e >= now.getTime()) {
    e = now.getTime();
    s = e - len;
    return { start: formatLocal(new Date(s)), end: "now" };
  }
  return { start: formatLocal(new Date(s)), end: formatLocal(new Date(e)) };
}
