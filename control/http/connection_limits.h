// Bounds on open connections: all of them, and per client address, so one source cannot take
// every place. Counted on the loop thread only (no locks). A connection from a trusted load
// balancer is counted against the client its PROXY header names, not the balancer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "common/socket_address.h"

namespace cloudlink::control::http {

class ConnectionLimits {
 public:
  ConnectionLimits(uint32_t max_total, uint32_t max_per_source)
      : max_total_(max_total), max_per_source_(max_per_source) {}

  // One place per source, given back when destroyed (move-only).
  class SourceTicket {
   public:
    SourceTicket() = default;
    SourceTicket(SourceTicket&& other) noexcept { *this = std::move(other); }
    SourceTicket& operator=(SourceTicket&& other) noexcept;
    SourceTicket(const SourceTicket&) = delete;
    SourceTicket& operator=(const SourceTicket&) = delete;
    ~SourceTicket() { release(); }
    explicit operator bool() const { return owner_ != nullptr; }
    void release();

   private:
    friend class ConnectionLimits;
    ConnectionLimits* owner_ = nullptr;
    std::array<uint8_t, 16> key_{};
  };

  // A place among all connections; the caller calls close_one() when it ends.
  bool try_open() { return open_ < max_total_ ? (++open_, true) : false; }
  void close_one() { --open_; }
  uint32_t open() const { return open_; }

  // A place for source (its address; the port does not count). Empty when that source already
  // holds max_per_source.
  SourceTicket try_source(const SocketAddress& source);
  size_t sources() const { return per_source_.size(); }

 private:
  struct KeyHash {
    size_t operator()(const std::array<uint8_t, 16>& key) const;
  };
  void give_back(const std::array<uint8_t, 16>& key);

  uint32_t max_total_;
  uint32_t max_per_source_;
  uint32_t open_ = 0;
  std::unordered_map<std::array<uint8_t, 16>, uint32_t, KeyHash> per_source_;
};

}  // namespace cloudlink::control::http
