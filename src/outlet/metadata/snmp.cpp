#include "outlet/metadata/snmp.h"

#include <charconv>

#include <fmt/format.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "common/log.h"
#include "outlet/networks/subnet_map.h"

namespace akvo::metadata {

namespace {

const std::vector<std::string> kAuthProtocols = {"none",   "MD5",    "SHA",   "SHA224",
                                                 "SHA256", "SHA384", "SHA512"};
const std::vector<std::string> kPrivProtocols = {"none",     "DES",      "AES",     "AES192",
                                                 "AES256",   "AES192-C", "AES256-C"};

bool oneOf(const std::string& v, const std::vector<std::string>& list) {
  for (const auto& x : list)
    if (x == v) return true;
  return false;
}

SnmpProvider::Credentials parseCredentials(const YAML::Node& n) {
  SnmpProvider::Credentials c;
  if (n.IsScalar()) {  // Akvorado's shorthand: a community
    c.communities = {n.Scalar()};
    return c;
  }
  if (!n.IsMap()) throw std::invalid_argument("expected credentials (communities or user-name...)");
  bool communities_given = false;
  for (const auto& kv : n) {
    std::string k = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (keyMatches(k, "communities")) {
      communities_given = true;
      c.communities.clear();
      if (v.IsScalar()) c.communities.push_back(v.Scalar());
      else
        for (const auto& x : v) c.communities.push_back(x.as<std::string>());
    } else if (keyMatches(k, "user-name")) c.user_name = v.as<std::string>();
    else if (keyMatches(k, "authentication-protocol"))
      c.authentication_protocol = v.as<std::string>();
    else if (keyMatches(k, "authentication-passphrase"))
      c.authentication_passphrase = v.as<std::string>();
    else if (keyMatches(k, "privacy-protocol")) c.privacy_protocol = v.as<std::string>();
    else if (keyMatches(k, "privacy-passphrase")) c.privacy_passphrase = v.as<std::string>();
    else if (keyMatches(k, "context-name")) c.context_name = v.as<std::string>();
    else
      throw std::invalid_argument(fmt::format(
          "unknown key \"{}\"; valid keys: communities, user-name, authentication-protocol, "
          "authentication-passphrase, privacy-protocol, privacy-passphrase, context-name",
          k));
  }
  // As Akvorado: v2c communities or a v3 user, one of them.
  if (communities_given && !c.user_name.empty())
    throw std::invalid_argument("either communities (SNMPv2c) or user-name (SNMPv3), not both");
  if (c.user_name.empty() && c.communities.empty())
    throw std::invalid_argument("communities is empty: give at least one, or a user-name (SNMPv3)");
  if (!oneOf(c.authentication_protocol, kAuthProtocols))
    throw std::invalid_argument(fmt::format(
        "authentication-protocol: \"{}\" is not a valid choice; valid choices: {}",
        c.authentication_protocol, fmt::join(kAuthProtocols, ", ")));
  if (!oneOf(c.privacy_protocol, kPrivProtocols))
    throw std::invalid_argument(fmt::format("privacy-protocol: \"{}\" is not a valid choice; "
                                            "valid choices: {}",
                                            c.privacy_protocol, fmt::join(kPrivProtocols, ", ")));
  if (c.privacy_protocol != "none" && c.authentication_protocol == "none")
    throw std::invalid_argument("privacy-protocol needs an authentication-protocol");
  if (c.authentication_protocol != "none" && c.authentication_passphrase.size() < 8)
    throw std::invalid_argument("authentication-passphrase: at least 8 characters");
  if (c.privacy_protocol != "none" && c.privacy_passphrase.size() < 8)
    throw std::invalid_argument("privacy-passphrase: at least 8 characters");
  return c;
}

void initLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
    // No snmp.conf, no persistent files, no MIB parsing: we use numeric OIDs.
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_ERRORS, 0);
    setenv("MIBS", "", 0);
    init_snmp("akvo");
  });
}

struct Values {
  std::string sys_name, if_descr, if_name, if_alias;
  uint64_t high_speed = 0, speed_bps = 0;
  bool has_sys_name = false, has_name = false, has_speed = false;
};

