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

type Period = "day" | "week" | "month" | "year";

/** The first instant of the `period` holding `d` (local time; weeks start on Monday). */
function beginningOf(d: Date, period: Period): Date {
  const r = startOfDay(d);
  if (period === "week") r.setDate(r.getDate() - ((r.getDay() + 6) % 7));
  if (period === "month") r.setDate(1);
  if (period === "year") r.setMonth(0, 1);
  return r;
}

/** The same period `n` periods later (n < 0: earlier), from its beginning. */
function addPeriods(begin: Date, period: Period, n: number): Date {
  const r = new Date(begin);
  if (period === "day") r.setDate(r.getDate() + n);
  if (period === "week") r.setDate(r.getDate() + 7 * n);
  if (period === "month") r.setMonth(r.getMonth() + n);
  if (period === "year") r.setFullYear(r.getFullYear() + n);
  return r;
}

/** "today", "this week", "last month", "yesterday"...: the period's beginning, or null. */
function namedPeriod(text: string, now: Date): { begin: Date; period: Period } | null {
  const days: Record<string, number> = { today: 0, yesterday: -1, "day before yesterday": -2, tomorrow: 1 };
  if (text in days) return { begin: addPeriods(startOfDay(now), "day", days[text]), period: "day" };
  const m = /^(this|last|previous|next) (day|week|month|year)$/.exec(text);
  if (!m) return null;
  const period = m[2] as Period;
  const n = m[1] === "this" ? 0 : m[1] === "next" ? 1 : -1;
  return { begin: addPeriods(beginningOf(now, period), period, n), period };
}

/** "7pm", "0am", "12am", "19:30", "7:30 pm", "noon", "midnight": [hours, minutes], or null. */
function timeOfDay(text: string): [number, number] | null {
  if (text === "noon") return [12, 0];
  if (text === "midnight") return [0, 0];
  const m = /^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$/.exec(text);
  if (!m || (!m[2] && !m[3])) return null;
  let h = Number(m[1]);
  const min = Number(m[2] ?? 0);
  if (m[3]) {
    if (h > 12) return null;
    h = (h % 12) + (m[3] === "pm" ? 12 : 0);
  }
  return h < 24 && min < 60 ? [h, min] : null;
}

function atTime(d: Date | null, t: [number, number] | null): Date | null {
  if (!d || !t) return null;
  const r = new Date(d);
  r.setHours(t[0], t[1], 0, 0);
  return r;
}

/**
 * Parses a time expression relative to `now`; null when not understood. Accepts what
 * Akvorado's presets say (it uses SugarJS): "now", "N <unit>s ago" (also "an hour ago",
 * "6h ago", "-6h"), "today", "yesterday", "day before yesterday", "this week", "this month",
 * "this year", "[the] beginning of / end of" today, yesterday, this or last week, month or
 * year (an end is the period's last millisecond), a time of day before or after a day
 * ("yesterday at 7pm", "today at 1am", "0am 1 week ago"), ISO dates and times ("2026-11-26",
 * "2026-11-26 10:00", "2026-11-26T10:00:00Z"). Weeks start on Monday.
 */
export function parseTime(input: string, now: Date = new Date()): Date | null {
  const text = input.trim().toLowerCase().replace(/\s+/g, " ");
  if (text === "") return null;
  if (text === "now") return new Date(now);
  if (text === "midnight") return startOfDay(now);
  // Alone, "last week" would be ambiguous (SugarJS says a week ago): only "this ..." here.
  const named = /^(last|previous|next) /.test(text) ? null : namedPeriod(text, now);
  if (named) return named.begin;
  const edge = /^(?:the )?(beginning|start|end) of (.+)$/.exec(text);
  if (edge) {
    const p = namedPeriod(edge[2], now);
    if (!p) return null;
    if (edge[1] !== "end") return p.begin;
    return new Date(addPeriods(p.begin, p.period, 1).getTime() - 1);
  }
  const at = /^(.+?) at (.+)$/.exec(text);
  if (at) return atTime(parseTime(at[1], now), timeOfDay(at[2]));
  const before = /^(\d{1,2}(?::\d{2})?\s*(?:am|pm)|\d{1,2}:\d{2}|noon) (.+)$/.exec(text);
  if (before) return atTime(parseTime(before[2], now), timeOfDay(before[1]));
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

// Akvorado's presets, same order and same words (a state from one reads the same in the other).
export const presets: Preset[] = [
  { label: "Last hour", start: "1 hour ago", end: "now" },
  { label: "Last 6 hours", start: "6 hours ago", end: "now" },
  { label: "Last 12 hours", start: "12 hours ago", end: "now" },
  { label: "Last 24 hours", start: "24 hours ago", end: "now" },
  { label: "Last evening", start: "yesterday at 7pm", end: "today at 1am" },
  { label: "Last 2 days", start: "2 days ago", end: "now" },
  { label: "Last 7 days", start: "7 days ago", end: "now" },
  { label: "Last 30 days", start: "30 days ago", end: "now" },
  { label: "Last 3 months", start: "3 months ago", end: "now" },
  { label: "Last 6 months", start: "6 months ago", end: "now" },
  { label: "Last year", start: "1 year ago", end: "now" },
  { label: "Last 2 years", start: "2 years ago", end: "now" },
  { label: "Last 5 years", start: "5 years ago", end: "now" },
  { label: "Today", start: "today", end: "end of today" },
  { label: "Yesterday", start: "yesterday", end: "end of yesterday" },
  { label: "Day before yesterday", start: "day before yesterday", end: "yesterday" },
  { label: "This week", start: "the beginning of this week", end: "the end of this week" },
  { label: "This month", start: "the beginning of this month", end: "the end of this month" },
  { label: "This year", start: "the beginning of this year", end: "the end of this year" },
  { label: "This day last week", start: "0am 1 week ago", end: "0am 6 days ago" },
  { label: "Previous week", start: "the beginning of last week", end: "the end of last week" },
  { label: "Previous month", start: "the beginning of last month", end: "the end of last month" },
  { label: "Previous year", start: "the beginning of last year", end: "the end of last year" },
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
