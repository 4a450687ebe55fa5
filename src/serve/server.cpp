#include "serve/server.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "model/model.h"
#include "sarsteer/audio.h"
#include "sarsteer/chat_prompt.h"
#include "sarsteer/error.h"
#include "serve/engine.h"
#include "serve/metrics.h"
#include "serve/openai_request.h"
#include "serve/openai_response.h"

namespace sarsteer::serve {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kCompletionsPath = "/v1/chat/completions";
constexpr auto kPoll = 200ms;       // how often a waiting answer checks its job
constexpr auto kHeartbeat = 500ms;  // how often a silent answer probes the client

// Paths reported in metrics (anything else is "other", so clients cannot grow the label set).
std::string path_label(const std::string& path) {
    for (const char* known : {kCompletionsPath, "/v1/models", "/health", "/metrics"}) {
        if (path == known) return path;
    }
    return "other";
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff |= static_cast<unsigned char>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
    }
    return diff == 0;
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

// "application/json; charset=utf-8" -> "application/json"
std::string media_type(const std::string& content_type) {
    auto type = content_type.substr(0, content_type.find(';'));
    const auto first = type.find_first_not_of(" \t");
    const auto last = type.find_last_not_of(" \t");
    return first == std::string::npos ? "" : lower(type.substr(first, last - first + 1));
}

// Decoded text of `ids` without a trailing incomplete UTF-8 character (shown as U+FFFD).
std::string stable_text(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, bool final) {
    auto text = tokenizer.decode(ids, /*skip_special=*/true);
    if (!final) {
        while (text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0) {
            text.resize(text.size() - 3);
        }
    }
    return text;
}

// The messages with the served prompt defense applied.
std::vector<ChatMessage> defended_messages(std::vector<ChatMessage> messages,
                                           const ServedDefense& defense) {
    if (defense.system_prompt) {
        if (!messages.empty() && messages.front().role == "system") {
            messages.front().content = *defense.system_prompt;
        } else {
            messages.insert(messages.begin(), ChatMessage{"system", *defense.system_prompt});
        }
    }
    if (!defense.instruction_suffix.empty()) {
        for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
            if (it->role != "user") continue;
            if (auto* text = std::get_if<std::string>(&it->content)) {
                *text += defense.instruction_suffix;
            } else {
                auto& parts = std::get<std::vector<ContentPart>>(it->content);
                if (!parts.empty() && std::holds_alternative<TextPart>(parts.back())) {
                    std::get<TextPart>(parts.back()).text += defense.instruction_suffix;
                } else {
                    parts.emplace_back(TextPart{defense.instruction_suffix});
                }
            }
            break;
        }
    }
    return messages;
}

// State of one answer while httplib writes it.
struct Answer {
    std::shared_ptr<Job> job;
    CompletionInfo info;
    bool stream = false;
    bool include_usage = false;
    bool steered = false;
    Clock::time_point arrived;
    Clock::time_point last_write;
    std::vector<int32_t> tokens;
    std::size_t sent_bytes = 0;  // of the streamed text
    bool role_sent = false;
    bool answered = false;  // the final bytes were written
    int64_t prompt_tokens = 0;
};

}  // namespace

struct Server::Impl {
    std::shared_ptr<const model::Model> model;
    ServedDefense defense;
    ServerOptions options;
    RequestLimits limits;
    Metrics metrics;
    std::unique_ptr<Engine> engine;
    httplib::Server http;
    std::thread listener;
    int bound_port = 0;

    std::mutex state_mutex;
    std::condition_variable state_changed;
    bool shutdown_requested = false;
    bool shut_down = false;
    int64_t in_flight = 0;
    std::mutex wait_mutex;  // one caller runs the shutdown; others wait for it

    std::mutex rng_mutex;
    std::mt19937_64 rng{std::random_device{}()};
    uint64_t next_id = 0;