/// One GET with one set of credentials. Returns false on transport failure (timeout...).
bool snmpGet(const std::string& peer, const SnmpProvider::Credentials& cred,
             const std::string* community, const SnmpProvider::Config& config, uint32_t ifindex,
             Values& v, std::string& error) {
  netsnmp_session s;
  snmp_sess_init(&s);
  std::string peername = peer;
  s.peername = peername.data();
  s.retries = int(config.poller_retries);
  s.timeout = long(config.poller_timeout.count()) * 1000;
  std::string community_copy, user_copy, context_copy;
  if (community) {
    s.version = SNMP_VERSION_2c;
    community_copy = *community;
    s.community = reinterpret_cast<u_char*>(community_copy.data());
    s.community_len = community_copy.size();
  } else {
    s.version = SNMP_VERSION_3;
    user_copy = cred.user_name;
    s.securityName = user_copy.data();
    s.securityNameLen = user_copy.size();
    context_copy = cred.context_name;
    if (!context_copy.empty()) {
      s.contextName = context_copy.data();
      s.contextNameLen = context_copy.size();
    }
    const std::string& ap = cred.authentication_protocol;
    const std::string& pp = cred.privacy_protocol;
    s.securityLevel = ap == "none"   ? SNMP_SEC_LEVEL_NOAUTH
                      : pp == "none" ? SNMP_SEC_LEVEL_AUTHNOPRIV
                                     : SNMP_SEC_LEVEL_AUTHPRIV;
    if (ap != "none") {
      oid* proto = ap == "MD5"      ? usmHMACMD5AuthProtocol
                   : ap == "SHA"    ? usmHMACSHA1AuthProtocol
                   : ap == "SHA224" ? usmHMAC128SHA224AuthProtocol
                   : ap == "SHA256" ? usmHMAC192SHA256AuthProtocol
                   : ap == "SHA384" ? usmHMAC256SHA384AuthProtocol
                                    : usmHMAC384SHA512AuthProtocol;
      s.securityAuthProto = proto;
      s.securityAuthProtoLen = USM_AUTH_PROTO_MD5_LEN;  // every auth OID has this length
      s.securityAuthKeyLen = USM_AUTH_KU_LEN;
      if (generate_Ku(s.securityAuthProto, u_int(s.securityAuthProtoLen),
                      reinterpret_cast<const u_char*>(cred.authentication_passphrase.data()),
                      cred.authentication_passphrase.size(), s.securityAuthKey,
                      &s.securityAuthKeyLen) != SNMPERR_SUCCESS) {
        error = "cannot derive the authentication key";
        return false;
      }
    }
    if (pp != "none") {
      oid* proto;
      size_t len;
      if (pp == "DES") proto = usmDESPrivProtocol, len = OID_LENGTH(usmDESPrivProtocol);
      else if (pp == "AES") proto = usmAESPrivProtocol, len = OID_LENGTH(usmAESPrivProtocol);
      else if (pp == "AES192") proto = usmAES192PrivProtocol, len = OID_LENGTH(usmAES192PrivProtocol);
      else if (pp == "AES256") proto = usmAES256PrivProtocol, len = OID_LENGTH(usmAES256PrivProtocol);
      else if (pp == "AES192-C")
        proto = usmAES192CiscoPrivProtocol, len = OID_LENGTH(usmAES192CiscoPrivProtocol);
      else proto = usmAES256CiscoPrivProtocol, len = OID_LENGTH(usmAES256CiscoPrivProtocol);
      s.securityPrivProto = proto;
      s.securityPrivProtoLen = len;
      s.securityPrivKeyLen = USM_PRIV_KU_LEN;
      if (generate_Ku(s.securityAuthProto, u_int(s.securityAuthProtoLen),
                      reinterpret_cast<const u_char*>(cred.privacy_passphrase.data()),
                      cred.privacy_passphrase.size(), s.securityPrivKey,
                      &s.securityPrivKeyLen) != SNMPERR_SUCCESS) {
        error = "cannot derive the privacy key";
        return false;
      }
    }
  }
  void* sess = snmp_sess_open(&s);
  if (!sess) {
    error = "cannot open an SNMP session";
    return false;
  }
  netsnmp_pdu* pdu = snmp_pdu_create(SNMP_MSG_GET);
  oid sys_name[] = {1, 3, 6, 1, 2, 1, 1, 5, 0};
  snmp_add_null_var(pdu, sys_name, OID_LENGTH(sys_name));
  if (ifindex != 0) {
    oid if_descr[] = {1, 3, 6, 1, 2, 1, 2, 2, 1, 2, ifindex};
    oid if_name[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1, ifindex};
    oid if_alias[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18, ifindex};
    oid if_high[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15, ifindex};
    oid if_speed[] = {1, 3, 6, 1, 2, 1, 2, 2, 1, 5, ifindex};
    snmp_add_null_var(pdu, if_descr, OID_LENGTH(if_descr));
    snmp_add_null_var(pdu, if_name, OID_LENGTH(if_name));
    snmp_add_null_var(pdu, if_alias, OID_LENGTH(if_alias));
    snmp_add_null_var(pdu, if_high, OID_LENGTH(if_high));
    snmp_add_null_var(pdu, if_speed, OID_LENGTH(if_speed));
  }
  netsnmp_pdu* response = nullptr;
  int status = snmp_sess_synch_response(sess, pdu, &response);
  bool ok = false;
  if (status == STAT_SUCCESS && response && response->errstat == SNMP_ERR_NOERROR) {
    ok = true;
    int i = 0;
    for (netsnmp_variable_list* var = response->variables; var; var = var->next_variable, i++) {
      bool str = var->type == ASN_OCTET_STR;
      std::string text = str ? std::string(reinterpret_cast<char*>(var->val.string), var->val_len)
                             : std::string();
      bool num = var->type == ASN_GAUGE || var->type == ASN_INTEGER || var->type == ASN_COUNTER ||
                 var->type == ASN_UINTEGER;
      uint64_t n = num ? uint64_t(*var->val.integer) & 0xffffffffu : 0;
      switch (i) {
        case 0:
          if (str) v.sys_name = text, v.has_sys_name = true;
          break;
        case 1:
          if (str) v.if_descr = text;
          break;
        case 2:
          if (str) v.if_name = text, v.has_name = true;
          break;
        case 3:
          if (str) v.if_alias = text;
          break;
        case 4:
          if (num) v.high_speed = n, v.has_speed = true;
          break;
        case 5:
          if (num) v.speed_bps = n, v.has_speed = true;
          break;
      }
    }
  } else if (status == STAT_TIMEOUT) {
    error = "timeout";
  } else if (status == STAT_SUCCESS && response) {
    error = snmp_errstring(int(response->errstat));
  } else {
    char* err = nullptr;
    int liberr = 0, syserr = 0;
    snmp_sess_error(sess, &liberr, &syserr, &err);
    error = err ? err : "SNMP error";
    free(err);
  }
  if (response) snmp_free_pdu(response);
  snmp_sess_close(sess);
  return ok;
}

}  // namespace

