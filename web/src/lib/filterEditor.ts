// CodeMirror 6 support for the filter language: highlighting, server-side lint
// (filter/validate) and completion (filter/complete) on Ctrl-Space.
import { StreamLanguage, type StreamParser, syntaxHighlighting, HighlightStyle } from "@codemirror/language";
import { linter, type Diagnostic } from "@codemirror/lint";
import type { CompletionContext, CompletionResult, CompletionSource } from "@codemirror/autocomplete";
import { tags as t } from "@lezer/highlight";
import type { Completion, ValidateResponse } from "./api";

const keywords = new Set(["and", "or", "not", "in", "notin", "like", "ilike", "unlike", "iunlike"]);
const constants = new Set(["external", "internal", "undefined", "ingress", "egress", "ipv4", "ipv6"]);

const parser: StreamParser<{ inBlock: boolean }> = {
  name: "akvo-filter",
  startState: () => ({ inBlock: false }),
  token(stream, state) {
    if (state.inBlock) {
      if (stream.skipTo("*/")) {
        stream.next();
        stream.next();
        state.inBlock = false;
      } else stream.skipToEnd();
      return "comment";
    }
    if (stream.eatSpace()) return null;
    if (stream.match("--")) {
      stream.skipToEnd();
      return "comment";
    }
    if (stream.match("/*")) {
      state.inBlock = true;
      return "comment";
    }
    const ch = stream.peek();
    if (ch === '"' || ch === "'") {
      stream.next();
      let escaped = false;
      for (;;) {
        const c = stream.next();
        if (c === undefined) break;
        if (c === ch && !escaped) break;
        escaped = !escaped && c === "\\";
      }
      return "string";
    }
    if (stream.match(/^(!<<|<<|!=|<=|>=|=|<|>)/)) return "operator";
    if (stream.match(/^[()]/)) return "paren";
    if (stream.match(/^,/)) return "punctuation";
    // Addresses, prefixes, MACs, communities, numbers, ASNs.
    if (stream.match(/^(AS)?\d[\w.:/]*/i) || stream.match(/^[0-9a-f]*:[0-9a-f:./]+/i)) return "number";
    if (stream.match(/^[A-Za-z][A-Za-z0-9]*/)) {
      const w = stream.current().toLowerCase();
      if (keywords.has(w)) return "keyword";
      if (constants.has(w)) return "atom";
      return "variableName";
    }
    stream.next();
    return null;
  },
  languageData: { commentTokens: { line: "--", block: { open: "/*", close: "*/" } } },
};

export const filterLanguage = StreamLanguage.define(parser);

export const filterHighlight = syntaxHighlighting(
  HighlightStyle.define([
    { tag: t.keyword, color: "#7c3aed", fontWeight: "600" },
    { tag: t.variableName, color: "#0f766e", fontWeight: "500" },
    { tag: t.string, color: "#b45309" },
    { tag: t.number, color: "#2563eb" },
    { tag: t.atom, color: "#c026d3" },
    { tag: t.operator, color: "#64748b" },
    { tag: t.comment, color: "#94a3b8", fontStyle: "italic" },
  ]),
);

/** Diagnostics for a validate answer, placed at each error's offset (to the end of its word). */
export function diagnosticsFor(text: string, response: ValidateResponse): Diagnostic[] {
  if (!response.errors?.length) return [];
  return response.errors.map((e) => {
    let from = Math.max(0, Math.min(e.offset ?? 0, text.length));
    // An error at the very end (missing operand) marks the last word instead of nothing.
    if (from === text.length && from > 0) {
      while (from > 0 && /\s/.test(text[from - 1])) from--;
      while (from > 0 && !/\s/.test(text[from - 1])) from--;
    }
    let to = from;
    while (to < text.length && !/\s/.test(text[to])) to++;
    if (to === from) to = Math.min(text.length, from + 1);
    return { from, to, severity: "error" as const, message: e.message };
  });
}

