#!/usr/bin/env python3
"""The metrics reference (docs/12-metrics.md), generated from the sources: every metric akvo
registers, with its type, labels and help, grouped by component.

  tests/tools/metrics_reference.py > docs/12-metrics.md    regenerate it
  tests/tools/metrics_reference.py --check docs/12-metrics.md
                                                            exit 1 when the file is stale
  tests/tools/metrics_reference.py --exposed METRICS docs/12-metrics.md
                                                            exit 1 when a metric in METRICS (a
                                                            scrape of /api/v0/metrics) is not in
                                                            the file, or has other labels

Names are read where the code registers them (Metrics::counter, gauge, observe): the first
argument, a literal, and the help that follows (adjacent literals). The few names built at run
time (remote sources, refusals per kind) and helps held in constants are in DYNAMIC below.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
LIT = r'"(?:[^"\\]|\\.)*"'
KINDS = {"counter": "counter", "gauge": "gauge", "observe": "histogram", "histogram": "histogram"}

# Names built at run time, or whose help is a constant: (type, labels, help).
REMOTE = ("remote data sources ({}.sources): the source's name", "source")
DYNAMIC = {
    "akvo_outlet_decoder_netflow_templates_total": (
        "counter", ["exporter", "version", "obs_domain_id", "template_id", "type"],
        "NetFlow v9/IPFIX templates received (learned, redefined or resent; the refused ones are "
        "counted in akvo_outlet_decoder_refused_*), by exporter, version, observation domain, "
        "template id and type (template, options_template)."),
    "akvo_outlet_decoder_netflow_sets_total": (
        "counter", ["exporter", "version", "type"],
        "NetFlow sets (flowsets) decoded, by exporter, version and type (template, "
        "options_template, data, options_data; pdu: a NetFlow v5 datagram). Data sets whose "
        "template is unknown are in akvo_outlet_decoder_missing_template_total."),
    "akvo_outlet_decoder_netflow_records_total": (
        "counter", ["exporter", "version", "type"],
        "Records of the NetFlow sets decoded (template records, flow or options data records), "
        "by exporter, version and type of their set."),
    "akvo_outlet_decoder_sflow_samples_total": (
        "counter", ["exporter", "agent", "type"],
        "sFlow samples received, by exporter, agent and type (flow_sample, counter_sample, "
        "expanded_flow_sample, expanded_counter_sample)."),
    "akvo_outlet_decoder_sflow_sample_records_total": (
        "counter", ["exporter", "agent", "type"],
        "Records of the sFlow samples received, by exporter, agent and type of their sample."),
    "akvo_outlet_decoder_refused_templates_total": (
        "counter", ["exporter"],
        "NetFlow v9/IPFIX template ids refused: the observation domain has the most allowed."),
    "akvo_outlet_decoder_refused_samplers_total": (
        "counter", ["exporter"],
        "NetFlow v9/IPFIX sampler ids refused: the observation domain has the most allowed."),
    "akvo_outlet_decoder_refused_domains_total": (
        "counter", ["exporter"],
        "NetFlow v9/IPFIX datagrams of a new observation domain refused: the exporter (or the "
        "decoder) has the most domains allowed."),
    "akvo_outlet_decoder_refused_template_memory_total": (
        "counter", ["exporter"],
        "NetFlow v9/IPFIX templates (new or redefined) refused: the worker's decoder holds "
        "flow.template-max-bytes of templates."),
    "akvo_outlet_decoder_state_refused_total": (
        "counter", ["kind"],
        "NetFlow state file entries refused on load past the decoders' bounds "
        "(docs/02-decoders.md, Limits), by kind, summed over the workers."),
    "akvo_outlet_kafka_templates_refused_total": (
        "counter", ["kind"],
        "NetFlow templates, sampling rates and domains the shared templates refused past their "
        "bounds (docs/02-decoders.md, Limits), by kind."),
}
for prefix, what in (("akvo_outlet_metadata_static_remote", "outlet.metadata static provider's exporter"),
                     ("akvo_outlet_networks_remote", "outlet.networks network")):
    DYNAMIC[prefix + "_updates_total"] = ("counter", ["source"],
                                          f"Successful updates of a remote data source ({what} sources).")
    DYNAMIC[prefix + "_data_total"] = ("gauge", ["source"],
                                       f"Objects from the last successful update of a remote data source ({what} sources).")
    DYNAMIC[prefix + "_errors_total"] = ("counter", ["source", "error"],
                                         f"Failed updates of a remote data source ({what} sources).")
# Labels given through a variable at the call.
UDP = ["listener", "decoder"]
LABELS = {
    "akvo_inlet_flow_input_udp_packets_total": UDP, "akvo_inlet_flow_input_udp_bytes_total": UDP,
    "akvo_inlet_flow_input_udp_dropped_packets_total": UDP,
    "akvo_inlet_flow_input_udp_truncated_packets_total": UDP,
    "akvo_inlet_flow_input_udp_in_dropped_packets_total": UDP,
    "akvo_inlet_flow_input_udp_buffer_size_bytes": UDP,
    "akvo_outlet_decoder_packets_total": ["exporter"], "akvo_outlet_decoder_flows_total": ["exporter"],
    "akvo_outlet_decoder_missing_template_total": ["exporter"],
    "akvo_outlet_decoder_sequence_lost_total": ["exporter"],
    "akvo_console_store_queries_total": ["table"], "akvo_console_store_query_errors_total": ["table"],
    "akvo_console_store_query_duration_seconds": ["table"],
}
# Prefixes the code completes at run time (documented through DYNAMIC's full names).
PREFIXES = {"akvo_outlet_metadata_static_remote", "akvo_outlet_networks_remote"}


def unescape(s):
    return s.replace('\\"', '"').replace("\\\\", "\\")


def scan():
    found = {}
    for dp, _, files in os.walk(os.path.join(ROOT, "src")):
        for f in sorted(files):
            if not f.endswith((".cpp", ".h")) or re.search(r"_(test|bench|fuzz)\.", f):
                continue
            path = os.path.join(dp, f)
            text = open(path, encoding="utf-8").read()
            for m in re.finditer(r"\b(counter|gauge|observe|histogram)\(\s*\"(akvo_[a-z0-9_]+)\"", text):
                kind, name = m.group(1), m.group(2)
                if name in PREFIXES or name in found:
                    continue
                rest = text[m.end():m.end() + 1500]
                h = re.match(r"\s*,\s*((?:" + LIT + r"\s*)+)", rest)
                help_ = "".join(unescape(x[1:-1]) for x in re.findall(LIT, h.group(1))) if h else ""
                # Labels: the {"name", value} pairs inside the call (balanced parentheses).
                depth, i = 1, 0
                while i < len(rest) and depth:
                    depth += rest[i] == "("
                    depth -= rest[i] == ")"
                    i += 1
                labels = re.findall(r'\{"([a-z_]+)"\s*,', rest[h.end() if h else 0:i])
                labels = LABELS.get(name, labels)
                found[name] = (KINDS[kind], list(dict.fromkeys(labels)), help_)
    for name, v in DYNAMIC.items():
        if name in found and found[name][2]:
            continue
        found[name] = v
    return found


def group(name):
    parts = name.split("_")
    return "_".join(parts[:3]) if parts[1] in ("inlet", "outlet", "orchestrator") else "_".join(parts[:2])


def render(found):
    out = ["# Metrics reference", "",
           "Every metric akvo exposes on `/api/v0/metrics` (Prometheus text format), by component: its",
           "type, its labels and what it counts. [Operations](10-operations.md) says which ones to watch.",
           "A metric appears once something registered it: a component that does not run (Kafka in the",
           "all-in-one, the demo exporter in production) has none, and a labelled one appears with its",
           "first label set.", "",
           "This page is generated from the sources by `tests/tools/metrics_reference.py`; a test",
           "checks that it lists every metric akvo registers.", ""]
    by_group = {}
    for name in sorted(found):
        by_group.setdefault(group(name), []).append(name)
    for g in sorted(by_group):
        out += [f"## {g}_*", "", "| metric | type | labels | meaning |", "| --- | --- | --- | --- |"]
        for name in by_group[g]:
            kind, labels, help_ = found[name]
            cell = help_.replace("|", "\\|")
            out.append(f"| `{name}` | {kind} | {', '.join(f'`{l}`' for l in labels)} | {cell} |")
        out.append("")
    return "\n".join(out)


def check_exposed(metrics_file, doc_file):
    text, doc = open(metrics_file).read(), open(doc_file, encoding="utf-8").read()
    rows = {m.group(1): m.group(2)
            for m in re.finditer(r"^\| `(akvo_[a-z0-9_]+)` \| [a-z]+ \| ([^|]*) \|", doc, re.M)}
    families, labels = set(), {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            families.add(line.split()[2])
        elif line and not line.startswith("#"):
            name = re.match(r"[a-z0-9_]+", line).group(0)
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and name[: -len(suffix)] in families:
                    name = name[: -len(suffix)]
            labels.setdefault(name, set()).update(
                l for l in re.findall(r'([a-z_]+)="', line) if l != "le")
    bad = 0
    for name in sorted(families):
        if name not in rows:
            print(f"{name}: not in {doc_file}")
            bad += 1
            continue
        listed = set(re.findall(r"`([a-z_]+)`", rows[name]))
        if labels.get(name, set()) != listed:
            print(f"{name}: labels {sorted(labels.get(name, set()))}, {doc_file} says {sorted(listed)}")
            bad += 1
    print(f"{len(families)} metrics exposed, {len(rows)} in the reference, {bad} not as it says")
    return 1 if bad else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--exposed":
        return check_exposed(sys.argv[2], sys.argv[3])
    found = scan()
    missing = [n for n, v in found.items() if not v[2]]
    if missing:
        print("metrics without a help text: " + ", ".join(missing), file=sys.stderr)
        return 1
    text = render(found)
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        if open(sys.argv[2], encoding="utf-8").read() != text:
            print(f"{sys.argv[2]} is stale: run tests/tools/metrics_reference.py > {sys.argv[2]}",
                  file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
