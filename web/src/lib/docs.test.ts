import { describe, expect, it } from "vitest";
import { docName, pagesFrom, renderDoc } from "./docs";

describe("documentation pages", () => {
  it("names and orders pages by file", () => {
    const pages = pagesFrom({ "../../docs/05-web-console.md": "# Web console\n", "../../docs/00-intro.md": "# Introduction\n" });
    expect(pages.map((p) => [p.name, p.title])).toEqual([["intro", "Introduction"], ["web-console", "Web console"]]);
    expect(docName("01-configuration.md")).toBe("configuration");
  });
  it("renders anchors, a table of contents, highlighted code and page links", () => {
    const r = renderDoc("# T\n## Set up\ntext [api](03-console-api.md#graphs)\n## Set up\n```yaml\nkey: 1\n```\n");
    expect(r.toc.map((h) => h.id)).toEqual(["set-up", "set-up-1"]);
    expect(r.html).toContain('id="set-up"');
    expect(r.html).toContain('href="docs/console-api#graphs"');
    expect(r.html).toContain("hljs-attr");
  });
});
