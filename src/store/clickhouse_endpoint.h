#pragma once
/// A ClickHouse-compatible HTTP endpoint over the embedded store: POST /clickhouse/ with the
/// ClickHouse HTTP interface's parameters (query, database ignored, default_format, readonly)
/// and body (SQL, or data for "INSERT ... FORMAT Native", optionally Content-Encoding zstd or
/// gzip). It lets separate outlet and console processes on the same host share the embedded
/// store of the orchestrator through the HTTP store (clickhouse.servers), as they would share a
/// ClickHouse server. Loopback clients only; on several machines use a real ClickHouse server.
#include <string>

#include "common/http_server.h"
#include "store/store.h"

namespace akvo {

class StorePool;

/// Registers POST /clickhouse/ on `http`; `writer` serves statements, `reader` readonly=2 ones.
void registerClickHouseEndpoint(HttpServer& http, StorePool& writer, StorePool& reader);

/// Decodes a request body per its Content-Encoding ("", "zstd", "gzip"). Throws HttpError 400.
std::string decodeContentEncoding(const std::string& encoding, const std::string& body);

}  // namespace akvo
