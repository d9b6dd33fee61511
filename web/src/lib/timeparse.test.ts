import { describe, expect, it } from "vitest";
import { endsNow, parseTime, refreshIntervals, resolveRange, shiftRange } from "./timeparse";

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
