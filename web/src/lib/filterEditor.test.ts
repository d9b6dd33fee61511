import { describe, expect, it, vi, afterEach } from "vitest";
import { mount, flushPromises } from "@vue/test-utils";
import { EditorView } from "@codemirror/view";
import { completionQuery, diagnosticsFor } from "./filterEditor";
import FilterEditor from "../components/FilterEditor.vue";

describe("filter completion context", () => {
  it("completes columns, then operators, then values", () => {
    expect(completionQuery("", 0)).toMatchObject({ what: "column", prefix: "" });
    expect(completionQuery("Src", 3)).toMatchObject({ what: "column", prefix: "Src", from: 0 });
    expect(completionQuery("SrcAS ", 6)).toMatchObject({ what: "operator", column: "SrcAS" });
    expect(completionQuery("SrcAS = ", 8)).toMatchObject({ what: "value", column: "SrcAS", operator: "=", prefix: "" });
    expect(completionQuery("InIfName like \"Gi", 17)).toMatchObject({ what: "value", column: "InIfName", operator: "LIKE", prefix: "Gi" });
    expect(completionQuery("SrcAS = goo", 11)).toMatchObject({ what: "value", column: "SrcAS", prefix: "goo", from: 8 });
    expect(completionQuery("SrcAS = 1 AND Dst", 17)).toMatchObject({ what: "column", prefix: "Dst", from: 14 });
    expect(completionQuery("Proto IN (\"TCP\", ", 17)).toMatchObject({ what: "value", column: "Proto" });
    expect(completionQuery("SrcCountry = \"F", 15)).toMatchObject({ what: "value", column: "SrcCountry", prefix: "F" });
    expect(completionQuery("-- SrcAS =\nNOT ", 15)).toMatchObject({ what: "column" });
  });
  it("places diagnostics at the error offset", () => {
    const d = diagnosticsFor("SrcAS = 15169 AND", { message: "x", errors: [{ message: "expecting a condition", line: 1, column: 15, offset: 14 }] });
    expect(d).toEqual([{ from: 14, to: 17, severity: "error", message: "expecting a condition" }]);
    expect(diagnosticsFor("SrcAS = 1", { message: "ok" })).toEqual([]);
    // At the end of the text: the last word is marked.
    expect(diagnosticsFor("SrcAS = ", { message: "x", errors: [{ message: "expecting a value", line: 1, column: 9, offset: 8 }] })[0]).toMatchObject({ from: 6, to: 7 });
  });
});

describe("FilterEditor component", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("validates with the API, shows the error under the editor, and updates the model", async () => {
    const calls: unknown[] = [];
    vi.stubGlobal("fetch", vi.fn(async (url: string, init: RequestInit) => {
      calls.push([url, JSON.parse(String(init.body))]);
      const body = JSON.parse(String(init.body)) as { filter: string };
      const bad = body.filter.endsWith("AND");
      return new Response(JSON.stringify(bad
        ? { message: "error", errors: [{ message: "expecting a condition", line: 1, column: 15, offset: 14 }] }
        : { message: "ok", parsed: "x" }), { status: 200, headers: { "Content-Type": "application/json" } });
    }));
    const wrapper = mount(FilterEditor, { props: { modelValue: "SrcAS = 15169", "onUpdate:modelValue": (v: string) => wrapper.setProps({ modelValue: v }) }, attachTo: document.body });
    const view = EditorView.findFromDOM(wrapper.find(".cm-editor").element as HTMLElement)!;
    expect(view.state.doc.toString()).toBe("SrcAS = 15169");
    view.dispatch({ changes: { from: view.state.doc.length, insert: " AND" } });
    expect(wrapper.emitted("update:modelValue")?.at(-1)).toEqual(["SrcAS = 15169 AND"]);
    await vi.waitFor(async () => {
      await flushPromises();
      expect(wrapper.find('[data-testid="filter-error"]').exists()).toBe(true);
    }, { timeout: 3000, interval: 100 });
    expect(wrapper.find('[data-testid="filter-error"]').text()).toContain("expecting a condition");
    expect(calls.at(-1)).toEqual(["api/v0/console/filter/validate", { filter: "SrcAS = 15169 AND" }]);
    // Fixing it clears the message.
    view.dispatch({ changes: { from: 13, to: view.state.doc.length, insert: "" } });
    await vi.waitFor(async () => {
      await flushPromises();
      expect(wrapper.find('[data-testid="filter-error"]').exists()).toBe(false);
    }, { timeout: 3000, interval: 100 });
    wrapper.unmount();
  });
});
