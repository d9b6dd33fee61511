// ECharts options for the Visualize page, from graph/line and graph/sankey answers.
import type { LineResponse, SankeyResponse } from "./api";
import { magma, otherColor, palette } from "./echarts";
import type { GraphType } from "./state";
import { formatXps } from "./units";

export interface SeriesRow {
  index: number;
  axis: number;
  axisName: string;
  name: string;
  dimensions: string[];
  color: string;
  min: number;
  max: number;
  average: number;
  last: number;
  p95: number;
  /** Bytes (bit units), packets or flows over the range; undefined for % units. */
  total?: number;
}

const defaultAxisNames: Record<number, string> = { 1: "Direct", 2: "Reverse", 3: "Previous period", 4: "Previous period (reverse)" };

/** One row per series, with its color (same color for the same dimensions on every axis). */
export function seriesRows(r: LineResponse): SeriesRow[] {
  const colorOf = new Map<string, string>();
  let next = 0;
  return r.rows.map((dims, i) => {
    const name = dims.length ? dims.join(" — ") : "Total";
    const isOther = dims.length > 0 && dims.every((d) => d === "Other");
    if (!colorOf.has(name)) colorOf.set(name, isOther ? otherColor : palette[next++ % palette.length]);
    const axis = r.axis?.[i] ?? 1;
    const last = r.last?.[i] ?? r.points[i]?.[Math.max(0, r.points[i].length - 2)] ?? 0;
    return {
      index: i, axis, axisName: r["axis-names"]?.[axis] ?? defaultAxisNames[axis] ?? `Axis ${axis}`,
      name, dimensions: dims, color: colorOf.get(name)!,
      min: r.min?.[i] ?? 0, max: r.max?.[i] ?? 0, average: r.average?.[i] ?? 0, last, p95: r["95th"]?.[i] ?? 0,
      total: r.total?.[i],
    };
  });
}

function timeTooltip(unit: string) {
  return (params: unknown) => {
    const ps = (Array.isArray(params) ? params : [params]) as { axisValue: number | string; marker: string; seriesName: string; value: [number | string, number] }[];
    if (!ps.length) return "";
    const when = new Date(ps[0].value[0]).toLocaleString();
    const lines = ps
      .filter((p) => p.value[1] !== 0)
      .sort((a, b) => Math.abs(b.value[1]) - Math.abs(a.value[1]))
      .map((p) => `${p.marker}<span style="display:inline-block;min-width:10em">${p.seriesName}</span> <b>${formatXps(Math.abs(p.value[1]), unit)}</b>`);
    return `<div style="font-size:12px"><div style="margin-bottom:4px;font-weight:600">${when}</div>${lines.join("<br>")}</div>`;
  };
}

/** Stacked, stacked 100 %, lines and grid options. Reverse axes are drawn below zero. */
/**
 * `range` (ms): the requested time range. The time axes span it (and every bucket of the
 * answer): left to the data, an answer of one point (a coarse table's single bucket) got an
 * axis of hours around it, and dragging to zoom selected times outside the range asked for.
 */
