import { describe, expect, it } from "vitest";
import { heatmapOption, lineOption, sankeyOption, seriesRows } from "./graph";
import type { LineResponse } from "./api";

const response: LineResponse = {
  t: ["2026-11-26T18:00:00Z", "2026-11-26T18:05:00Z", "2026-11-26T18:10:00Z"],
  rows: [["15169: Google"], ["Other"], ["15169: Google"]],
  points: [[100, 200, 300], [10, 20, 30], [5, 5, 5]],
  axis: [1, 1, 2],
  "axis-names": { "1": "Direct", "2": "Reverse" },
  average: [200, 20, 5], min: [100, 10, 5], max: [300, 30, 5], last: [200, 20, 5], "95th": [290, 29, 5],
};

describe("graph options", () => {
  it("gives one table row per series with a stable color per name", () => {
    const rows = seriesRows(response);
    expect(rows).toHaveLength(3);
    expect(rows[0].color).toBe(rows[2].color);
    expect(rows[1].color).toBe("#94a3b8");
    expect(rows[2].axisName).toBe("Reverse");
    expect(rows[0].p95).toBe(290);
    expect(rows[0].total).toBeUndefined();  // % units: no total
    const withTotals = seriesRows({ ...response, total: [75000, 7500, 1875] });
    expect(withTotals.map((r) => r.total)).toEqual([75000, 7500, 1875]);
  });
  it("spans the time axis over the requested range, even for an answer of one bucket", () => {
    const one: LineResponse = { ...response, t: ["2026-11-26T18:00:00Z"], points: [[100], [10], [5]] };
    const range = { start: Date.parse("2026-11-26T18:12:00Z"), end: Date.parse("2026-11-26T18:34:00Z") };
    const o = lineOption(one, "stacked", "l3bps", range) as { xAxis: { min: number; max: number } };
    expect(o.xAxis.min).toBe(Date.parse("2026-11-26T18:00:00Z"));  // the bucket before the range
    expect(o.xAxis.max).toBe(range.end);
    const g = lineOption(response, "grid", "l3bps", range) as { xAxis: { min: number; max: number }[] };
    expect(g.xAxis[0].min).toBe(Date.parse("2026-11-26T18:00:00Z"));
    expect(g.xAxis[0].max).toBe(range.end);
  });
  it("stacks per axis and draws the reverse direction below zero", () => {
    const o = lineOption(response, "stacked", "l3bps") as { series: { stack?: string; data: [number, number][] }[] };
    expect(o.series[0].stack).toBe("axis1");
    expect(o.series[2].stack).toBe("axis2");
    expect(o.series[2].data[0][1]).toBe(-5);
    const lines = lineOption(response, "lines", "l3bps") as { series: { stack?: string }[] };
    expect(lines.series[0].stack).toBeUndefined();
  });
  it("normalises to 100 % per time step", () => {
    const o = lineOption(response, "stacked100", "l3bps") as { series: { data: [number, number][] }[] };
    expect(o.series[0].data[0][1] + o.series[1].data[0][1]).toBeCloseTo(100);
  });
  it("draws one small multiple per direct series", () => {
    const direct: LineResponse = { ...response, rows: response.rows.slice(0, 2), points: response.points.slice(0, 2), axis: [1, 1] };
    const o = lineOption(direct, "grid", "l3bps") as { grid: unknown[]; series: unknown[]; yAxis: { min?: number; max: number }[] };
    expect(o.grid).toHaveLength(2);
    expect(o.series).toHaveLength(2);
    expect(o.yAxis[0]).toMatchObject({ min: undefined, max: 300 });
  });
  it("draws the reverse direction below zero in the same small multiple (bidirectional grid)", () => {
    const o = lineOption(response, "grid", "l3bps") as {
      grid: unknown[]; title: { text: string }[];
      series: { name: string; xAxisIndex: number; data: [number, number][] }[]; yAxis: { min?: number; max: number }[];
    };
    expect(o.grid).toHaveLength(2);
    expect(o.title.map((t) => t.text)).toEqual(["15169: Google", "Other"]);
    expect(o.series).toHaveLength(3);
    expect(o.series[2]).toMatchObject({ name: "15169: Google", xAxisIndex: 0 });
    expect(o.series[2].data.map((d) => d[1])).toEqual([-5, -5, -5]);
    expect(o.yAxis[0]).toMatchObject({ min: -5, max: 300 });
  });
  it("builds sankey data from object or string nodes", () => {
    const o = sankeyOption({ rows: [], xps: [], nodes: ["SrcAS: 1", { name: "DstAS: 2", axis: 1 }], links: [{ source: "SrcAS: 1", target: "DstAS: 2", xps: 5, axis: 1 }] }, "pps") as { series: { data: { name: string }[]; links: unknown[] }[] };
    expect(o.series).toHaveLength(1);
    expect(o.series[0].data.map((n) => n.name)).toEqual(["SrcAS: 1", "DstAS: 2"]);
    expect(o.series[0].links).toHaveLength(1);
  });
  it("mirrors the reverse direction of a bidirectional sankey on the right half", () => {
    type Sankey = {
      title: { text: string }[];
      series: { left: number | string; right: number | string; data: { name: string }[]; links: { source: string; target: string; value: number }[]; label: { position?: string } }[];
    };
    const o = sankeyOption({
      rows: [], xps: [], "axis-names": { "1": "Direct", "2": "Reverse" },
      nodes: [{ name: "SrcAS: 1", axis: 1 }, { name: "DstAS: 2", axis: 1 }, { name: "SrcAS: 2", axis: 2 }, { name: "DstAS: 1", axis: 2 }],
      links: [{ source: "SrcAS: 1", target: "DstAS: 2", xps: 5, axis: 1 }, { source: "SrcAS: 2", target: "DstAS: 1", xps: 3, axis: 2 }],
    }, "pps") as unknown as Sankey;
    expect(o.series).toHaveLength(2);
    expect(o.title.map((t) => t.text)).toEqual(["Direct", "Reverse"]);
    expect(o.series[0].data.map((n) => n.name)).toEqual(["SrcAS: 1", "DstAS: 2"]);
    expect(o.series[0].links).toEqual([{ source: "SrcAS: 1", target: "DstAS: 2", value: 5 }]);
    // The reverse half: its own nodes, links turned around so its first dimension is rightmost.
    expect(o.series[1].data.map((n) => n.name)).toEqual(["SrcAS: 2", "DstAS: 1"]);
    expect(o.series[1].links).toEqual([{ source: "DstAS: 1", target: "SrcAS: 2", value: 3 }]);
    expect(o.series[1].label.position).toBe("left");
    expect(o.series[0].right).toBe("54%");
    expect(o.series[1].left).toBe("54%");
  });
});