    Impl(std::shared_ptr<const model::Model> m, ServedDefense d, ServerOptions o)
        : model(std::move(m)),
          defense(std::move(d)),
          options(std::move(o)),
          metrics(defense.steer != nullptr && defense.alpha != 0.0,
                  defense.steer ? defense.alpha : 0.0) {
        limits.max_tokens = options.max_tokens;
        limits.max_messages = options.max_messages;
        limits.max_text_bytes = options.max_text_bytes;
        limits.max_audio_clips = options.max_audio_clips;
        limits.max_audio_bytes = options.max_body_bytes;
        engine = std::make_unique<Engine>(
            model, defense.steer,
            EngineOptions{options.max_batch, options.max_queue,
                          std::chrono::milliseconds(options.batch_window_ms)},
            &metrics);
        configure();
    }

    bool admit() {
        std::lock_guard lock(state_mutex);
        if (shutdown_requested) return false;
        ++in_flight;
        return true;
    }
    void release() {
        {
            std::lock_guard lock(state_mutex);
            --in_flight;
        }
        state_changed.notify_all();
    }
    bool draining() {
        std::lock_guard lock(state_mutex);
        return shutdown_requested;
    }
    int64_t in_flight_now() {
        std::lock_guard lock(state_mutex);
        return in_flight;
    }

    static void answer(httplib::Response& res, const ApiError& error) {
        res.status = error.status;
        res.set_content(error.to_json(), "application/json");
    }

    std::string new_id() {
        std::lock_guard lock(rng_mutex);
        char buffer[48];
        std::snprintf(buffer, sizeof(buffer), "chatcmpl-%016llx%08llx",
                      static_cast<unsigned long long>(rng()),
                      static_cast<unsigned long long>(next_id++ & 0xFFFFFFFFu));
        return buffer;
    }
    uint64_t random_seed() {
        std::lock_guard lock(rng_mutex);
        return rng();
    }

    void configure();
    httplib::Server::HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res);
    std::optional<ApiError> check_request(const httplib::Request& req);
    void complete(const httplib::Request& req, httplib::Response& res);
    std::shared_ptr<Job> make_job(const ParsedRequest& request, double alpha);
    bool write_answer(Answer& state, httplib::DataSink& sink);
};

void Server::Impl::configure() {
    const auto threads = options.http_threads > 0 ? static_cast<std::size_t>(options.http_threads)
                                                  : options.max_queue + options.max_batch + 8;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_payload_max_length(options.max_body_bytes);
    http.set_keep_alive_timeout(2);
    http.set_read_timeout(10);
    http.set_write_timeout(10);
    http.set_tcp_nodelay(true);

    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        return pre_route(req, res);
    });
    http.set_error_handler(
        [max_body = options.max_body_bytes](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return;
            switch (res.status) {
                case 404:
                    answer(res, api_error(404, "not_found", "no endpoint " + req.path));
                    break;
                case 413:
                    answer(res, api_error(413, "payload_too_large",
                                          "the request body is larger than this server accepts (" +
                                              std::to_string(max_body) + " bytes)"));
                    break;
                default:
                    answer(res, api_error(res.status, "http_error",
                                          "the server could not handle this HTTP request"));
            }
        });
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
            try {
                if (error) std::rethrow_exception(error);
            } catch (const std::exception& e) {
                std::cerr << "sarsteer serve: handler failed: " << e.what() << '\n';
            } catch (...) {
                std::cerr << "sarsteer serve: handler failed\n";
            }
            answer(res, api_error(500, "server_error", "the server failed to answer this request"));
        });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        metrics.http_request(path_label(req.path), res.status);
        if (res.status >= 400) metrics.error(error_kind_label(res.status));
    });

    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
        if (draining()) {
            res.status = 503;
            res.set_content(R"({"status":"shutting_down"})", "application/json");
        } else {
            res.set_content(R"({"status":"ok"})", "application/json");
        }
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
        const nlohmann::json body = {
            {"object", "list"},
            {"data", nlohmann::json::array({{{"id", options.model_id},
                                             {"object", "model"},
                                             {"created", 0},
                                             {"owned_by", "sarsteer"},
                                             {"sarsteer",
                                              {{"defense", defense.name},
                                               {"alpha", defense.steer ? defense.alpha : 0.0},
                                               {"max_tokens", options.max_tokens}}}}})}};
        res.set_content(body.dump(), "application/json");
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(
            metrics.render(static_cast<int64_t>(engine->queue_depth()), in_flight_now()),
            "text/plain; version=0.0.4; charset=utf-8");
    });
    http.Post(kCompletionsPath,
              [this](const httplib::Request& req, httplib::Response& res) { complete(req, res); });
    for (const char* path : {kCompletionsPath}) {
        auto not_allowed = [](const httplib::Request& req, httplib::Response& res) {
            res.set_header("Allow", "POST");
            answer(res, api_error(405, "method_not_allowed",
                                  req.method + " is not allowed here; use POST"));
        };
        http.Get(path, not_allowed);
        http.Put(path, not_allowed);
        http.Delete(path, not_allowed);
        http.Patch(path, not_allowed);
    }
}