export function lineOption(r: LineResponse, graphType: GraphType, unit: string, range?: { start: number; end: number }): Record<string, unknown> {
  const rows = seriesRows(r);
  const times = r.t.map((t) => new Date(t).getTime());
  const span = range && times.length
    ? { min: Math.min(range.start, times[0]), max: Math.max(range.end, times[times.length - 1]) }
    : range ? { min: range.start, max: range.end } : {};
  const percent = graphType === "stacked100";
  let values = r.points.map((pts, i) => pts.map((v) => ((rows[i].axis % 2 === 0) ? -v : v)));
  if (percent) {
    const totals = times.map(() => [0, 0]);
    values.forEach((pts, i) => pts.forEach((v, j) => { totals[j][rows[i].axis === 2 ? 1 : 0] += Math.abs(v); }));
    values = values.map((pts, i) => pts.map((v, j) => {
      const tot = totals[j][rows[i].axis === 2 ? 1 : 0];
      return tot ? (100 * v) / tot : 0;
    }));
  }
  const yFormatter = (v: number) => (percent ? `${Math.abs(v)}%` : formatXps(Math.abs(v), unit));
  if (graphType === "grid") {
    // One small graph per series name, the same scale for all; with bidirectional, the reverse
    // series of a name goes below zero in the same small graph (as Akvorado).
    const shown = rows.filter((s) => s.axis <= 2);
    const names = [...new Set(shown.map((s) => s.name))];
    const cols = names.length <= 4 ? names.length : names.length <= 9 ? 3 : 4;
    const nrows = Math.ceil(names.length / Math.max(cols, 1));
    const ymax = Math.max(...shown.filter((s) => s.axis === 1).map((s) => s.max), 1);
    const reverse = shown.filter((s) => s.axis === 2);
    const ymin = reverse.length ? -Math.max(...reverse.map((s) => s.max), 1) : undefined;
    return {
      tooltip: { trigger: "axis", formatter: timeTooltip(unit) },
      title: names.map((name, k) => ({
        text: name, textStyle: { fontSize: 11, fontWeight: 500 },
        left: `${((k % cols) / cols) * 100 + 1}%`, top: `${(Math.floor(k / cols) / nrows) * 100}%`,
      })),
      grid: names.map((_, k) => ({
        left: `${((k % cols) / cols) * 100 + 4}%`, width: `${100 / cols - 6}%`,
        top: `${(Math.floor(k / cols) / nrows) * 100 + 6}%`, height: `${100 / nrows - 12}%`,
      })),
      xAxis: names.map((_, k) => ({ type: "time", gridIndex: k, ...span, axisLabel: { fontSize: 9, hideOverlap: true } })),
      yAxis: names.map((_, k) => ({ type: "value", gridIndex: k, max: ymax, min: ymin, axisLabel: { fontSize: 9, formatter: yFormatter }, splitNumber: 2 })),
      series: shown.map((s) => {
        const k = names.indexOf(s.name);
        return {
          name: s.name, type: "line", xAxisIndex: k, yAxisIndex: k, showSymbol: false, color: s.color,
          areaStyle: { opacity: s.axis === 2 ? 0.15 : 0.3 }, lineStyle: { width: 1 },
          data: times.map((t, j) => [t, values[s.index][j]]),
        };
      }),
    };
  }
  const stacked = graphType !== "lines";
  return {
    animation: false,
    tooltip: { trigger: "axis", formatter: timeTooltip(percent ? "%" : unit), confine: true },
    legend: { type: "scroll", bottom: 0, icon: "roundRect", itemWidth: 12, itemHeight: 12, data: [...new Set(rows.filter((s) => s.axis <= 2).map((s) => s.name))] },
    grid: { left: 64, right: 24, top: 24, bottom: 64 },
    toolbox: { show: false },
    brush: { xAxisIndex: 0, brushType: "lineX", brushMode: "single", throttleType: "debounce", transformable: false, outOfBrush: { colorAlpha: 1 } },
    xAxis: { type: "time", ...span },
    yAxis: { type: "value", axisLabel: { formatter: yFormatter }, max: percent ? 100 : undefined, min: percent && rows.some((s) => s.axis === 2) ? -100 : undefined },
    series: rows.map((s) => {
      const previous = s.axis >= 3;
      return {
        name: s.name, type: "line", color: s.color, showSymbol: false, sampling: "lttb",
        stack: stacked && !previous ? `axis${s.axis}` : undefined,
        areaStyle: stacked && !previous ? { opacity: 0.85 } : undefined,
        lineStyle: previous ? { type: "dashed", width: 1.5 } : { width: stacked ? 0.5 : 1.5 },
        emphasis: { focus: "series" },
        data: times.map((t, j) => [t, values[s.index][j]]),
      };
    }),
  };
}

/**
 * Heatmap, as Akvorado's: one row per series ("Other" left out, rows sorted by name, numbers
 * in numeric order), one cell per time bucket, the value as a magma color (darker is more on a
 * light page, lighter on a dark one); empty cells are not drawn. The reverse direction
 * (bidirectional) has its own rows, "name (reverse)", with negative values and its own scale.
 */
