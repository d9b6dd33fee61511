#include "store/clickhouse_endpoint.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>

#include "app/app.h"

namespace akvo {

std::string decodeContentEncoding(const std::string& encoding, const std::string& body) {
  if (encoding.empty() || encoding == "identity") return body;
  std::string out;
  if (encoding == "zstd") {
    ZSTD_DStream* z = ZSTD_createDStream();
    ZSTD_initDStream(z);
    ZSTD_inBuffer in{body.data(), body.size(), 0};
    std::string chunk(1 << 16, '\0');
    for (;;) {
      ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
      size_t rc = ZSTD_decompressStream(z, &o, &in);
      if (ZSTD_isError(rc)) {
        ZSTD_freeDStream(z);
        throw HttpError(400, std::string("zstd body: ") + ZSTD_getErrorName(rc));
      }
      out.append(chunk.data(), o.pos);
      if (in.pos == in.size && o.pos < o.size) break;
    }
    ZSTD_freeDStream(z);
    return out;
  }
  if (encoding == "gzip" || encoding == "deflate") {
    z_stream z{};
    inflateInit2(&z, encoding == "gzip" ? 15 + 16 : 15);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
    z.avail_in = uInt(body.size());
    std::string chunk(1 << 16, '\0');
    int rc;
    do {
      z.next_out = reinterpret_cast<Bytef*>(chunk.data());
      z.avail_out = uInt(chunk.size());
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) {
        inflateEnd(&z);
        throw HttpError(400, "gzip body: corrupt");
      }
      out.append(chunk.data(), chunk.size() - z.avail_out);
    } while (rc != Z_STREAM_END && z.avail_in > 0);
    inflateEnd(&z);
    return out;
  }
  throw HttpError(400, "unsupported Content-Encoding: " + encoding + " (zstd, gzip)");
}

void registerClickHouseEndpoint(HttpServer& http, StorePool& writer, StorePool& reader) {
  http.route("POST", "/clickhouse/", [&writer, &reader](const HttpRequest& req) {
    if (!req.fromLoopback()) throw HttpError(403, "the ClickHouse endpoint only answers loopback clients");
    auto param = [&](const char* k) {
      auto it = req.query.find(k);
      return it == req.query.end() ? std::string() : it->second;
    };
    std::string query = param("query");
    std::string format = param("default_format");
    if (format.empty()) format = "TSV";
    std::string body = decodeContentEncoding(req.header("content-encoding"), req.body);
    bool read_only = param("readonly") == "1" || param("readonly") == "2";
    auto conn = (read_only ? reader : writer).acquire();
    try {
      // "INSERT INTO t (cols) FORMAT Native" + a Native block: streamed into the engine.
      static constexpr std::string_view kNative = " FORMAT Native";
      std::string upper = query.substr(0, 6);
      std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
      if (upper == "INSERT" && query.size() > kNative.size() &&
          query.compare(query.size() - kNative.size(), kNative.size(), kNative) == 0) {
        if (read_only) throw HttpError(403, "readonly: INSERT refused");
        conn->insertNative(std::string_view(query).substr(0, query.size() - kNative.size()), body);
        return HttpResponse::text("");
      }
      std::string sql = query.empty() ? body : (body.empty() ? query : query + "\n" + body);
      if (sql.empty()) throw HttpError(400, "empty query");
      return HttpResponse::text(conn->query(sql, format));
    } catch (const StoreError& e) {
      throw HttpError(400, std::string("Code: 0. DB::Exception: ") + e.what());
    }
  });
}

}  // namespace akvo
