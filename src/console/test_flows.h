#pragma once
/// Test data for the console's store tests: `rows` flows over two hours from `t0`, 3 exporters,
/// 13 source ASes, 7 destination ASes, sampling rate 10. Interface attributes (boundary,
/// provider, speed) depend on the interface only, as on real routers (consolidated tables do
/// not sort on them).
#include <fmt/format.h>

#include <cstdint>

#include "store/store.h"

namespace akvo::console {

inline void insertTestFlows(StoreConnection& conn, int64_t t0, int rows) {
    conn.query(fmt::format(R"(INSERT INTO flows (TimeReceived, SamplingRate, ExporterAddress,
      ExporterName, InIfName, OutIfName, InIfSpeed, OutIfSpeed, InIfBoundary, OutIfBoundary,
      InIfProvider, OutIfProvider, SrcAS, DstAS, SrcAddr, DstAddr, SrcPort, DstPort, Proto, EType,
      SrcCountry, DstCountry, Bytes, Packets)
      SELECT toDateTime({0} + intDiv(number * 7200, {1})), 10,
        toIPv6(concat('::ffff:192.0.2.', toString(number % 3 + 1))),
        concat('router', toString(number % 3 + 1)), concat('Gi0/', toString(number % 4)),
        concat('Te0/', toString(number % 2)), 1000, 10000,
        if(number % 4 = 0, 'internal', 'external'), if(number % 2 = 0, 'external', 'internal'),
        ['', 'cogent', 'telia', 'cogent'][number % 4 + 1], '',
        64500 + (number * number) % 13, 65000 + number % 7,
        toIPv6(concat('::ffff:10.0.', toString(number % 256), '.', toString(number % 7))),
        toIPv6(concat('2001:db8::', hex(number % 50))),
        1024 + number % 100, if(number % 2 = 0, 443, 80), if(number % 3 = 0, 17, 6),
        if(number % 10 = 0, 34525, 2048), ['FR', 'DE', 'US'][number % 3 + 1], 'NL',
        100 + (number * 7) % 1000, 1 + number % 10
      FROM numbers({1}))",
                             t0, rows),
                 "TSV");
}

}  // namespace akvo::console