export function heatmapOption(r: LineResponse, unit: string, dark = false): Record<string, unknown> {
  const rows = seriesRows(r).filter((s) => s.axis <= 2 && !s.dimensions.every((d) => d === "Other"));
  const label = (s: SeriesRow) => (s.axis === 2 ? `${s.name} (reverse)` : s.name);
  const sorted = [...rows].sort((a, b) => label(a).localeCompare(label(b), "en", { numeric: true }));
  const names = sorted.map(label);
  const times = r.t.map((t) => new Date(t).getTime());
  const colors = dark ? [...magma].reverse() : magma;
  const cells = (axis: number) =>
    sorted.flatMap((s, y) => (s.axis !== axis ? [] : r.points[s.index].flatMap((v, x) => (v ? [[x, y, axis === 2 ? -v : v]] : []))));
  const maxOf = (axis: number) => Math.max(1, ...rows.filter((s) => s.axis === axis).map((s) => s.max));
  const reverse = rows.some((s) => s.axis === 2);
  const visualMap = [{
    type: "continuous", seriesIndex: 0, min: 0, max: maxOf(1), calculable: true, orient: "horizontal",
    right: "5%", bottom: 0, itemHeight: 160, inRange: { color: colors }, formatter: (v: number) => formatXps(v, unit),
  }];
  if (reverse) {
    visualMap.push({
      type: "continuous", seriesIndex: 1, min: -maxOf(2), max: 0, calculable: true, orient: "horizontal",
      right: "40%", bottom: 0, itemHeight: 160, inRange: { color: [...colors].reverse() },
      formatter: (v: number) => `↓ ${formatXps(Math.abs(v), unit)}`,
    });
  }
  const series = [{ name: "Direct", type: "heatmap", data: cells(1), progressive: 0 }];
  if (reverse) series.push({ name: "Reverse", type: "heatmap", data: cells(2), progressive: 0 });
  return {
    animation: false,
    tooltip: {
      trigger: "item", confine: true,
      formatter: (p: { value: [number, number, number] }) =>
        `${new Date(times[p.value[0]]).toLocaleString()}<br>${names[p.value[1]]}<br><b>${formatXps(Math.abs(p.value[2]), unit)}</b>`,
    },
    grid: { left: 160, right: 24, top: 16, bottom: 72 },
    // Dragging across selects time buckets to zoom on (as on the line graphs).
    brush: { xAxisIndex: 0, brushType: "lineX", brushMode: "single", throttleType: "debounce", transformable: false, outOfBrush: { colorAlpha: 1 } },
    xAxis: {
      type: "category", data: times,
      axisLabel: { hideOverlap: true, formatter: (t: string) => new Date(Number(t)).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) },
    },
    yAxis: { type: "category", data: names, axisLabel: { width: 150, overflow: "truncate" } },
    visualMap,
    series,
  };
}

/**
 * Sankey option; node names may be plain strings (older API) or {name, axis}. A bidirectional
 * answer (links of axis 2) is drawn as Akvorado draws it: the direct sankey on the left half,
 * the reverse one mirrored on the right half (its links turned around, so its first dimension
 * is at the far right and both halves meet at their last dimension), each titled with its
 * axis name.
 */
export function sankeyOption(r: SankeyResponse, unit: string): Record<string, unknown> {
  const axisOf = (a: number | undefined) => a ?? 1;
  const nodesOf = (axis: number) =>
    r.nodes
      .map((n, i) => ({ name: typeof n === "string" ? n : n.name, axis: typeof n === "string" ? 1 : axisOf(n.axis), i }))
      .filter((n) => n.axis === axis)
      .map((n) => ({ name: n.name, itemStyle: { color: palette[n.i % palette.length] } }));
  const linksOf = (axis: number, mirrored: boolean) =>
    r.links
      .filter((l) => axisOf(l.axis) === axis)
      .map((l) => (mirrored ? { source: l.target, target: l.source, value: l.xps } : { source: l.source, target: l.target, value: l.xps }));
  const bidirectional = r.links.some((l) => axisOf(l.axis) === 2);
  const base = {
    type: "sankey", top: bidirectional ? 40 : 16, bottom: 16, nodeGap: 10, draggable: false,
    emphasis: { focus: "adjacency" }, lineStyle: { color: "gradient", opacity: 0.35 },
  };
  const tooltip = {
    trigger: "item",
    formatter: (p: { dataType: string; seriesIndex?: number; data: { source?: string; target?: string; name?: string }; value: number }) => {
      if (p.dataType !== "edge") return `${p.data.name}<br><b>${formatXps(p.value, unit)}</b>`;
      // The mirrored half's links were turned around: show them in the flows' direction.
      const [from, to] = p.seriesIndex === 1 ? [p.data.target, p.data.source] : [p.data.source, p.data.target];
      return `${from} → ${to}<br><b>${formatXps(p.value, unit)}</b>`;
    },
  };
  if (!bidirectional) {
    return {
      animation: false, tooltip,
      series: [{ ...base, left: 16, right: 220, label: { fontSize: 11, width: 210, overflow: "truncate" }, data: nodesOf(1), links: linksOf(1, false) }],
    };
  }
  const names = r["axis-names"] ?? {};
  return {
    animation: false, tooltip,
    title: [
      { text: names["1"] ?? "Direct", left: "4%", top: 4, textStyle: { fontSize: 12, fontWeight: "normal" } },
      { text: names["2"] ?? "Reverse", right: "4%", top: 4, textStyle: { fontSize: 12, fontWeight: "normal" } },
    ],
    series: [
      { ...base, left: 16, right: "54%", label: { fontSize: 11, width: 120, overflow: "truncate" }, data: nodesOf(1), links: linksOf(1, false) },
      { ...base, left: "54%", right: 16, label: { fontSize: 11, width: 120, overflow: "truncate", position: "left" }, data: nodesOf(2), links: linksOf(2, true) },
    ],
  };
}
