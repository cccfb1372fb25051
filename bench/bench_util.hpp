// Small helpers shared by the benchmark programs: clocks, percentiles, id logs and URLs.
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace webhookd::bench {

// CLOCK_MONOTONIC in nanoseconds. It is one clock for every process of the machine, so the
// load generator's 202 times and the receiver's arrival times can be subtracted.
inline std::int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Percentiles {
  std::size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// Nearest-rank percentiles of `values` (sorted in place), scaled by `scale`.
inline Percentiles ComputePercentiles(std::vector<std::int64_t>& values, double scale) {
  Percentiles out;
  out.count = values.size();
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  auto at = [&values, scale](double q) {
    const auto rank = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
    return static_cast<double>(values[rank]) * scale;
  };
  out.p50 = at(0.50);
  out.p90 = at(0.90);
  out.p99 = at(0.99);
  out.max = static_cast<double>(values.back()) * scale;
  return out;
}

// The load generator's log of accepted events: one "ID NS" line each (NS = MonotonicNs()
// when the 202 arrived).
inline std::unordered_map<std::string, std::int64_t> ReadSentLog(const std::string& path) {
  std::unordered_map<std::string, std::int64_t> out;
  std::ifstream in(path);
  std::string id;
  std::int64_t ns = 0;
  while (in >> id >> ns) out.emplace(std::move(id), ns);
  return out;
}

struct HttpTarget {
  std::string host;
  std::uint16_t port = 0;
  std::string path;
};

// Only "http://HOST:PORT[/path]": the benchmarks talk to 127.0.0.1 and nothing else.
inline std::optional<HttpTarget> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  url.remove_prefix(kScheme.size());
  const std::size_t slash = url.find('/');
  const std::string_view authority = url.substr(0, slash);
  const std::size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == authority.size()) {
    return std::nullopt;
  }
  const std::string_view port = authority.substr(colon + 1);
  HttpTarget out{std::string(authority.substr(0, colon)), 0,
                 slash == std::string_view::npos ? "/" : std::string(url.substr(slash))};
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (ec != std::errc() || end != port.data() + port.size()) return std::nullopt;
  return out;
}

}  // namespace webhookd::bench
