// The batching engine: a bounded queue of completion jobs and one worker thread that owns all
// model work. The worker takes up to max_batch waiting jobs, encodes their audio, runs them as
// one batched `generate` call (each job with its own sampling settings, token limit and
// steering strength) and streams every token to its job; jobs that arrive meanwhile wait for
// the next batch. All locking of the server lives here and in Job.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "serve/openai_response.h"

namespace sarsteer::model {
class Model;
}
namespace sarsteer::steer {
class SteerHook;
}

namespace sarsteer::serve {

class Metrics;

// One admitted chat completion: what to run (filled before submit, then read-only) and what came
// out (written by the worker, read by the HTTP thread that answers the client).
class Job {
public:
    std::string prompt;                     // the rendered chat prompt
    std::vector<std::vector<float>> clips;  // 16 kHz mono, in prompt order
    int64_t max_tokens = 16;
    std::optional<double> temperature;  // absent: the model's generation_config
    std::optional<double> top_p;
    uint64_t seed = 0;
    double alpha = 0;  // steering strength for this job; 0: not steered

    struct Update {
        std::vector<int32_t> tokens;  // the tokens after the `seen` first ones
        bool done = false;
        std::string finish_reason;  // "stop" | "length" once done
        int64_t prompt_tokens = 0;
        std::optional<ApiError> error;  // set when the job failed
    };

    // Worker side.
    void push_token(int32_t id);
    void complete(std::string finish_reason, int64_t prompt_tokens);
    void fail(ApiError error);

    // Client side: waits up to `timeout` for tokens beyond the first `seen`, or the end.
    Update wait(std::size_t seen, std::chrono::milliseconds timeout);
    // The client went away: the worker drops the job at its next token (or before it starts).
    void cancel() { cancelled_.store(true); }
    bool cancelled() const { return cancelled_.load(); }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<int32_t> tokens_;
    bool done_ = false;
    std::string finish_reason_;
    int64_t prompt_tokens_ = 0;
    std::optional<ApiError> error_;
    std::atomic<bool> cancelled_{false};
};

struct EngineOptions {
    std::size_t max_batch = 8;   // jobs per generate call
    std::size_t max_queue = 64;  // jobs waiting; a full queue refuses new ones
    // After the first job of a batch arrives on an idle engine, wait this long for more.
    std::chrono::milliseconds batch_window{0};
};

class Engine {
public:
    // `steer` (may be null) supplies the steering directions; each job's alpha scales them.
    Engine(std::shared_ptr<const model::Model> model, std::shared_ptr<const steer::SteerHook> steer,
           EngineOptions options, Metrics* metrics);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    enum class Admit { kQueued, kQueueFull, kClosed };
    Admit submit(std::shared_ptr<Job> job);

    // Refuses new jobs, lets the worker finish the queued ones, and joins it. Idempotent.
    void stop();

    std::size_t queue_depth() const;

private:
    void run();
    void run_batch(std::vector<std::shared_ptr<Job>> batch);

    std::shared_ptr<const model::Model> model_;
    std::shared_ptr<const steer::SteerHook> steer_;
    EngineOptions options_;
    Metrics* metrics_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::shared_ptr<Job>> queue_;
    bool closed_ = false;
    std::thread worker_;
};

}  // namespace sarsteer::serve
