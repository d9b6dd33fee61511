// Calls to akvo's console API (/api/v0/console/...). Errors carry the server's JSON message.

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Relative: resolved against the page's <base href> (console.url-prefix). */
export const apiBase = "api/v0/console";

/** Sorts object keys recursively so identical requests have identical bodies (server cache). */
export function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object).sort()) out[k] = sort((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  return JSON.stringify(sort(value));
}

/** Fetches `path` under the console API; JSON in, JSON out; throws ApiError. */
export async function api<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path.startsWith("api/") ? path : `${apiBase}/${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: init.body === undefined ? {} : { "Content-Type": "application/json" },
      body: init.body === undefined ? undefined : sortedJson(init.body),
      signal: init.signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(`cannot reach akvo: ${(e as Error).message}`, 0);
  }
  const sql = response.headers.get("X-SQL-Query");
  if (sql) console.debug(`SQL for ${path}:\n${sql}`);
  const text = await response.text();
  if (!response.ok) {
    let message = text || response.statusText;
    try {
      const parsed = JSON.parse(text) as { message?: string };
      if (parsed.message) message = parsed.message;
    } catch {
      /* not JSON: keep the text */
    }
    throw new ApiError(`${message} (HTTP ${response.status})`, response.status);
  }
  if (response.status === 204 || text === "") return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(`invalid JSON from ${path}`, response.status);
  }
}

// Shapes of the console API (Akvorado's).
export interface ConsoleConfiguration {
  version: string;
  defaultVisualizeOptions: Partial<{
    graphType: string;
    start: string;
    end: string;
    filter: string;
    dimensions: string[];
    limit: number;
    limitType: string;
    bidirectional: boolean;
    previousPeriod: boolean;
  }>;
  dimensionsLimit: number;
  dimensions: string[];
  truncatable: string[];
  /** How a value of a dimension is written in a filter (absent: the dimension's own syntax). */
  dimensionKinds?: Record<string, "string" | "uint" | "ip">;
  homepageTopWidgets: string[];
  branding?: boolean;
}

export interface LineRequest {
  start: string;
  end: string;
  dimensions: string[];
  limit: number;
  limitType: string;
  filter: string;
  "truncate-v4": number;
  "truncate-v6": number;
  units: string;
  points: number;
  bidirectional: boolean;
  "previous-period": boolean;
}

export interface LineResponse {
  t: string[];
  rows: string[][];
  points: number[][];
  axis: number[];
  "axis-names"?: Record<string, string>;
  average: number[];
  min: number[];
  max: number[];
  last?: number[];
  "95th": number[];
  total?: number[];
}

export interface SankeyResponse {
  rows: string[][];
  xps: number[];
  axis?: number[];
  nodes: (string | { name: string; axis?: number })[];
  links: { source: string; target: string; xps: number; axis?: number }[];
  "axis-names"?: Record<string, string>;
}

export interface SavedFilter {
  id: number;
  user: string;
  shared: boolean;
  description: string;
  content: string;
}

export interface UserInfo {
  login: string;
  name?: string;
  email?: string;
  "logout-url"?: string;
  "avatar-url"?: string;
}

export interface ValidateResponse {
  message: string;
  parsed?: string;
  errors?: { message: string; line: number; column: number; offset: number }[];
}

export interface Completion {
  label: string;
  detail?: string;
  quoted?: boolean;
}
