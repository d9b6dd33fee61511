#pragma once
/// NetFlow decoder: v5 (fixed format), v9 (RFC 3954) and IPFIX (RFC 7011), chosen by the
/// version field of each datagram.
#include "outlet/decoder/decoder.h"

namespace akvo::decoder {

class NetflowDecoder : public Decoder {
 public:
  Status decode(const Input& input, FlowSink& sink) override;

 private:
  Status decodeV5(const Input& input, FlowSink& sink);
  FlowRecord record_;
};

}  // namespace akvo::decoder