/** A linter calling `validate(text)`; `onResult` also gets the answer (message under the editor). */
export function filterLinter(validate: (text: string) => Promise<ValidateResponse>, onResult?: (r: ValidateResponse | Error) => void) {
  return linter(
    async (view) => {
      const text = view.state.doc.toString();
      try {
        const r = await validate(text);
        onResult?.(r);
        return diagnosticsFor(text, r);
      } catch (e) {
        onResult?.(e as Error);
        return [];
      }
    },
    { delay: 300 },
  );
}

export interface CompletionQuery {
  what: "column" | "operator" | "value";
  column?: string;
  /** For a value: the operator before it (the API offers column names only where they fit). */
  operator?: string;
  prefix: string;
  from: number;
}

/**
 * What to complete at `pos`: a column at the start of a condition, an operator after a column,
 * a value after an operator. Comments and strings are skipped by the tokenizer.
 */
export function completionQuery(text: string, pos: number): CompletionQuery {
  const before = text.slice(0, pos);
  const tokens: { text: string; start: number }[] = [];
  const re = /--[^\n]*|\/\*[\s\S]*?(\*\/|$)|"(?:\\.|[^"\\])*"?|'(?:\\.|[^'\\])*'?|!<<|<<|!=|<=|>=|=|<|>|[(),]|[^\s()=<>!,"']+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(before))) {
    if (m[0].startsWith("--") || m[0].startsWith("/*")) continue;
    tokens.push({ text: m[0], start: m.index });
  }
  // The word being typed (if the cursor touches one) is the prefix.
  let prefix = "";
  let from = pos;
  const last = tokens[tokens.length - 1];
  if (last && last.start + last.text.length === pos && !/^[(),]$/.test(last.text) && !/\s$/.test(before)) {
    if (!/^(!<<|<<|!=|<=|>=|=|<|>)$/.test(last.text)) {
      prefix = last.text;
      from = last.start;
      tokens.pop();
    }
  }
  const prev = tokens[tokens.length - 1]?.text;
  const prev2 = tokens[tokens.length - 2]?.text;
  const isOp = (s?: string) => !!s && /^(!<<|<<|!=|<=|>=|=|<|>|in|notin|like|ilike|unlike|iunlike)$/i.test(s);
  const isJoin = (s?: string) => !s || /^(and|or|not|\()$/i.test(s);
  if (isJoin(prev)) return { what: "column", prefix: prefix.replace(/^["']/, ""), from };
  if (isOp(prev) || (prev === "(" || prev === ",")) {
    // Walk back to the column of this condition.
    let i = tokens.length - 1;
    while (i >= 0 && !isOp(tokens[i].text)) i--;
    const column = i > 0 ? tokens[i - 1].text : undefined;
    const operator = i >= 0 ? tokens[i].text.toUpperCase() : undefined;
    return { what: "value", column, operator, prefix: prefix.replace(/^["']/, ""), from };
  }
  if (prev && /^[A-Za-z][A-Za-z0-9]*$/.test(prev) && isJoin(prev2)) return { what: "operator", column: prev, prefix, from };
  return { what: "column", prefix, from };
}

/** A completion source asking `complete(query)` (the API) for labels. */
export function filterCompletion(complete: (q: { what: string; column?: string; operator?: string; prefix: string; limit: number }) => Promise<Completion[]>): CompletionSource {
  return async (ctx: CompletionContext): Promise<CompletionResult | null> => {
    const text = ctx.state.doc.toString();
    const q = completionQuery(text, ctx.pos);
    if (!ctx.explicit && q.prefix === "") return null;
    let items: Completion[];
    try {
      items = await complete({ what: q.what, column: q.column, operator: q.operator, prefix: q.prefix, limit: 20 });
    } catch {
      return null;
    }
    return {
      from: q.from,
      options: items.map((c) => ({
        label: c.quoted ? `"${c.label}"` : c.label,
        detail: c.detail,
        type: q.what === "column" ? "variable" : q.what === "operator" ? "keyword" : "constant",
        apply: (c.quoted ? `"${c.label}"` : c.label) + (q.what === "value" ? "" : " "),
      })),
      filter: false,
    };
  };
}
