#pragma once
/// `akvo decode --pcap FILE`: decodes the UDP payloads of a capture (templates carry over in
/// file order) and prints every flow with its decoded fields, as JSON lines keyed by the
/// schema's column names or as a table.
#include <iosfwd>
#include <string>

#include "outlet/decoder/decoder.h"

namespace akvo::decoder {

struct DecodeToolOptions {
  std::string pcap;
  std::string format = "json";   ///< json or table
  std::string decoder = "auto";  ///< auto (by version field), netflow or sflow
  TimestampSource timestamp_source = TimestampSource::kInput;
  /// none, ipip, gre, vxlan or srv6: as the input option decapsulation-protocol.
  std::string decapsulation = "none";
};

/// One flow as a JSON object (one line, no trailing newline). Addresses as text (IPv4 as a
/// dotted quad); zero-valued optional fields are left out.
std::string flowToJson(const FlowRecord& f);

/// Runs the tool; writes flows to `out` and a summary (datagrams, flows, errors by reason) to
/// `err`. Returns the process exit code: 0, or 1 when the file cannot be read. Throws
/// std::invalid_argument on a bad option.
int runDecodeTool(const DecodeToolOptions& options, std::ostream& out, std::ostream& err);

}  // namespace akvo::decoder