describe("heatmap", () => {
  const r: LineResponse = {
    t: ["2026-11-26T18:00:00Z", "2026-11-26T18:05:00Z"],
    rows: [["10: B"], ["9: A"], ["Other"], ["10: B"]],
    points: [[100, 0], [50, 60], [500, 500], [7, 0]],
    axis: [1, 1, 1, 2],
    average: [50, 55, 500, 3.5], min: [100, 50, 500, 7], max: [100, 60, 500, 7], last: [100, 50, 500, 7], "95th": [95, 59, 500, 7],
  };
  type Heatmap = {
    yAxis: { data: string[] }; xAxis: { data: number[] };
    series: { type: string; data: [number, number, number][] }[];
    visualMap: { seriesIndex: number; min: number; max: number; inRange: { color: string[] } }[];
  };
  it("draws rows by name in numeric order, one cell per non-empty bucket, Other left out", () => {
    const direct: LineResponse = { ...r, rows: r.rows.slice(0, 3), points: r.points.slice(0, 3), axis: [1, 1, 1] };
    const o = heatmapOption(direct, "l3bps") as unknown as Heatmap;
    expect(o.yAxis.data).toEqual(["9: A", "10: B"]);
    expect(o.xAxis.data).toEqual([Date.parse("2026-11-26T18:00:00Z"), Date.parse("2026-11-26T18:05:00Z")]);
    expect(o.series).toHaveLength(1);
    expect(o.series[0].type).toBe("heatmap");
    expect(o.series[0].data).toEqual([[0, 0, 50], [1, 0, 60], [0, 1, 100]]);
    // The scale stops at the largest series but Other; magma, reversed on a dark page.
    expect(o.visualMap).toHaveLength(1);
    expect(o.visualMap[0]).toMatchObject({ min: 0, max: 100 });
    expect(o.visualMap[0].inRange.color[0]).toBe("#fcfdbf");
    expect((heatmapOption(direct, "l3bps", true) as unknown as Heatmap).visualMap[0].inRange.color[0]).toBe("#000004");
  });
  it("gives the reverse direction its own rows, negative, with its own scale", () => {
    const o = heatmapOption(r, "l3bps") as unknown as Heatmap;
    expect(o.yAxis.data).toEqual(["9: A", "10: B", "10: B (reverse)"]);
    expect(o.series).toHaveLength(2);
    expect(o.series[1].data).toEqual([[0, 2, -7]]);
    expect(o.visualMap[1]).toMatchObject({ seriesIndex: 1, min: -7, max: 0 });
  });
});
