#include "serve/engine.h"

#include <algorithm>
#include <iostream>

#include "model/model.h"
#include "model/session.h"
#include "sarsteer/error.h"
#include "serve/metrics.h"
#include "steer/steer_hook.h"

namespace sarsteer::serve {

void Job::push_token(int32_t id) {
    {
        std::lock_guard lock(mutex_);
        tokens_.push_back(id);
    }
    changed_.notify_all();
}

void Job::complete(std::string finish_reason, int64_t prompt_tokens) {
    {
        std::lock_guard lock(mutex_);
        if (done_) return;
        done_ = true;
        finish_reason_ = std::move(finish_reason);
        prompt_tokens_ = prompt_tokens;
    }
    changed_.notify_all();
}

void Job::fail(ApiError error) {
    {
        std::lock_guard lock(mutex_);
        if (done_) return;
        done_ = true;
        error_ = std::move(error);
    }
    changed_.notify_all();
}

Job::Update Job::wait(std::size_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return done_ || tokens_.size() > seen; });
    Update update;
    if (tokens_.size() > seen) {
        update.tokens.assign(tokens_.begin() + static_cast<std::ptrdiff_t>(seen), tokens_.end());
    }
    update.done = done_;
    update.finish_reason = finish_reason_;
    update.prompt_tokens = prompt_tokens_;
    update.error = error_;
    return update;
}

Engine::Engine(std::shared_ptr<const model::Model> model,
               std::shared_ptr<const steer::SteerHook> steer, EngineOptions options,
               Metrics* metrics)
    : model_(std::move(model)),
      steer_(std::move(steer)),
      options_(options),
      metrics_(metrics),
      worker_([this] { run(); }) {}

Engine::~Engine() {
    stop();
}

Engine::Admit Engine::submit(std::shared_ptr<Job> job) {
    {
        std::lock_guard lock(mutex_);
        if (closed_) return Admit::kClosed;
        if (queue_.size() >= options_.max_queue) return Admit::kQueueFull;
        queue_.push_back(std::move(job));
    }
    wake_.notify_all();
    return Admit::kQueued;
}

void Engine::stop() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
}

std::size_t Engine::queue_depth() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void Engine::run() {
    for (;;) {
        std::vector<std::shared_ptr<Job>> batch;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return !queue_.empty() || closed_; });
            if (queue_.empty()) return;  // closed and drained
            if (options_.batch_window.count() > 0 && queue_.size() < options_.max_batch) {
                wake_.wait_for(lock, options_.batch_window,
                               [&] { return queue_.size() >= options_.max_batch || closed_; });
            }
            while (!queue_.empty() && batch.size() < options_.max_batch) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        run_batch(std::move(batch));
    }
}

void Engine::run_batch(std::vector<std::shared_ptr<Job>> batch) {
    const auto& model = *model_;
    std::vector<model::PreparedPrompt> prompts;
    std::vector<std::shared_ptr<Job>> jobs;
    for (auto& job : batch) {
        if (job->cancelled()) {
            job->fail(api_error(503, "cancelled", "the client disconnected"));
            continue;
        }
        try {
            const auto encoded =
                job->clips.empty() ? model::EncodedAudio{} : model::encode_clips(model, job->clips);
            prompts.push_back(model::prepare_prompt(model, job->prompt, encoded));
            jobs.push_back(job);
        } catch (const Error& e) {
            std::cerr << "sarsteer serve: request failed: " << e.what() << '\n';
            job->fail(api_error_from(e));
        } catch (const std::exception& e) {
            std::cerr << "sarsteer serve: request failed: " << e.what() << '\n';
            job->fail(api_error(500, "server_error", "the server failed to answer this request"));
        }
    }
    if (jobs.empty()) return;
    if (metrics_) metrics_->batch(jobs.size());

    const auto defaults = model::SamplingParams::from(model.generation_config());
    model::GenerateOptions options;
    options.max_new_tokens = 0;
    options.sampling.clear();
    std::vector<double> alphas;
    for (const auto& job : jobs) {
        options.max_new_tokens = std::max(options.max_new_tokens, job->max_tokens);
        auto sampling = defaults;
        if (job->temperature) sampling.temperature = *job->temperature;
        if (job->top_p) sampling.top_p = *job->top_p;
        sampling.seed = job->seed;
        options.sampling.push_back(sampling);
        alphas.push_back(steer_ ? job->alpha : 0.0);
    }
    std::vector<int64_t> counts(jobs.size(), 0);
    options.on_token = [&](std::size_t s, int32_t id) {
        jobs[s]->push_token(id);
        ++counts[s];
    };
    options.cancelled = [&](std::size_t s) {
        return jobs[s]->cancelled() || counts[s] >= jobs[s]->max_tokens;
    };
    // One hook for the whole batch, one α per sequence (α = 0 rows are left untouched).
    std::optional<steer::SteerHook> hook;
    if (std::any_of(alphas.begin(), alphas.end(), [](double a) { return a != 0.0; })) {
        hook.emplace(steer_->directions(), alphas);
        options.hooks.push_back(&*hook);
    }
    try {
        const auto results = model::generate(model, prompts, options);
        for (std::size_t s = 0; s < jobs.size(); ++s) {
            jobs[s]->complete(std::string(model::finish_reason_name(results[s].finish)),
                              results[s].prompt_tokens);
        }
    } catch (const std::exception& e) {
        std::cerr << "sarsteer serve: generation failed: " << e.what() << '\n';
        const auto* error = dynamic_cast<const Error*>(&e);
        for (auto& job : jobs) {
            job->fail(
                error ? api_error_from(*error)
                      : api_error(500, "server_error", "the server failed to answer this request"));
        }
    }
}

}  // namespace sarsteer::serve