// Requests without a body are refused here (before routing); a request with a body is checked
// by its handler once httplib has read the body (at most --max-body-mb, larger ones get 413 and
// are skipped unread), because answering while a body is still unread would reset the connection
// before the client sees the answer.
httplib::Server::HandlerResponse Server::Impl::pre_route(const httplib::Request& req,
                                                         httplib::Response& res) {
    using R = httplib::Server::HandlerResponse;
    const bool has_body =
        req.get_header_value<uint64_t>("Content-Length") > 0 || req.has_header("Transfer-Encoding");
    if (has_body) return R::Unhandled;
    const auto error = check_request(req);
    if (!error) return R::Unhandled;
    if (error->status == 401) res.set_header("WWW-Authenticate", "Bearer");
    answer(res, *error);
    return R::Handled;
}

std::optional<ApiError> Server::Impl::check_request(const httplib::Request& req) {
    if (req.path == "/health") return std::nullopt;
    if (!options.api_key.empty()) {
        const auto header = req.get_header_value("Authorization");
        const std::string_view prefix = "Bearer ";
        const bool ok =
            header.size() > prefix.size() && header.compare(0, prefix.size(), prefix) == 0 &&
            constant_time_equal(std::string_view(header).substr(prefix.size()), options.api_key);
        if (!ok) {
            return api_error(401, "invalid_api_key",
                             header.empty() ? "missing API key: send Authorization: Bearer <key>"
                                            : "invalid API key");
        }
    }
    if (req.path == kCompletionsPath && req.method == "POST") {
        if (draining()) return api_error(503, "shutting_down", "the server is shutting down");
        const auto type = media_type(req.get_header_value("Content-Type"));
        if (type != "application/json") {
            return api_error(415, "unsupported_media_type",
                             "Content-Type must be application/json, not \"" +
                                 req.get_header_value("Content-Type") + "\"");
        }
    }
    return std::nullopt;
}

std::shared_ptr<Job> Server::Impl::make_job(const ParsedRequest& request, double alpha) {
    auto job = std::make_shared<Job>();
    // Audio: the header is checked against --max-audio-seconds before any sample is decoded.
    std::vector<int64_t> frames;
    DecodeLimits decode_limits;
    decode_limits.max_seconds = options.max_audio_seconds;
    for (const auto& clip : request.audio) {
        auto decoded = decode_audio(clip.bytes, clip.param, decode_limits);
        auto samples = resample(decoded.samples, decoded.sample_rate, kWhisperSampleRate);
        frames.push_back(std::min<int64_t>(
            kWhisperNFrames,
            (static_cast<int64_t>(samples.size()) + kWhisperHopLength - 1) / kWhisperHopLength));
        job->clips.push_back(std::move(samples));
    }
    job->prompt = render_chat_prompt(defended_messages(request.messages, defense));
    const auto n_prompt =
        static_cast<int64_t>(tokenize_prompt(model->tokenizer(), job->prompt, frames).ids.size());
    const auto context = model->config().text.max_position_embeddings;
    if (n_prompt + request.max_tokens > context) {
        throw Error(ErrorKind::kLimitExceeded, "messages",
                    "the prompt has " + std::to_string(n_prompt) + " tokens; with max_tokens " +
                        std::to_string(request.max_tokens) + " it exceeds the model's context of " +
                        std::to_string(context) + " tokens");
    }
    job->max_tokens = request.max_tokens;
    job->temperature = request.temperature;
    job->top_p = request.top_p;
    job->seed = request.seed ? *request.seed : random_seed();
    job->alpha = alpha;
    return job;
}

