#ifndef STRAIT_PROXY_PROXY_COUNTERS_H_
#define STRAIT_PROXY_PROXY_COUNTERS_H_

#include <cstdint>
#include <map>
#include <string>

namespace strait::proxy {

// What one worker counts for one entry point (by name).
struct EntryPointCounters {
  uint64_t connections_accepted = 0;
  // Gauge: client connections open now.
  uint64_t connections_open = 0;
  // Client connections closed before their TLS handshake finished (a bad
  // or absent certificate, no h2 in ALPN, the handshake timeout, a client
  // that went away).
  uint64_t tls_handshake_failures = 0;
  // Client connections closed because a keepalive PING went unanswered.
  uint64_t ping_timeouts = 0;
  // Client connections strait ended with a GOAWAY for abuse, by the name of
  // the budget they broke (h2::FloodGuard::OffenceName).
  std::map<std::string, uint64_t> abuse_goaways;

  void Add(const EntryPointCounters& other) {
    connections_accepted += other.connections_accepted;
    connections_open += other.connections_open;
    tls_handshake_failures += other.tls_handshake_failures;
    ping_timeouts += other.ping_timeouts;
    for (const auto& [name, n] : other.abuse_goaways) abuse_goaways[name] += n;
  }
};

// What one worker's proxy objects count: plain integers in the worker's
// ProxyContext, touched only on its loop thread (no atomics on the hot
// path), summed over the workers when someone asks (Server::Stats).
struct ProxyCounters {
  // By entry point name. std::map: a connection keeps a pointer to its own.
  std::map<std::string, EntryPointCounters> entry_points;
  // Over every entry point (Total()).
  uint64_t connections_accepted = 0;
  std::map<std::string, uint64_t> abuse_goaways;
  // Response streams reset because the client's window stayed at zero for
  // streamStallTimeout.
  uint64_t stalled_streams_reset = 0;
  // Gauge: request bytes kept for replay by a retry policy, now.
  uint64_t replay_bytes = 0;
  // Gauge: backend connection pools (one per server and transport) alive,
  // and the connections to backends over all of them (draining ones too).
  uint64_t pools = 0;
  uint64_t upstream_connections = 0;
  // Servers this worker ejected after failures in a row (passive health).
  uint64_t ejections = 0;
  // Mirror copies of RPCs routed to a mirroring service: sampled and begun;
  // and how each ended: the mirror answered (its answer dropped); cancelled
  // because its unsent bytes outgrew one stream window (the mirror is slower
  // than the client), or because the body outgrew maxBodySize; cancelled
  // with its main RPC (client cancel, deadline, or a request that never
  // finished); or failed on the mirror's side (no usable server, pool queue
  // full or timed out, connect failure, stream reset).
  uint64_t mirror_copies_started = 0;
  uint64_t mirror_copies_completed = 0;
  uint64_t mirror_copies_behind = 0;
  uint64_t mirror_copies_too_large = 0;
  uint64_t mirror_copies_cancelled = 0;
  uint64_t mirror_copies_failed = 0;
  // Gauge: mirror copies alive now.
  uint64_t mirror_copies_live = 0;

  // Sets the totals over every entry point from entry_points.
  void Total() {
    connections_accepted = 0;
    abuse_goaways.clear();
    for (const auto& [name, ep] : entry_points) {
      connections_accepted += ep.connections_accepted;
      for (const auto& [budget, n] : ep.abuse_goaways) abuse_goaways[budget] += n;
    }
  }

  void Add(const ProxyCounters& other) {
    for (const auto& [name, ep] : other.entry_points) entry_points[name].Add(ep);
    connections_accepted += other.connections_accepted;
    for (const auto& [name, n] : other.abuse_goaways) abuse_goaways[name] += n;
    stalled_streams_reset += other.stalled_streams_reset;
    replay_bytes += other.replay_bytes;
    pools += other.pools;
    upstream_connections += other.upstream_connections;
    ejections += other.ejections;
    mirror_copies_started += other.mirror_copies_started;
    mirror_copies_completed += other.mirror_copies_completed;
    mirror_copies_behind += other.mirror_copies_behind;
    mirror_copies_too_large += other.mirror_copies_too_large;
    mirror_copies_cancelled += other.mirror_copies_cancelled;
    mirror_copies_failed += other.mirror_copies_failed;
    mirror_copies_live += other.mirror_copies_live;
  }
};

}  // namespace strait::proxy

#endif  // STRAIT_PROXY_PROXY_COUNTERS_H_
