import { describe, expect, it } from "vitest";
import { endsNow, parseTime, presets, refreshIntervals, resolveRange, shiftRange } from "./timeparse";

const now = new Date(2026, 10, 27, 12, 30, 0); // local time, Friday

describe("natural-language times", () => {
  it("understands relative expressions", () => {
    expect(parseTime("now", now)).toEqual(now);
    expect(parseTime("6 hours ago", now)!.getTime()).toBe(now.getTime() - 6 * 3600e3);
    expect(parseTime("an hour ago", now)!.getTime()).toBe(now.getTime() - 3600e3);
    expect(parseTime("  30   MINUTES ago ", now)!.getTime()).toBe(now.getTime() - 1800e3);
    expect(parseTime("-2d", now)!.getTime()).toBe(now.getTime() - 2 * 86400e3);
    expect(parseTime("1 week ago", now)!.getTime()).toBe(now.getTime() - 7 * 86400e3);
    expect(parseTime("1 year ago", now)!.getFullYear()).toBe(2025);
  });
  it("understands days and dates", () => {
    expect(parseTime("today", now)).toEqual(new Date(2026, 10, 27));
    expect(parseTime("yesterday", now)).toEqual(new Date(2026, 10, 26));
    expect(parseTime("this week", now)).toEqual(new Date(2026, 10, 23));
    expect(parseTime("2026-11-20", now)).toEqual(new Date(2026, 10, 20));
    expect(parseTime("2026-11-20 08:15", now)).toEqual(new Date(2026, 10, 20, 8, 15));
    expect(parseTime("2026-11-20T08:15:00Z", now)!.toISOString()).toBe("2026-11-20T08:15:00.000Z");
  });
  it("rejects what it does not understand", () => {
    for (const bad of ["", "soon", "6 fortnights ago", "6 hours", "2026-13-45x"]) expect(parseTime(bad, now)).toBeNull();
    expect(() => resolveRange("now", "1 hour ago", now)).toThrow(/after/);
    expect(() => resolveRange("tomorrowish", "now", now)).toThrow(/start/);
  });
  it("shifts a range by its length, never past now", () => {
    const back = shiftRange("6 hours ago", "now", -1, now);
    expect(back).toEqual({ start: "2026-11-27 00:30", end: "2026-11-27 06:30" });
    expect(shiftRange(back.start, back.end, 1, now)).toEqual({ start: "2026-11-27 06:30", end: "now" });
  });
});

describe("auto-refresh", () => {
  it("offers Akvorado's intervals: off, 5 s, 10 s, 30 s, 1 min, 5 min", () => {
    expect(refreshIntervals.map((r) => r.seconds)).toEqual([0, 5, 10, 30, 60, 300]);
  });
  it("is offered only when the range ends now", () => {
    expect(endsNow("now")).toBe(true);
    expect(endsNow(" Now ")).toBe(true);
    expect(endsNow("today")).toBe(false);
    expect(endsNow("2026-11-27 12:00")).toBe(false);
  });
});

