// Building filter expressions from values shown in the UI (a table cell, a pie slice).

const quoted = (v: string) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/**
 * How a dimension's displayed value becomes a filter operand. `kind` (the configuration's
 * dimensionKinds) decides for plain strings, numbers and addresses, custom dictionary columns
 * included; the others have their own syntax, known here by name.
 */
export function filterOperand(dimension: string, value: string, kind?: string): string | null {
  const v = value.trim();
  if (v === "" || v === "Other" || v === "Unknown") return null;
  if (/AS$/.test(dimension)) {
    // "64501: ACME" or "AS64501"
    const m = /^(?:AS)?(\d+)/i.exec(v);
    return m ? m[1] : null;
  }
  if (/Port$/.test(dimension)) {
    // "443/https", "TCP/443", "443"
    const m = /(?:^|\/)(\d+)(?:\/|$)/.exec(v);
    return m ? m[1] : null;
  }
  if (dimension === "TCPFlags" && /^[FSRP.UECN]+$/.test(v)) {
    // "S." as the console shows flags (tcpdump's letters, "." for ACK): 18.
    return String([...v].reduce((n, c) => n | (1 << "FSRP.UECN".indexOf(c)), 0));
  }
  if (/Boundary$/.test(dimension) || dimension === "EType" || dimension === "FlowDirection") return v;
  if (kind === "string") return quoted(v);
  if (kind === "uint") return /^\d+$/.test(v) ? v : null;
  if (kind === "ip") return v.replace(/^::ffff:/, "");
  if (/^(ExporterAddress|(Src|Dst)Addr(NAT)?|NextHop)$/.test(dimension)) return v.replace(/^::ffff:/, "");
  if (/^(VLAN|Src|Dst|In|Out)?(VLAN|Speed|TTL|ToS|PacketSize|FlowLabel|FragmentID|FragmentOffset|ICMPv[46]Type|ICMPv[46]Code|TCPFlags|ForwardingStatus|MPLSLabels|VRF)$/.test(dimension) && /^\d+$/.test(v))
    return v;
  return quoted(v);
}

/** `Dimension = value` for a displayed value, null when the value cannot be filtered on. */
export function conditionFor(dimension: string, value: string, kind?: string): string | null {
  const operand = filterOperand(dimension, value, kind);
  return operand === null ? null : `${dimension} = ${operand}`;
}

/** Adds a condition to an existing filter with AND (parenthesising an OR-filter). */
export function addCondition(filter: string, condition: string): string {
  const f = filter.trim();
  if (f === "") return condition;
  const needsParens = /\bor\b/i.test(f.replace(/(["'])(?:\\.|(?!\1).)*\1/g, ""));
  return `${needsParens ? `(${f})` : f} AND ${condition}`;
}

/** Home top widgets: their name in the API and the dimension and boundary they stand for. */
export const topWidgets: Record<string, { title: string; dimension: string; filter: string }> = {
  "src-as": { title: "Top source AS", dimension: "SrcAS", filter: "InIfBoundary = external" },
  "dst-as": { title: "Top destination AS", dimension: "DstAS", filter: "OutIfBoundary = external" },
  "src-port": { title: "Top source ports", dimension: "SrcPort", filter: "InIfBoundary = external" },
  "dst-port": { title: "Top destination ports", dimension: "DstPort", filter: "OutIfBoundary = external" },
  protocol: { title: "Top protocols", dimension: "Proto", filter: "InIfBoundary = external" },
  "src-country": { title: "Top source countries", dimension: "SrcCountry", filter: "InIfBoundary = external" },
  "dst-country": { title: "Top destination countries", dimension: "DstCountry", filter: "OutIfBoundary = external" },
  etype: { title: "IPv4 / IPv6", dimension: "EType", filter: "InIfBoundary = external" },
  exporter: { title: "Top exporters", dimension: "ExporterName", filter: "InIfBoundary = external" },
};