void Server::Impl::complete(const httplib::Request& req, httplib::Response& res) {
    const auto arrived = Clock::now();
    if (auto error = check_request(req)) {
        if (error->status == 401) res.set_header("WWW-Authenticate", "Bearer");
        return answer(res, *error);
    }
    std::shared_ptr<Job> job;
    ParsedRequest request;
    double alpha = defense.steer ? defense.alpha : 0.0;
    try {
        request = parse_chat_request(req.body, limits);
        if (request.alpha) {
            if (!options.allow_request_defense_override) {
                return answer(res, api_error(403, "override_not_allowed",
                                             "this server does not allow requests to change the "
                                             "defense (start it with "
                                             "--allow-request-defense-override)",
                                             "sarsteer.alpha"));
            }
            if (!defense.steer) {
                return answer(
                    res, api_error(400, "invalid_value", "this server has no steering file loaded",
                                   "sarsteer.alpha"));
            }
            alpha = *request.alpha;
        }
        job = make_job(request, alpha);
    } catch (const Error& e) {
        return answer(res, api_error_from(e));
    }

    if (!admit()) {
        return answer(res, api_error(503, "shutting_down", "the server is shutting down"));
    }
    switch (engine->submit(job)) {
        case Engine::Admit::kQueued: break;
        case Engine::Admit::kQueueFull:
            release();
            res.set_header("Retry-After", "1");
            return answer(res, api_error(429, "queue_full",
                                         "the server is busy (request queue full); retry later"));
        case Engine::Admit::kClosed:
            release();
            return answer(res, api_error(503, "shutting_down", "the server is shutting down"));
    }

    auto state = std::make_shared<Answer>();
    state->job = job;
    state->info = CompletionInfo{new_id(), static_cast<int64_t>(std::time(nullptr)),
                                 options.model_id, defense.name, alpha};
    state->stream = request.stream;
    state->include_usage = request.include_usage;
    state->steered = alpha != 0.0;
    state->arrived = arrived;
    state->last_write = Clock::now();
    auto provider = [this, state](std::size_t, httplib::DataSink& sink) {
        return write_answer(*state, sink);
    };
    auto releaser = [this, state](bool) {
        if (!state->answered) {
            state->job->cancel();  // the client went away: free its place in the batch
            metrics.cancelled();
        }
        release();
    };
    if (request.stream) {
        res.set_header("Cache-Control", "no-cache");
        res.set_chunked_content_provider("text/event-stream", std::move(provider),
                                         std::move(releaser));
    } else {
        res.set_chunked_content_provider("application/json", std::move(provider),
                                         std::move(releaser));
    }
}

