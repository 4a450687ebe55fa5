#include "serve/metrics.h"

#include <cstdio>
#include <sstream>

namespace sarsteer::serve {
namespace {

std::string format_double(double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.17g", value);
    return buffer;
}

// Label values are fixed strings chosen by the server, but escape anyway.
std::string label(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

void header(std::ostringstream& out, const char* name, const char* type, const char* help) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

}  // namespace

std::string error_kind_label(int status) {
    switch (status) {
        case 400: return "invalid_request";
        case 401: return "authentication";
        case 403: return "permission";
        case 404: return "not_found";
        case 405: return "method_not_allowed";
        case 413: return "payload_too_large";
        case 415: return "unsupported_media_type";
        case 429: return "rate_limited";
        case 503: return "unavailable";
        default: return status >= 500 ? "server" : "client";
    }
}

void Metrics::http_request(const std::string& path, int status) {
    std::lock_guard lock(mutex_);
    ++http_[{path, status}];
}

void Metrics::error(const std::string& kind) {
    std::lock_guard lock(mutex_);
    ++errors_[kind];
}

void Metrics::completion(bool steered, int64_t prompt_tokens, int64_t completion_tokens,
                         double seconds) {
    std::lock_guard lock(mutex_);
    ++(steered ? completions_on_ : completions_off_);
    prompt_tokens_ += static_cast<uint64_t>(prompt_tokens);
    completion_tokens_ += static_cast<uint64_t>(completion_tokens);
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
        if (seconds <= kLatencyBuckets[i]) ++latency_buckets_[i];
    }
    ++latency_count_;
    latency_sum_ += seconds;
}

void Metrics::cancelled() {
    std::lock_guard lock(mutex_);
    ++cancelled_;
}

void Metrics::batch(std::size_t size) {
    std::lock_guard lock(mutex_);
    ++batches_;
    batched_requests_ += size;
}

std::string Metrics::render(int64_t queue_depth, int64_t in_flight) const {
    std::lock_guard lock(mutex_);
    std::ostringstream out;
    header(out, "sarsteer_http_requests_total", "counter", "HTTP requests answered.");
    for (const auto& [key, count] : http_) {
        out << "sarsteer_http_requests_total{path=\"" << label(key.first) << "\",code=\""
            << key.second << "\"} " << count << '\n';
    }
    header(out, "sarsteer_errors_total", "counter", "Error answers by kind.");
    for (const auto& [kind, count] : errors_) {
        out << "sarsteer_errors_total{kind=\"" << label(kind) << "\"} " << count << '\n';
    }
    header(out, "sarsteer_completions_total", "counter",
           "Chat completions finished, by whether steering was applied.");
    out << "sarsteer_completions_total{steering=\"on\"} " << completions_on_ << '\n';
    out << "sarsteer_completions_total{steering=\"off\"} " << completions_off_ << '\n';
    header(out, "sarsteer_prompt_tokens_total", "counter",
           "Prompt tokens of finished completions.");
    out << "sarsteer_prompt_tokens_total " << prompt_tokens_ << '\n';
    header(out, "sarsteer_completion_tokens_total", "counter", "Tokens generated.");
    out << "sarsteer_completion_tokens_total " << completion_tokens_ << '\n';
    header(out, "sarsteer_batches_total", "counter", "Generation batches run.");
    out << "sarsteer_batches_total " << batches_ << '\n';
    header(out, "sarsteer_batched_requests_total", "counter", "Requests run in those batches.");
    out << "sarsteer_batched_requests_total " << batched_requests_ << '\n';
    header(out, "sarsteer_cancelled_total", "counter",
           "Completions stopped because the client disconnected.");
    out << "sarsteer_cancelled_total " << cancelled_ << '\n';
    header(out, "sarsteer_queue_depth", "gauge", "Requests waiting for a batch.");
    out << "sarsteer_queue_depth " << queue_depth << '\n';
    header(out, "sarsteer_in_flight", "gauge", "Completions admitted and not yet answered.");
    out << "sarsteer_in_flight " << in_flight << '\n';
    header(out, "sarsteer_steering_enabled", "gauge",
           "1 when the server's default defense steers activations.");
    out << "sarsteer_steering_enabled " << (steering_enabled_ ? 1 : 0) << '\n';
    header(out, "sarsteer_steering_alpha", "gauge", "The default steering strength.");
    out << "sarsteer_steering_alpha " << format_double(steering_alpha_) << '\n';
    header(out, "sarsteer_request_duration_seconds", "histogram",
           "Chat completion latency, from arrival until the answer is complete.");
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
        out << "sarsteer_request_duration_seconds_bucket{le=\"" << format_double(kLatencyBuckets[i])
            << "\"} " << latency_buckets_[i] << '\n';
    }
    out << "sarsteer_request_duration_seconds_bucket{le=\"+Inf\"} " << latency_count_ << '\n';
    out << "sarsteer_request_duration_seconds_sum " << format_double(latency_sum_) << '\n';
    out << "sarsteer_request_duration_seconds_count " << latency_count_ << '\n';
    return out.str();
}

}  // namespace sarsteer::serve
