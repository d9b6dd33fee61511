import { describe, expect, it } from "vitest";
import { builtinDefaults, decodeState, defaultsFrom, encodeState, lineRequest, sanitize, type VisualizeState } from "./state";

const custom: VisualizeState = {
  ...builtinDefaults,
  graphType: "sankey",
  units: "pps",
  start: "2026-11-20 10:00",
  end: "2026-11-21 10:00",
  dimensions: ["SrcAS", "DstCountry"],
  limit: 25,
  limitType: "max",
  filter: 'InIfBoundary = external AND SrcCountry = "FR"',
  bidirectional: true,
};

describe("URL state", () => {
  it("round-trips through the URL segment", () => {
    const seg = encodeState(custom);
    expect(seg.startsWith("v1-")).toBe(true);
    expect(seg).toMatch(/^[A-Za-z0-9+\-$_]+$/);
    expect(decodeState(seg, builtinDefaults)).toEqual(custom);
  });

  it("encodes equal states identically whatever the key order", () => {
    const reordered = Object.fromEntries(Object.entries(custom).reverse()) as VisualizeState;
    expect(encodeState(reordered)).toBe(encodeState(custom));
  });

  it("falls back to defaults on garbage and keeps the valid fields", () => {
    expect(decodeState("v1-%%%notlz", builtinDefaults)).toEqual(builtinDefaults);
    expect(decodeState(undefined, builtinDefaults)).toEqual(builtinDefaults);
    const partial = sanitize({ graphType: "pie", limit: 500, units: "pps", dimensions: ["Src AS;DROP"], bidirectional: "yes" }, builtinDefaults);
    expect(partial.graphType).toBe("stacked");
    expect(partial.limit).toBe(10);
    expect(partial.units).toBe("pps");
    expect(partial.dimensions).toEqual(["SrcAS"]);
    expect(partial.bidirectional).toBe(false);
  });

  it("decodes the older base64 JSON links", () => {
    const seg = btoa(JSON.stringify({ graphType: "lines", dimensions: ["DstAS"] }));
    const s = decodeState(seg, builtinDefaults);
    expect(s.graphType).toBe("lines");
    expect(s.dimensions).toEqual(["DstAS"]);
  });

  it("takes the server's default-visualize-options", () => {
    const d = defaultsFrom({ defaultVisualizeOptions: { graphType: "lines", dimensions: ["ExporterName"], limit: 5 } } as never);
    expect(d.graphType).toBe("lines");
    expect(d.dimensions).toEqual(["ExporterName"]);
    expect(d.limit).toBe(5);
    expect(d.filter).toBe(builtinDefaults.filter);
  });

  it("builds the graph/line request with resolved RFC 3339 times", () => {
    const now = new Date("2026-11-27T00:00:00Z");
    const req = lineRequest({ ...builtinDefaults, start: "6 hours ago", graphType: "grid", previousPeriod: true }, now);
    expect(req.start).toBe("2026-11-26T18:00:00Z");
    expect(req.end).toBe("2026-11-27T00:00:00Z");
    expect(req.points).toBe(50);
    expect(req["previous-period"]).toBe(false); // only for stacked graphs
    expect(() => lineRequest({ ...builtinDefaults, start: "whenever" }, now)).toThrow(/start/);
  });

  it("keeps a heatmap in the URL; it asks for 200 points, bidirectional allowed", () => {
    const heatmap: VisualizeState = { ...builtinDefaults, graphType: "heatmap", bidirectional: true };
    expect(decodeState(encodeState(heatmap), builtinDefaults)).toEqual(heatmap);
    const req = lineRequest({ ...heatmap, previousPeriod: true }, new Date("2026-11-27T00:00:00Z"));
    expect(req.points).toBe(200);
    expect(req.bidirectional).toBe(true);
    expect(req["previous-period"]).toBe(false);
  });
});
