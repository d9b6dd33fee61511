import { describe, expect, it } from "vitest";
import { addCondition, conditionFor } from "./filter";

describe("filter from displayed values", () => {
  it("writes each class of value as the filter language wants it", () => {
    expect(conditionFor("SrcAS", "15169: Google")).toBe("SrcAS = 15169");
    expect(conditionFor("DstAS", "AS64501")).toBe("DstAS = 64501");
    expect(conditionFor("SrcPort", "443/https")).toBe("SrcPort = 443");
    expect(conditionFor("DstPort", "TCP/8080")).toBe("DstPort = 8080");
    expect(conditionFor("EType", "IPv6")).toBe("EType = IPv6");
    expect(conditionFor("InIfBoundary", "external")).toBe("InIfBoundary = external");
    expect(conditionFor("SrcAddr", "::ffff:192.0.2.1")).toBe("SrcAddr = 192.0.2.1");
    expect(conditionFor("SrcCountry", "FR")).toBe('SrcCountry = "FR"');
    expect(conditionFor("InIfDescription", 'say "hi"')).toBe('InIfDescription = "say \\"hi\\""');
    expect(conditionFor("DstPort", "80")).toBe("DstPort = 80");
    expect(conditionFor("TCPFlags", "S.")).toBe("TCPFlags = 18");
    expect(conditionFor("TCPFlags", "FSRP.UECN")).toBe("TCPFlags = 511");
    expect(conditionFor("SrcAS", "Other")).toBeNull();
    // Custom dictionary columns: their kind from the configuration, whatever their name says.
    expect(conditionFor("SrcAddrRole", "customers-a", "string")).toBe('SrcAddrRole = "customers-a"');
    expect(conditionFor("SrcAddrRole", "customers-a")).toBe('SrcAddrRole = "customers-a"');  // not an address
    expect(conditionFor("ExporterNameCapacity", "100", "uint")).toBe("ExporterNameCapacity = 100");
    expect(conditionFor("ExporterNameCapacity", "n/a", "uint")).toBeNull();
    expect(conditionFor("DstPort", "TCP/8080", "uint")).toBe("DstPort = 8080");  // own syntax first
    expect(conditionFor("TCPFlags", "S.", "uint")).toBe("TCPFlags = 18");
  });
  it("adds with AND, parenthesising an OR", () => {
    expect(addCondition("", "SrcAS = 1")).toBe("SrcAS = 1");
    expect(addCondition("InIfBoundary = external", "SrcAS = 1")).toBe("InIfBoundary = external AND SrcAS = 1");
    expect(addCondition("SrcAS = 1 OR SrcAS = 2", "Proto = \"TCP\"")).toBe('(SrcAS = 1 OR SrcAS = 2) AND Proto = "TCP"');
    expect(addCondition('InIfName = "a or b"', "SrcAS = 1")).toBe('InIfName = "a or b" AND SrcAS = 1');
  });
});
