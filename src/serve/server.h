// `sarsteer serve`: an OpenAI-compatible HTTP server (cpp-httplib) answering with the defense on.
//
//   POST /v1/chat/completions   OpenAI chat completions, with input_audio parts and streaming
//   GET  /v1/models             the one served model
//   GET  /health                {"status":"ok"} (503 while shutting down); never needs a key
//   GET  /metrics               Prometheus text (see serve/metrics.h)
//
// Handlers only validate, admit and answer; the Engine's worker thread does all model work.
// Security: with an API key every endpoint but /health needs "Authorization: Bearer <key>";
// bodies, audio length, clip count, text and max_tokens are bounded before any model work; the
// request's content is never used as a file path. See docs/serve.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace sarsteer::model {
class Model;
}
namespace sarsteer::steer {
class SteerHook;
}

namespace sarsteer::serve {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;                    // 0: an ephemeral port (see Server::port())
    std::string api_key;                // empty: no authentication
    std::string model_id = "sarsteer";  // the "model" reported by /v1/models and in answers
    std::size_t max_batch = 8;
    std::size_t max_queue = 64;  // waiting requests beyond which the server answers 429
    int batch_window_ms = 0;     // how long an idle worker waits for a batch to fill
    double max_audio_seconds = 30;
    std::size_t max_body_bytes = std::size_t{32} << 20;
    int64_t max_tokens = 1024;
    std::size_t max_audio_clips = 8;
    std::size_t max_messages = 256;
    std::size_t max_text_bytes = std::size_t{1} << 20;
    bool allow_request_defense_override = false;  // honour "sarsteer": {"alpha": A}
    int http_threads = 0;  // 0: max_queue + max_batch + 8 (every admitted request holds one)
};

// The defense every request gets (unless an allowed override changes the steering strength).
struct ServedDefense {
    std::string name = "none";                 // as --defense names it
    std::shared_ptr<steer::SteerHook> steer;   // the steering directions, or null
    double alpha = 0;                          // default steering strength (with `steer`)
    std::optional<std::string> system_prompt;  // prompt:system — replaces the system turn
    std::string instruction_suffix;            // prompt:<0..3> — appended to the last user turn
};

class Server {
public:
    Server(std::shared_ptr<const model::Model> model, ServedDefense defense, ServerOptions options);
    ~Server();  // shutdown()
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds (throws Error(kIo) naming host:port when it cannot) and starts serving on background
    // threads. Returns the bound port.
    int start();
    int port() const;

    // Graceful shutdown, safe to call from any thread (not from a signal handler): new requests
    // are refused with 503, admitted ones finish, then the listener and worker stop.
    void request_shutdown();
    // Blocks until request_shutdown() has been called and the shutdown has completed.
    void wait();
    void shutdown() {
        request_shutdown();
        wait();
    }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sarsteer::serve