// Called by httplib until sink.done(): waits briefly for the job, writes what is new. While
// nothing is new it writes a heartbeat (JSON whitespace, or an SSE comment), so that a client
// that went away is noticed and its job cancelled. Returns false to abort the answer.
bool Server::Impl::write_answer(Answer& state, httplib::DataSink& sink) {
    auto update = state.job->wait(state.tokens.size(), kPoll);
    state.tokens.insert(state.tokens.end(), update.tokens.begin(), update.tokens.end());
    const auto& tokenizer = model->tokenizer();
    std::string out;
    if (!state.stream) {
        if (update.done) {
            if (update.error) {
                out = update.error->to_json();
            } else {
                state.prompt_tokens = update.prompt_tokens;
                out = completion_json(
                    state.info, tokenizer.decode(state.tokens, /*skip_special=*/true),
                    update.finish_reason,
                    Usage{update.prompt_tokens, static_cast<int64_t>(state.tokens.size())});
            }
        }
    } else {
        if (!state.role_sent) {
            out += chunk_event(state.info, "", /*role_delta=*/true, "");
            state.role_sent = true;
        }
        if (!update.tokens.empty() || update.done) {
            const auto text = stable_text(tokenizer, state.tokens, update.done);
            if (text.size() > state.sent_bytes) {
                out += chunk_event(state.info, std::string_view(text).substr(state.sent_bytes),
                                   false, "");
                state.sent_bytes = text.size();
            }
        }
        if (update.done) {
            if (update.error) {
                out += "data: " + update.error->to_json() + "\n\n";
            } else {
                state.prompt_tokens = update.prompt_tokens;
                out += chunk_event(state.info, "", false, update.finish_reason);
                if (state.include_usage) {
                    out += usage_event(
                        state.info,
                        Usage{update.prompt_tokens, static_cast<int64_t>(state.tokens.size())});
                }
            }
            out += kDoneEvent;
        }
    }
    const auto now = Clock::now();
    if (out.empty()) {
        if (now - state.last_write < kHeartbeat) return true;
        out = state.stream ? ": keep-alive\n\n" : " ";
    }
    if (update.done) {
        // Counted before the last bytes go out, so a client that reads /metrics next sees it.
        state.answered = true;
        if (!update.error) {
            metrics.completion(state.steered, state.prompt_tokens,
                               static_cast<int64_t>(state.tokens.size()),
                               std::chrono::duration<double>(now - state.arrived).count());
        }
    }
    if (!sink.write(out.data(), out.size())) return false;
    state.last_write = now;
    if (update.done) sink.done();
    return true;
}

Server::Server(std::shared_ptr<const model::Model> model, ServedDefense defense,
               ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(defense), std::move(options))) {}

Server::~Server() {
    if (impl_->listener.joinable() || !impl_->shut_down) shutdown();
}

int Server::start() {
    auto& impl = *impl_;
    const auto where = impl.options.host + ":" + std::to_string(impl.options.port);
    int port = impl.options.port;
    if (port == 0) {
        port = impl.http.bind_to_any_port(impl.options.host);
        if (port < 0) throw Error(ErrorKind::kIo, where, "cannot bind to an ephemeral port");
    } else if (!impl.http.bind_to_port(impl.options.host, port)) {
        throw Error(ErrorKind::kIo, where, "cannot listen there",
                    "is the port in use, or the host not an address of this machine?");
    }
    impl.bound_port = port;
    impl.listener = std::thread([&impl] { impl.http.listen_after_bind(); });
    // httplib's stop() only stops a server that is already running: wait for it to be.
    for (int i = 0; i < 5000 && !impl.http.is_running(); ++i) std::this_thread::sleep_for(1ms);
    return port;
}

int Server::port() const {
    return impl_->bound_port;
}

void Server::request_shutdown() {
    {
        std::lock_guard lock(impl_->state_mutex);
        impl_->shutdown_requested = true;
    }
    impl_->state_changed.notify_all();
}

void Server::wait() {
    auto& impl = *impl_;
    std::lock_guard one_at_a_time(impl.wait_mutex);
    {
        std::unique_lock lock(impl.state_mutex);
        impl.state_changed.wait(lock, [&] { return impl.shutdown_requested; });
        if (impl.shut_down) return;
        // In-flight answers finish (new ones are refused from now on).
        impl.state_changed.wait(lock, [&] { return impl.in_flight == 0; });
    }
    impl.engine->stop();
    impl.http.stop();
    if (impl.listener.joinable()) impl.listener.join();
    std::lock_guard lock(impl.state_mutex);
    impl.shut_down = true;
}

}  // namespace sarsteer::serve