SnmpProvider::Config::Config() {
  credentials.insert(*IPv6Prefix::parse("::/0"), Credentials{});
  ports.insert(*IPv6Prefix::parse("::/0"), 161);
}

void SnmpProvider::Config::read(ConfigReader& r) {
  YAML::Node creds = r.raw("credentials", "{'::/0': {communities: [public]}}");
  if (creds.IsDefined() && !creds.IsNull())
    credentials = readSubnetMap<Credentials>(r, "credentials", creds, parseCredentials);
  YAML::Node p = r.raw("ports", "{'::/0': 161}");
  if (p.IsDefined() && !p.IsNull()) {
    ports = readSubnetMap<uint16_t>(r, "ports", p, [](const YAML::Node& n) {
      const std::string text = n.IsScalar() ? n.Scalar() : "";
      unsigned v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < 1 || v > 65535)
        throw ValueError(n, fmt::format("\"{}\" is not a port (1 to 65535)", text));
      return uint16_t(v);
    });
  }
  YAML::Node a = r.raw("agents", "{}");
  if (a.IsDefined() && !a.IsNull()) {
    if (!a.IsMap()) r.fail("agents", "expected a mapping exporter address → agent address");
    for (const auto& kv : a) {
      auto e = IPv6Addr::parse(kv.first.as<std::string>());
      auto g = IPv6Addr::parse(kv.second.as<std::string>());
      if (!e || !g)
        r.fail("agents", fmt::format("{}: expected two IP addresses", kv.first.as<std::string>()));
      agents[*e] = *g;
    }
  }
  r.field("poller-retries", poller_retries, 0, 10);
  r.field("poller-timeout", poller_timeout);
}

