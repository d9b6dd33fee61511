#pragma once
/// The BMP provider (RT-2): a TCP server where routers export their BGP tables with BMP
/// (RFC 7854). One reader thread per connection frames the stream into BMP messages and queues
/// them; one processor thread decodes them and updates the RIB. The queue (`message-buffer`)
/// absorbs bursts so that a slow RIB update never stops the socket long enough for the router
/// to declare the session stuck. It is bounded in messages (`message-buffer`) and in bytes
/// (`message-buffer-max-bytes`); when either is reached the reader waits (TCP back-pressure)
/// and the wait is counted.
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "outlet/routing/rib.h"
#include "outlet/routing/routing.h"

namespace akvo::routing {

class BmpProvider : public RoutingProvider {
 public:
  struct Config {
    std::string listen = ":10179";
    std::vector<std::string> rds;  ///< keep only routes with these RDs ("0": no RD); empty: all
    /// Keep only announcements carrying one of these route targets ("0": those with none);
    /// empty: all. With `rds` too, a route must match both. Withdrawals always apply.
    std::vector<std::string> rts;
    /// Which RD a flow's addresses are looked up in (first matching rule wins; no rule
    /// matches: every RD, as Akvorado does). Each condition is optional.
    struct Vrf {
      std::optional<IPv6Prefix> exporter;  ///< the flow's exporter is in this subnet
      std::optional<uint32_t> vrf_id;      ///< the flow's VRF id (ingress for the source,
                                           ///< egress, else ingress, for the destination)
      std::optional<uint32_t> if_index;    ///< the flow's interface (in: source, out: dest.)
      uint64_t rd = 0;
    };
    std::vector<Vrf> vrfs;
    bool collect_asns = true;
    bool collect_aspaths = true;
    bool collect_communities = true;
    Duration keep = std::chrono::minutes(5);  ///< how long a disconnected exporter's peers stay
    int64_t receive_buffer = 0;               ///< SO_RCVBUF bytes, 0: kernel default
    int64_t message_buffer = 10000;           ///< BMP messages queued before back-pressure
    /// Bytes of the queued messages before back-pressure. A message is up to 1 MiB: the count
    /// alone let the queue hold 10 GB. A message always fits in an empty queue.
    int64_t message_buffer_max_bytes = int64_t(64) << 20;
    /// Sessions open at once; one more is accepted and closed at once (counted). BMP peers
    /// are routers: a handful per collector.
    int64_t max_connections = 64;
    /// A message whose first byte has arrived must be complete within this, else the session
    /// is closed (a peer announcing a large message and going silent holds no memory for
    /// long). Time the reader spends waiting for the queue (back-pressure) does not count.
    Duration message_timeout = std::chrono::seconds(30);
    /// A session that sends nothing at all for this long is closed; 0 (default): never. BMP
    /// has no keepalive and a quiet router may send nothing for hours (statistics reports are
    /// optional), so this is off by default; dead peers are found by TCP keepalive instead.
    Duration idle_timeout = Duration(0);
    void read(ConfigReader& r);
  };

  BmpProvider(Config config, Metrics& metrics);
  ~BmpProvider() override;
  /// Binds the listening socket (throws std::runtime_error naming the address) and starts
  /// the acceptor and the processor.
  void start();
  /// Closes every connection and stops (the RIB is kept until destruction).
  void stop();
  uint16_t boundPort() const { return port_; }

  bool lookup(const IPv6Addr& exporter, const IPv6Addr& ip, const IPv6Addr& next_hop,
              RouteInfo& out, std::optional<uint64_t> rd = std::nullopt) const override;
  std::optional<uint64_t> rdFor(const FlowRecord& flow, bool destination) const override;
  const Rib& rib() const { return rib_; }

 private:
  struct Event {
    uint64_t connection = 0;
    IPv6Addr exporter;
    std::vector<uint8_t> message;  ///< one BMP message; empty: the connection closed
  };
  struct Session;
  class Sink;

  void accept(std::stop_token st);
  void read(int fd, uint64_t id, IPv6Addr exporter, std::stop_token st);
  void process(std::stop_token st);
  bool push(Event e, std::stop_token st);

  Config config_;
  Metrics& metrics_;
  std::vector<uint64_t> rds_, rts_;
  Rib rib_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<uint64_t> next_id_{1};

  std::mutex queue_mutex_;  // guards queue_ and queue_bytes_
  std::condition_variable_any not_empty_, not_full_;
  std::deque<Event> queue_;
  size_t queue_bytes_ = 0;  ///< bytes of the messages in queue_

  std::mutex readers_mutex_;  // guards readers_ and finished_
  std::map<uint64_t, std::jthread> readers_;
  std::vector<uint64_t> finished_;  ///< readers that ended, joined at the next accept
  std::atomic<int64_t> connections_{0};
  std::jthread acceptor_, processor_;
  bool started_ = false;

  Counter &queue_full_, &queue_not_full_, &lookups_, &lookup_failures_, &ignored_nlri_,
      &routes_added_, &routes_withdrawn_, &routes_filtered_, &peers_removed_, &received_bytes_,
      &connections_rejected_, &accept_errors_, &message_timeouts_, &idle_timeouts_;
  std::map<std::string, Counter*> messages_;
  std::vector<Counter*> errors_;
  RateLimitedLog log_;         // decoding errors (processor thread)
  RateLimitedLog accept_log_;  // rejected connections and accept() failures (acceptor thread)
};

}  // namespace akvo::routing
