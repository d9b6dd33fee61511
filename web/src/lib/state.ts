// The Visualize page's state: defaults, validation, and its encoding in the URL
// ("v1-" + LZ-string of the key-sorted JSON, as Akvorado does), so a graph is a link.
import { compressToEncodedURIComponent, decompressFromEncodedURIComponent } from "lz-string";
import { sortedJson, type ConsoleConfiguration, type LineRequest } from "./api";
import { resolveRange } from "./timeparse";
import type { Unit } from "./units";

export type GraphType = "stacked" | "stacked100" | "lines" | "grid" | "heatmap" | "sankey";
export type LimitType = "avg" | "max" | "last";

export interface VisualizeState {
  graphType: GraphType;
  units: Unit;
  start: string;
  end: string;
  dimensions: string[];
  limit: number;
  limitType: LimitType;
  filter: string;
  truncateV4: number;
  truncateV6: number;
  bidirectional: boolean;
  previousPeriod: boolean;
}

export const graphTypes: { value: GraphType; label: string }[] = [
  { value: "stacked", label: "Stacked areas" },
  { value: "stacked100", label: "Stacked 100 %" },
  { value: "lines", label: "Lines" },
  { value: "grid", label: "Grid" },
  { value: "heatmap", label: "Heatmap" },
  { value: "sankey", label: "Sankey" },
];

const unitValues = ["l3bps", "l2bps", "pps", "fps", "inl2%", "outl2%"];
const limitTypes = ["avg", "max", "last"];

export const builtinDefaults: VisualizeState = {
  graphType: "stacked",
  units: "l3bps",
  start: "6 hours ago",
  end: "now",
  dimensions: ["SrcAS"],
  limit: 10,
  limitType: "avg",
  filter: "InIfBoundary = external",
  truncateV4: 32,
  truncateV6: 128,
  bidirectional: false,
  previousPeriod: false,
};

/** Defaults from the server's configuration (default-visualize-options), over the built-in ones. */
export function defaultsFrom(config?: ConsoleConfiguration | null): VisualizeState {
  const o = config?.defaultVisualizeOptions ?? {};
  return sanitize(
    {
      graphType: o.graphType as GraphType,
      start: o.start,
      end: o.end,
      filter: o.filter,
      dimensions: o.dimensions,
      limit: o.limit,
      limitType: o.limitType as LimitType,
      bidirectional: o.bidirectional,
      previousPeriod: o.previousPeriod,
    },
    builtinDefaults,
  );
}

/** Keeps each valid field of `input`, takes the default for the others. */
export function sanitize(input: unknown, defaults: VisualizeState, limitMax = 50): VisualizeState {
  const i = (input && typeof input === "object" ? input : {}) as Record<string, unknown>;
  const str = (k: keyof VisualizeState) => (typeof i[k] === "string" ? (i[k] as string) : (defaults[k] as string));
  const bool = (k: keyof VisualizeState) => (typeof i[k] === "boolean" ? (i[k] as boolean) : (defaults[k] as boolean));
  const int = (k: keyof VisualizeState, min: number, max: number) => {
    const v = i[k];
    return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? v : (defaults[k] as number);
  };
  const oneOf = <T extends string>(k: keyof VisualizeState, values: readonly string[]) =>
    (typeof i[k] === "string" && values.includes(i[k] as string) ? i[k] : defaults[k]) as T;
  const dims = Array.isArray(i.dimensions) && i.dimensions.every((d) => typeof d === "string" && /^[A-Za-z0-9]+$/.test(d))
    ? (i.dimensions as string[])
    : defaults.dimensions;
  return {
    graphType: oneOf<GraphType>("graphType", graphTypes.map((g) => g.value)),
    units: oneOf<Unit>("units", unitValues),
    start: str("start").trim() || defaults.start,
    end: str("end").trim() || defaults.end,
    dimensions: [...new Set(dims)],
    limit: int("limit", 1, limitMax),
    limitType: oneOf<LimitType>("limitType", limitTypes),
    filter: str("filter"),
    truncateV4: int("truncateV4", 0, 32),
    truncateV6: int("truncateV6", 0, 128),
    bidirectional: bool("bidirectional"),
    previousPeriod: bool("previousPeriod"),
  };
}

/** The URL segment for a state. */
export function encodeState(state: VisualizeState): string {
  return `v1-${compressToEncodedURIComponent(sortedJson(state))}`;
}

/** The state of a URL segment; defaults for what is missing or invalid (a bad link still opens). */
export function decodeState(segment: string | undefined | null, defaults: VisualizeState, limitMax = 50): VisualizeState {
  if (!segment) return { ...defaults };
  let json: string | null = null;
  if (segment.startsWith("v1-")) {
    json = decompressFromEncodedURIComponent(segment.slice(3));
  } else {
    // Older links: plain base64 JSON.
    try {
      json = atob(segment.replace(/-/g, "+").replace(/_/g, "/"));
    } catch {
      json = null;
    }
  }
  if (!json) return { ...defaults };
  try {
    return sanitize(JSON.parse(json), defaults, limitMax);
  } catch {
    return { ...defaults };
  }
}

/** Points asked for a graph type (fewer for small multiples). */
export function pointsFor(graphType: GraphType): number {
  return graphType === "grid" ? 50 : 200;
}

/** The body of POST graph/line (or graph/sankey, which ignores points) for a state. */
export function lineRequest(state: VisualizeState, now: Date = new Date()): LineRequest {
  const r = resolveRange(state.start, state.end, now);
  return {
    start: r.start.toISOString().replace(/\.\d{3}Z$/, "Z"),
    end: r.end.toISOString().replace(/\.\d{3}Z$/, "Z"),
    dimensions: state.dimensions,
    limit: state.limit,
    limitType: state.limitType,
    filter: state.filter,
    "truncate-v4": state.truncateV4,
    "truncate-v6": state.truncateV6,
    units: state.units,
    points: pointsFor(state.graphType),
    bidirectional: state.bidirectional,
    "previous-period": state.previousPeriod && state.graphType === "stacked",
  };
}
