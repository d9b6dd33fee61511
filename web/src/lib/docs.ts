// The documentation pages (docs/*.md of the repository, bundled at build time) and their rendering.
import { Marked, type Tokens } from "marked";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import yaml from "highlight.js/lib/languages/yaml";
import json from "highlight.js/lib/languages/json";
import sql from "highlight.js/lib/languages/sql";
import cpp from "highlight.js/lib/languages/cpp";
import ini from "highlight.js/lib/languages/ini";

hljs.registerLanguage("bash", bash);
hljs.registerLanguage("sh", bash);
hljs.registerLanguage("shell", bash);
hljs.registerLanguage("console", bash);
hljs.registerLanguage("yaml", yaml);
hljs.registerLanguage("json", json);
hljs.registerLanguage("sql", sql);
hljs.registerLanguage("cpp", cpp);
hljs.registerLanguage("ini", ini);

export interface DocPage {
  name: string; // "web-console" for docs/05-web-console.md
  file: string;
  title: string;
  markdown: string;
}

/** "05-web-console.md" → "web-console". */
export function docName(file: string): string {
  return file.replace(/^.*\//, "").replace(/\.md$/, "").replace(/^\d+-/, "");
}

export function slugify(text: string): string {
  return text.toLowerCase().replace(/<[^>]+>/g, "").replace(/[^\w\s-]/g, "").trim().replace(/\s+/g, "-");
}

/** Pages from {path: markdown}, ordered by file name. */
export function pagesFrom(files: Record<string, string>): DocPage[] {
  return Object.entries(files)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([file, markdown]) => ({
      name: docName(file),
      file: file.replace(/^.*\//, ""),
      title: /^#\s+(.+)$/m.exec(markdown)?.[1].trim() ?? docName(file),
      markdown,
    }));
}

export interface Rendered {
  html: string;
  toc: { level: number; text: string; id: string }[];
}

/** Markdown → HTML with heading anchors, highlighted code, and links to other pages rewritten. */
export function renderDoc(markdown: string): Rendered {
  const toc: Rendered["toc"] = [];
  const used = new Map<string, number>();
  const marked = new Marked({
    gfm: true,
    renderer: {
      heading(this: { parser: { parseInline(t: Tokens.Generic[]): string } }, { tokens, depth, text }: Tokens.Heading) {
        let id = slugify(text);
        const n = used.get(id) ?? 0;
        used.set(id, n + 1);
        if (n) id = `${id}-${n}`;
        const inner = this.parser.parseInline(tokens);
        if (depth >= 2 && depth <= 3) toc.push({ level: depth, text: inner.replace(/<[^>]+>/g, ""), id });
        return `<h${depth} id="${id}"><a href="#${id}" class="!no-underline !text-inherit">${inner}</a></h${depth}>\n`;
      },
      code({ text, lang }: Tokens.Code) {
        const language = lang && hljs.getLanguage(lang) ? lang : undefined;
        const html = language ? hljs.highlight(text, { language }).value : text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
        return `<pre><code class="hljs${language ? ` language-${language}` : ""}">${html}</code></pre>\n`;
      },
      link({ href, title, tokens }: Tokens.Link) {
        const text = (this as unknown as { parser: { parseInline(t: Tokens.Generic[]): string } }).parser.parseInline(tokens);
        let target = href;
        const m = /^(?:\.\/)?(\d+-[\w-]+)\.md(#.*)?$/.exec(href);
        // Relative to the page's <base href>, so that it also opens in a new tab under a prefix.
        if (m) target = `docs/${docName(m[1])}${m[2] ?? ""}`;
        const external = /^https?:/.test(target);
        return `<a href="${target}"${title ? ` title="${title}"` : ""}${external ? ' target="_blank" rel="noopener"' : ""}>${text}</a>`;
      },
    },
  });
  return { html: marked.parse(markdown, { async: false }) as string, toc };
}
