import { describe, expect, it } from "vitest";
import { formatDuration, formatRate, formatTotal, formatXps, siFormat } from "./units";

describe("units", () => {
  it("formats with SI prefixes and 3 significant digits", () => {
    expect(siFormat(0)).toBe("0");
    expect(siFormat(999)).toBe("999");
    expect(siFormat(1000)).toBe("1k");
    expect(siFormat(1234567)).toBe("1.23M");
    expect(siFormat(12.5e9)).toBe("12.5G");
    expect(siFormat(999999)).toBe("1M");
    expect(siFormat(-2500)).toBe("-2.5k");
    expect(siFormat(NaN)).toBe("–");
  });
  it("adds the unit", () => {
    expect(formatXps(1.5e9, "l3bps")).toBe("1.5Gbps");
    expect(formatXps(320000, "pps")).toBe("320kpps");
    expect(formatXps(42.46, "inl2%")).toBe("42.5%");
    expect(formatXps(0.5, "outl2%")).toBe("0.50%");
    expect(formatXps(12, "fps")).toBe("12fps");
  });
  it("formats a series' total in bytes, packets or flows", () => {
    expect(formatTotal(1.25e12, "l3bps")).toBe("1.25TB");
    expect(formatTotal(4200, "pps")).toBe("4.2k packets");
    expect(formatTotal(12, "fps")).toBe("12 flows");
  });
  it("formats rates and durations", () => {
    expect(formatRate(1234.4)).toBe("1,234");
    expect(formatRate(3.25)).toBe("3.3");
    expect(formatRate(45600)).toBe("45.6k");
    expect(formatDuration(3600)).toBe("1h");
    expect(formatDuration(7 * 86400)).toBe("7d");
    expect(formatDuration(90)).toBe("2m");
  });
});
