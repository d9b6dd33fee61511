#pragma once
/// The TLS block shared by the connections akvo opens as a client (Akvorado's GEN-8): `enable`,
/// `skip-verify`, `ca-file`, `cert-file`, `key-file`, with Akvorado's names and defaults.
#include <string>

#include "common/config.h"

namespace akvo {

struct TlsConfig {
  bool enable = false;       ///< connect with TLS
  bool skip_verify = false;  ///< do not check the server's certificate (nor its name)
  std::string ca_file;       ///< PEM CA bundle to check the server with; empty: the system's
  std::string cert_file;     ///< PEM client certificate; empty: none
  std::string key_file;      ///< PEM key of cert_file; empty: in cert_file

  /// Reads the section. As Akvorado: `enable` must be true when a file is given, and
  /// `key-file` needs `cert-file`. Each file given must be readable: an error names the key,
  /// the file and why.
  void read(ConfigReader& r);
};

}  // namespace akvo
