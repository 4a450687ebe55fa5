// The server's Prometheus metrics (text exposition format 0.0.4). Thread-safe.
//
//   sarsteer_http_requests_total{path,code}       every answered HTTP request
//   sarsteer_errors_total{kind}                   error answers by kind (see ErrorKindLabel)
//   sarsteer_completions_total{steering}          finished completions, steering="on"|"off"
//   sarsteer_prompt_tokens_total, sarsteer_completion_tokens_total
//   sarsteer_batches_total, sarsteer_batched_requests_total
//   sarsteer_cancelled_total                      completions whose client went away
//   sarsteer_queue_depth, sarsteer_in_flight      gauges (waiting / admitted, not yet answered)
//   sarsteer_steering_enabled, sarsteer_steering_alpha   the server's default defense
//   sarsteer_request_duration_seconds             histogram of completion latency
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace sarsteer::serve {

inline constexpr std::array<double, 12> kLatencyBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                           1,    2.5,   5,    10,  30,   60};

class Metrics {
public:
    Metrics(bool steering_enabled, double steering_alpha)
        : steering_enabled_(steering_enabled), steering_alpha_(steering_alpha) {}

    void http_request(const std::string& path, int status);
    // kind: invalid_request, authentication, permission, not_found, method_not_allowed,
    // payload_too_large, unsupported_media_type, rate_limited, unavailable, server
    void error(const std::string& kind);
    void completion(bool steered, int64_t prompt_tokens, int64_t completion_tokens, double seconds);
    void cancelled();
    void batch(std::size_t size);

    // The exposition text, with the two gauges as the caller reads them now.
    std::string render(int64_t queue_depth, int64_t in_flight) const;

private:
    mutable std::mutex mutex_;
    bool steering_enabled_;
    double steering_alpha_;
    std::map<std::pair<std::string, int>, uint64_t> http_;
    std::map<std::string, uint64_t> errors_;
    uint64_t completions_on_ = 0;
    uint64_t completions_off_ = 0;
    uint64_t prompt_tokens_ = 0;
    uint64_t completion_tokens_ = 0;
    uint64_t batches_ = 0;
    uint64_t batched_requests_ = 0;
    uint64_t cancelled_ = 0;
    std::array<uint64_t, kLatencyBuckets.size()> latency_buckets_{};
    uint64_t latency_count_ = 0;
    double latency_sum_ = 0;
};

// The error kind label for an HTTP error status.
std::string error_kind_label(int status);

}  // namespace sarsteer::serve
