// Human units for traffic values: the graph's axes, tooltips and table.

export type Unit = "l3bps" | "l2bps" | "pps" | "fps" | "inl2%" | "outl2%";

export const units: { value: Unit; label: string; short: string }[] = [
  { value: "l3bps", label: "L3 bits/s", short: "bps" },
  { value: "l2bps", label: "L2 bits/s", short: "bps" },
  { value: "pps", label: "Packets/s", short: "pps" },
  { value: "fps", label: "Flows/s", short: "fps" },
  { value: "inl2%", label: "% of in interface", short: "%" },
  { value: "outl2%", label: "% of out interface", short: "%" },
];

/** 1234567 → "1.23M" (SI prefixes, 3 significant digits). */
export function siFormat(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  const prefixes = ["", "k", "M", "G", "T", "P", "E"];
  let i = 0;
  let v = abs;
  while (v >= 999.5 && i < prefixes.length - 1) {
    v /= 1000;
    i++;
  }
  let text = v === 0 ? "0" : v.toPrecision(digits);
  if (text.includes("e")) text = String(Math.round(v));
  if (text.includes(".")) text = text.replace(/\.?0+$/, "");
  return `${value < 0 ? "-" : ""}${text}${prefixes[i]}`;
}

/** A value in the given unit: "1.5Gbps", "320kpps", "42.5%". */
export function formatXps(value: number, unit: Unit | string): string {
  if (!Number.isFinite(value)) return "–";
  switch (unit) {
    case "l3bps":
    case "l2bps":
      return `${siFormat(value)}bps`;
    case "pps":
      return `${siFormat(value)}pps`;
    case "fps":
      return `${siFormat(value)}fps`;
    case "inl2%":
    case "outl2%":
      return `${Math.abs(value) >= 10 ? value.toFixed(1) : value.toPrecision(2)}%`;
    default:
      return siFormat(value);
  }
}

/** A series' total over the range (the API's `total`): bytes for bit units, else packets or flows. */
export function formatTotal(value: number, unit: Unit | string): string {
  if (!Number.isFinite(value)) return "–";
  switch (unit) {
    case "l3bps":
    case "l2bps":
      return `${siFormat(value)}B`;
    case "pps":
      return `${siFormat(value)} packets`;
    case "fps":
      return `${siFormat(value)} flows`;
    default:
      return siFormat(value);
  }
}

/** Flows per second for the home widget: "1,234 flows/s" style with SI prefixes past 10k. */
export function formatRate(rate: number): string {
  if (!Number.isFinite(rate)) return "–";
  if (rate < 10000) return rate < 10 ? rate.toFixed(1) : Math.round(rate).toLocaleString("en-US");
  return siFormat(rate);
}

/** Bytes as "12.3 GB". */
export function formatBytes(value: number): string {
  return `${siFormat(value)}B`;
}

/** A duration in seconds as "1h", "6h", "7d", "45m". */
export function formatDuration(seconds: number): string {
  const s = Math.abs(seconds);
  if (s >= 86400 && s % 86400 === 0) return `${s / 86400}d`;
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60) return `${Math.round(s / 60)}m`;
  return `${Math.round(s)}s`;
}