describe("Akvorado's presets", () => {
  // Friday 27 November 2026, 12:30 local time.
  const range = (label: string) => {
    const p = presets.find((x) => x.label === label);
    expect(p, label).toBeDefined();
    return resolveRange(p!.start, p!.end, now);
  };
  const end = (y: number, m: number, d: number) => new Date(new Date(y, m, d).getTime() - 1);
  it("lists Akvorado's presets in its order", () => {
    expect(presets.map((p) => p.label)).toEqual([
      "Last hour", "Last 6 hours", "Last 12 hours", "Last 24 hours", "Last evening", "Last 2 days",
      "Last 7 days", "Last 30 days", "Last 3 months", "Last 6 months", "Last year", "Last 2 years",
      "Last 5 years", "Today", "Yesterday", "Day before yesterday", "This week", "This month",
      "This year", "This day last week", "Previous week", "Previous month", "Previous year",
    ]);
    for (const p of presets) expect(() => resolveRange(p.start, p.end, now), p.label).not.toThrow();
  });
  it("computes the relative ranges up to now", () => {
    expect(range("Last 12 hours")).toEqual({ start: new Date(2026, 10, 27, 0, 30), end: now });
    expect(range("Last 3 months")).toEqual({ start: new Date(2026, 7, 27, 12, 30), end: now });
    expect(range("Last 6 months")).toEqual({ start: new Date(2026, 4, 27, 12, 30), end: now });
    expect(range("Last 2 years")).toEqual({ start: new Date(2024, 10, 27, 12, 30), end: now });
    expect(range("Last 5 years")).toEqual({ start: new Date(2021, 10, 27, 12, 30), end: now });
  });
  it("computes last evening: yesterday 19:00 to today 01:00", () => {
    expect(range("Last evening")).toEqual({ start: new Date(2026, 10, 26, 19, 0), end: new Date(2026, 10, 27, 1, 0) });
  });
  it("computes whole days", () => {
    expect(range("Today")).toEqual({ start: new Date(2026, 10, 27), end: end(2026, 10, 28) });
    expect(range("Yesterday")).toEqual({ start: new Date(2026, 10, 26), end: end(2026, 10, 27) });
    expect(range("Day before yesterday")).toEqual({ start: new Date(2026, 10, 25), end: new Date(2026, 10, 26) });
    // Friday a week ago, the whole day.
    expect(range("This day last week")).toEqual({ start: new Date(2026, 10, 20), end: new Date(2026, 10, 21) });
  });
  it("computes this and the previous week, month and year (weeks from Monday)", () => {
    expect(range("This week")).toEqual({ start: new Date(2026, 10, 23), end: end(2026, 10, 30) });
    expect(range("This month")).toEqual({ start: new Date(2026, 10, 1), end: end(2026, 11, 1) });
    expect(range("This year")).toEqual({ start: new Date(2026, 0, 1), end: end(2027, 0, 1) });
    expect(range("Previous week")).toEqual({ start: new Date(2026, 10, 16), end: end(2026, 10, 23) });
    expect(range("Previous month")).toEqual({ start: new Date(2026, 9, 1), end: end(2026, 10, 1) });
    expect(range("Previous year")).toEqual({ start: new Date(2025, 0, 1), end: end(2026, 0, 1) });
  });
  it("crosses year boundaries", () => {
    const jan = new Date(2027, 0, 1, 0, 30); // Friday 1 January 2027
    expect(resolveRange("the beginning of last month", "the end of last month", jan)).toEqual({ start: new Date(2026, 11, 1), end: end(2027, 0, 1) });
    expect(resolveRange("the beginning of last week", "the end of last week", jan)).toEqual({ start: new Date(2026, 11, 21), end: end(2026, 11, 28) });
    expect(resolveRange("yesterday at 7pm", "today at 1am", jan)).toEqual({ start: new Date(2026, 11, 31, 19), end: new Date(2027, 0, 1, 1) });
  });
  it("understands times of day around a day", () => {
    expect(parseTime("yesterday at 7:30 pm", now)).toEqual(new Date(2026, 10, 26, 19, 30));
    expect(parseTime("today at 12am", now)).toEqual(new Date(2026, 10, 27, 0, 0));
    expect(parseTime("today at noon", now)).toEqual(new Date(2026, 10, 27, 12, 0));
    expect(parseTime("19:00 2 days ago", now)).toEqual(new Date(2026, 10, 25, 19, 0));
    expect(parseTime("today at 25:00", now)).toBeNull();
    expect(parseTime("today at 13pm", now)).toBeNull();
    expect(parseTime("the end of soon", now)).toBeNull();
    // Alone, "last week" is left out: SugarJS reads it as a week ago.
    expect(parseTime("last week", now)).toBeNull();
  });
});