SnmpProvider::SnmpProvider(Config config, Metrics& metrics)
    : config_(std::move(config)),
      requests_(metrics.counter("akvo_outlet_metadata_snmp_requests_total",
                                "SNMP requests sent to agents.")),
      errors_(metrics.counter("akvo_outlet_metadata_snmp_errors_total",
                              "SNMP requests that failed (error answer or transport).")),
      timeouts_(metrics.counter("akvo_outlet_metadata_snmp_timeouts_total",
                                "SNMP requests that timed out after every retry.")) {
  initLibrary();
}

Provider::Result SnmpProvider::query(const Query& q, Answer& out) {
  static RateLimitedLog log;
  IPv6Addr agent = q.exporter;
  if (auto it = config_.agents.find(q.exporter); it != config_.agents.end()) agent = it->second;
  const Credentials* cred = config_.credentials.lookup(q.exporter);
  const uint16_t* port = config_.ports.lookup(q.exporter);
  if (!cred) return Result::kSkip;
  std::string peer = agent.isV4Mapped()
                         ? fmt::format("udp:{}:{}", agent.toString(), port ? *port : 161)
                         : fmt::format("udp6:[{}]:{}", agent.toString(), port ? *port : 161);
  Values v;
  std::string error;
  bool any = false;
  if (cred->user_name.empty()) {
    // Each community may know part of the answer: merge them.
    for (const auto& c : cred->communities) {
      Values part;
      requests_.inc();
      if (!snmpGet(peer, *cred, &c, config_, q.ifindex, part, error)) {
        errors_.inc();
        if (error == "timeout") timeouts_.inc();
        continue;
      }
      any = true;
      if (!v.has_sys_name && part.has_sys_name) v.sys_name = part.sys_name, v.has_sys_name = true;
      if (!v.has_name && part.has_name) v.if_name = part.if_name, v.has_name = true;
      if (v.if_descr.empty()) v.if_descr = part.if_descr;
      if (v.if_alias.empty()) v.if_alias = part.if_alias;
      if (!v.has_speed && part.has_speed)
        v.high_speed = part.high_speed, v.speed_bps = part.speed_bps, v.has_speed = true;
    }
  } else {
    // net-snmp keeps SNMPv3 users and engine ids in process-wide lists: one v3 request at a
    // time (v2c requests run in parallel).
    static std::mutex v3_mutex;
    std::lock_guard lock(v3_mutex);
    requests_.inc();
    any = snmpGet(peer, *cred, nullptr, config_, q.ifindex, v, error);
    if (!any) {
      errors_.inc();
      if (error == "timeout") timeouts_.inc();
    }
  }
  if (!any || !v.has_sys_name || v.sys_name.empty()) {
    log.warn("snmp: exporter {} (agent {}): no answer for ifIndex {}: {}", q.exporter.toString(),
             peer, q.ifindex, any ? "empty sysName" : error);
    return Result::kFailed;
  }
  out.found = true;
  out.exporter.name = v.sys_name;
  if (q.ifindex != 0 && v.has_name) {
    out.iface.name = v.if_name;
    // ifAlias when it says something the name does not, else ifDescr, else nothing.
    if (!v.if_alias.empty() && v.if_alias != v.if_name) out.iface.description = v.if_alias;
    else if (!v.if_descr.empty() && v.if_descr != v.if_name) out.iface.description = v.if_descr;
    out.iface.speed = uint32_t(v.high_speed ? v.high_speed : v.speed_bps / 1000000);
  }
  return Result::kAnswered;
}

}  // namespace akvo::metadata
