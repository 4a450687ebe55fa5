// The real server on a loopback ephemeral port, a make-tiny checkpoint and a real HTTP client.
#include "serve/server.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <atomic>
#include <future>
#include <thread>

#include "cli_support.h"
#include "model/make_tiny.h"
#include "model/session.h"
#include "sarsteer/audio.h"
#include "sarsteer/chat_prompt.h"
#include "serve/metrics.h"
#include "serve_test_util.h"
#include "steer/steer_hook.h"
#include "steer/steering_file.h"

namespace sarsteer::serve {
namespace {

using namespace testing;
using namespace std::chrono_literals;
using sarsteer::testing::ScratchDir;

constexpr double kAlpha = 8.0;

class ServeTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new ScratchDir("serve");
        model::make_tiny(dir_->path() / "tiny", {.seed = 3});
        model_ = model::Model::load({.path = dir_->path() / "tiny"});
        // A steering file with big random vectors, so that α visibly changes the tiny model.
        steer::SteeringVectors vectors;
        auto& m = vectors.metadata;
        m.model = steer::ModelFingerprint::of(model_->config());
        m.alpha = kAlpha;
        m.k = 1;
        m.harmful_manifest_sha256 = std::string(64, 'a');
        m.safe_manifest_sha256 = std::string(64, 'b');
        m.tool_version = "test";
        m.created = "2025-01-01T00:00:00Z";
        at::manual_seed(7);
        const auto d = model_->n_embd();
        for (int64_t l = 0; l < model_->n_layer(); ++l) {
            vectors.v.push_back(at::randn({d}) * 4);
            vectors.v_raw.push_back(at::randn({d}));
            vectors.safe_basis.push_back(at::randn({d, 1}));
            vectors.safe_mean.push_back(at::randn({d}));
        }
        vectors.save(dir_->path() / "steer.safetensors");
        steering_ = new steer::SteeringVectors(std::move(vectors));
        tone_ = new std::string(wav_bytes(1.0));
    }
    static void TearDownTestSuite() {
        model_.reset();
        delete steering_;
        delete tone_;
        delete dir_;
    }

    static ServedDefense steering_defense() {
        ServedDefense d;
        d.name = "sarsteer";
        d.alpha = kAlpha;
        steer::SteerParams params;
        params.alpha = kAlpha;
        d.steer = std::make_shared<steer::SteerHook>(
            steer::SteerHook::from_file(*steering_, params, model_->options()));
        return d;
    }

    static ServerOptions small_options() {
        ServerOptions o;
        o.port = 0;
        o.max_tokens = 64;
        o.max_batch = 4;
        o.model_id = "tiny";
        return o;
    }

    static std::unique_ptr<Server> start(ServerOptions options = small_options(),
                                         ServedDefense defense = {}) {
        auto server = std::make_unique<Server>(model_, std::move(defense), std::move(options));
        server->start();
        return server;
    }

    static httplib::Client client(const Server& server) {
        httplib::Client c("127.0.0.1", server.port());
        c.set_read_timeout(60);
        return c;
    }

    // What the library itself answers (greedy), as the server should.
    static model::Generation direct(const std::string& text, const std::string& audio,
                                    int64_t max_tokens) {
        std::vector<std::vector<float>> clips;
        std::vector<ChatMessage> messages = {{"user", std::vector<ContentPart>{}}};
        auto& parts = std::get<std::vector<ContentPart>>(messages[0].content);
        if (!audio.empty()) {
            const auto decoded = decode_audio(std::as_bytes(std::span(audio.data(), audio.size())));
            clips.push_back(resample(decoded.samples, decoded.sample_rate, kWhisperSampleRate));
            parts.emplace_back(AudioPart{});
        }
        parts.emplace_back(TextPart{text});
        const auto encoded =
            clips.empty() ? model::EncodedAudio{} : model::encode_clips(*model_, clips);
        const auto prompt = model::prepare_prompt(*model_, render_chat_prompt(messages), encoded);
        model::GenerateOptions options;
        options.max_new_tokens = max_tokens;
        auto sampling = model::SamplingParams::from(model_->generation_config());
        sampling.temperature = 0;
        options.sampling = {sampling};
        return model::generate(*model_, std::span(&prompt, 1), options)[0];
    }

    static json post(httplib::Client& c, const json& body, int expected_status,
                     const httplib::Headers& headers = {}) {
        auto res = c.Post("/v1/chat/completions", headers, body.dump(), "application/json");
        EXPECT_TRUE(res) << "no response";
        if (!res) return {};
        EXPECT_EQ(res->status, expected_status) << res->body;
        return json::parse(res->body);
    }

    static std::string metrics_text(httplib::Client& c, const httplib::Headers& headers = {}) {
        auto res = c.Get("/metrics", headers);
        EXPECT_TRUE(res && res->status == 200);
        return res ? res->body : "";
    }

    // Metrics of an answer are recorded as it completes, HTTP counters just after it is written:
    // poll briefly for `name` to reach `value`.
    static double await_metric(httplib::Client& c, const std::string& name, double value) {
        double now = -1;
        for (int i = 0; i < 100; ++i) {
            now = metric(metrics_text(c), name);
            if (now == value) break;
            std::this_thread::sleep_for(10ms);
        }
        return now;
    }

    // Expects an OpenAI error object with `status`, `code` and (if given) `param`.
    static void expect_error(const httplib::Result& res, int status, const std::string& code,
                             const std::string& param = {}) {
        ASSERT_TRUE(res) << "no response";
        EXPECT_EQ(res->status, status) << res->body;
        const auto body = json::parse(res->body, nullptr, false);
        ASSERT_TRUE(body.is_object()) << res->body;
        ASSERT_TRUE(body.contains("error")) << res->body;
        const auto& e = body["error"];
        EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty());
        EXPECT_TRUE(e["type"].is_string());
        EXPECT_TRUE(e.contains("param") && e.contains("code"));
        EXPECT_EQ(e["code"], code) << res->body;
        if (!param.empty()) {
            EXPECT_EQ(e["param"], param) << res->body;
        }
    }

    // The server still answers a good request.
    static void expect_still_serving(httplib::Client& c) {
        const auto body = post(c, chat_body("Still there?", "", 2), 200);
        EXPECT_EQ(body["object"], "chat.completion");
    }

    static ScratchDir* dir_;
    static std::shared_ptr<const model::Model> model_;
    static steer::SteeringVectors* steering_;
    static std::string* tone_;
};

ScratchDir* ServeTest::dir_ = nullptr;
std::shared_ptr<const model::Model> ServeTest::model_;
steer::SteeringVectors* ServeTest::steering_ = nullptr;
std::string* ServeTest::tone_ = nullptr;

TEST_F(ServeTest, PlainCompletionWithAudioEqualsTheLibrarysAnswer) {
    auto server = start();
    auto c = client(*server);
    const auto body = post(c, chat_body("What is said in the audio?", *tone_, 12), 200);
    const auto expected = direct("What is said in the audio?", *tone_, 12);
    EXPECT_EQ(body["object"], "chat.completion");
    EXPECT_EQ(body["model"], "tiny");
    EXPECT_EQ(body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
    const auto& choice = body["choices"][0];
    EXPECT_EQ(choice["index"], 0);
    EXPECT_EQ(choice["message"]["role"], "assistant");
    EXPECT_EQ(choice["message"]["content"], expected.text);
    EXPECT_EQ(choice["finish_reason"], std::string(model::finish_reason_name(expected.finish)));
    EXPECT_EQ(body["usage"]["prompt_tokens"], expected.prompt_tokens);
    EXPECT_EQ(body["usage"]["completion_tokens"], expected.tokens.size());
    EXPECT_EQ(body["usage"]["total_tokens"],
              expected.prompt_tokens + static_cast<int64_t>(expected.tokens.size()));
    // The prompt count is the tokenizer's: the chat template with the clip's <|AUDIO|> expanded.
    const auto prompt = render_audio_prompt(1, "What is said in the audio?");
    const std::vector<int64_t> frames = {100};  // 1 s at 16 kHz = 100 mel frames
    EXPECT_EQ(body["usage"]["prompt_tokens"],
              tokenize_prompt(model_->tokenizer(), prompt, frames).ids.size());
    EXPECT_EQ(body["sarsteer"]["defense"], "none");
}

TEST_F(ServeTest, RealSpeechClipAtAnotherRateIsAccepted) {
    auto server = start();
    auto c = client(*server);
    const auto speech =
        sarsteer::testing::slurp(sarsteer::testing::source_dir() / "data/demo/question.wav");
    const auto body = post(c, chat_body("Answer the question.", speech, 6), 200);
    EXPECT_EQ(body["choices"][0]["message"]["content"],
              direct("Answer the question.", speech, 6).text);
}

TEST_F(ServeTest, StreamedCompletionUsesOpenAisChunkFormat) {
    auto server = start();
    auto c = client(*server);
    auto body = chat_body("Describe the sound.", *tone_, 16);
    const auto plain = post(c, body, 200);
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    auto res = c.Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
    const auto payloads = sse_payloads(res->body);
    ASSERT_GE(payloads.size(), 4u) << res->body;
    EXPECT_EQ(payloads.back(), "[DONE]");
    EXPECT_TRUE(res->body.ends_with("data: [DONE]\n\n"));
    std::string text;
    std::string finish;
    json usage;
    for (std::size_t i = 0; i + 1 < payloads.size(); ++i) {
        const auto chunk = json::parse(payloads[i]);
        EXPECT_EQ(chunk["object"], "chat.completion.chunk");
        EXPECT_EQ(chunk["model"], "tiny");
        if (chunk.contains("usage")) {
            EXPECT_TRUE(chunk["choices"].empty());
            usage = chunk["usage"];
            continue;
        }
        const auto& choice = chunk["choices"][0];
        if (i == 0) {
            EXPECT_EQ(choice["delta"]["role"], "assistant");
        }
        if (choice["delta"].contains("content")) {
            text += choice["delta"]["content"].get<std::string>();
        }
        if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"].get<std::string>();
    }
    EXPECT_EQ(text, plain["choices"][0]["message"]["content"]);
    EXPECT_EQ(finish, plain["choices"][0]["finish_reason"]);
    EXPECT_EQ(usage, plain["usage"]);
}

TEST_F(ServeTest, ApiKeyIsRequiredEverywhereButHealth) {
    auto options = small_options();
    options.api_key = "s3cret-key";
    auto server = start(options);
    auto c = client(*server);
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(json::parse(health->body)["status"], "ok");
    expect_error(c.Get("/v1/models"), 401, "invalid_api_key");
    expect_error(c.Get("/metrics"), 401, "invalid_api_key");
    expect_error(c.Get("/v1/models", bearer("wrong")), 401, "invalid_api_key");
    expect_error(c.Get("/v1/models", {{"Authorization", "s3cret-key"}}), 401, "invalid_api_key");
    expect_error(c.Post("/v1/chat/completions", chat_body("hi", "", 2).dump(), "application/json"),
                 401, "invalid_api_key");
    auto models = c.Get("/v1/models", bearer("s3cret-key"));
    ASSERT_TRUE(models);
    EXPECT_EQ(models->status, 200);
    EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "tiny");
    const auto body = post(c, chat_body("hi", "", 2), 200, bearer("s3cret-key"));
    EXPECT_EQ(body["object"], "chat.completion");
    const auto metrics = metrics_text(c, bearer("s3cret-key"));
    EXPECT_GE(metric(metrics, "sarsteer_errors_total{kind=\"authentication\"}"), 5);
}

TEST_F(ServeTest, EachLimitIsEnforcedAndTheServerKeepsServing) {
    auto options = small_options();
    options.max_body_bytes = 64 * 1024;
    options.max_audio_seconds = 1.5;
    options.max_audio_clips = 2;
    auto server = start(options);
    auto c = client(*server);
    // Body size: refused from Content-Length, before the body is read.
    auto big = chat_body(std::string(100 * 1024, 'x'), "", 2);
    expect_error(c.Post("/v1/chat/completions", big.dump(), "application/json"), 413,
                 "payload_too_large");
    expect_still_serving(c);
    // max_tokens above --max-tokens.
    expect_error(c.Post("/v1/chat/completions", chat_body("hi", "", 65).dump(), "application/json"),
                 400, "limit_exceeded", "max_tokens");
    // Audio longer than --max-audio-seconds (read from the header).
    expect_error(c.Post("/v1/chat/completions", chat_body("hi", wav_bytes(2.0, 8000), 2).dump(),
                        "application/json"),
                 400, "limit_exceeded", "messages[0].content[0].input_audio");
    // Too many clips.
    const auto short_clip = wav_bytes(0.2);
    auto clips = chat_body("hi", short_clip, 2);
    for (int i = 0; i < 2; ++i) clips["messages"][0]["content"].push_back(audio_part(short_clip));
    expect_error(c.Post("/v1/chat/completions", clips.dump(), "application/json"), 400,
                 "limit_exceeded", "messages[0].content[3]");
    expect_still_serving(c);
}

TEST_F(ServeTest, BadRequestsGetTheRight4xxAndTheServerKeepsServing) {
    auto server = start();
    auto c = client(*server);
    const std::string path = "/v1/chat/completions";
    expect_error(c.Post(path, "{\"messages\": [", "application/json"), 400, "invalid_value",
                 "body");
    expect_error(c.Post(path, "", "application/json"), 400, "invalid_value", "body");
    auto bad_b64 = chat_body("hi", *tone_, 2);
    bad_b64["messages"][0]["content"][0]["input_audio"]["data"] = "not*base64!";
    expect_error(c.Post(path, bad_b64.dump(), "application/json"), 400, "invalid_value",
                 "messages[0].content[0].input_audio.data");
    expect_error(
        c.Post(path, chat_body("hi", "definitely not audio bytes", 2).dump(), "application/json"),
        400, "invalid_value", "messages[0].content[0].input_audio.data");
    // A WAV header followed by garbage: libsndfile refuses it.
    auto broken = wav_bytes(0.5).substr(0, 12) + std::string(64, '\x7f');
    expect_error(c.Post(path, chat_body("hi", broken, 2).dump(), "application/json"), 400,
                 "invalid_value");
    expect_error(c.Post(path, chat_body("hi", "", 2).dump(), "text/plain"), 415,
                 "unsupported_media_type");
    expect_error(c.Post(path, "messages=hi", "application/x-www-form-urlencoded"), 415,
                 "unsupported_media_type");
    expect_error(c.Get(path), 405, "method_not_allowed");
    expect_error(c.Get("/v1/nothing"), 404, "not_found");
    auto url_part = chat_body("hi", "", 2);
    url_part["messages"][0]["content"].push_back(
        {{"type", "input_audio_url"}, {"url", "file:///etc/passwd"}});
    expect_error(c.Post(path, url_part.dump(), "application/json"), 400, "unsupported",
                 "messages[0].content[1].type");
    auto override_alpha = chat_body("hi", "", 2);
    override_alpha["sarsteer"] = {{"alpha", 1.0}};
    expect_error(c.Post(path, override_alpha.dump(), "application/json"), 403,
                 "override_not_allowed", "sarsteer.alpha");
    expect_still_serving(c);
    const auto metrics = metrics_text(c);
    EXPECT_GE(metric(metrics, "sarsteer_errors_total{kind=\"invalid_request\"}"), 5);
    EXPECT_EQ(await_metric(c, "sarsteer_errors_total{kind=\"unsupported_media_type\"}", 2), 2);
    EXPECT_EQ(await_metric(c, "sarsteer_http_requests_total{path=\"other\",code=\"404\"}", 1), 1);
}

TEST_F(ServeTest, ConcurrentRequestsAreAllAnsweredAndBatched) {
    auto options = small_options();
    options.max_batch = 4;
    options.batch_window_ms = 50;
    auto server = start(options);
    const std::vector<std::string> texts = {
        "One", "Two words", "Three short words", "Four", "Five", "Six", "Seven", "Eight"};
    std::vector<std::future<json>> answers;
    for (const auto& text : texts) {
        answers.push_back(std::async(std::launch::async, [&, text] {
            auto c = client(*server);
            return post(c, chat_body(text, text.size() % 2 ? *tone_ : "", 10), 200);
        }));
    }
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const auto body = answers[i].get();
        const auto expected = direct(texts[i], texts[i].size() % 2 ? *tone_ : "", 10);
        EXPECT_EQ(body["choices"][0]["message"]["content"], expected.text) << texts[i];
        EXPECT_EQ(body["usage"]["completion_tokens"], expected.tokens.size()) << texts[i];
    }
    auto c = client(*server);
    const auto metrics = metrics_text(c);
    EXPECT_EQ(metric(metrics, "sarsteer_batched_requests_total"), 8);
    EXPECT_LT(metric(metrics, "sarsteer_batches_total"), 8);  // some requests shared a batch
    EXPECT_EQ(metric(metrics, "sarsteer_completions_total{steering=\"off\"}"), 8);
    EXPECT_EQ(metric(metrics, "sarsteer_request_duration_seconds_count"), 8);
    EXPECT_EQ(metric(metrics, "sarsteer_queue_depth"), 0);
    EXPECT_EQ(await_metric(c, "sarsteer_in_flight", 0), 0);
}

TEST_F(ServeTest, FullQueueAnswers429AtOnce) {
    auto options = small_options();
    options.max_batch = 2;
    options.max_queue = 1;
    options.batch_window_ms = 1000;  // the first request waits in the queue for a second one
    auto server = start(options);
    auto first = std::async(std::launch::async, [&] {
        auto c = client(*server);
        return post(c, chat_body("first", "", 2), 200);
    });
    auto c = client(*server);
    for (int i = 0; i < 100 && metric(metrics_text(c), "sarsteer_queue_depth") < 1; ++i) {
        std::this_thread::sleep_for(5ms);
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto res =
        c.Post("/v1/chat/completions", chat_body("second", "", 2).dump(), "application/json");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
    expect_error(res, 429, "queue_full");
    EXPECT_EQ(res->get_header_value("Retry-After"), "1");
    EXPECT_EQ(first.get()["object"], "chat.completion");
    expect_still_serving(c);
    EXPECT_EQ(await_metric(c, "sarsteer_errors_total{kind=\"rate_limited\"}", 1), 1);
}

TEST_F(ServeTest, SteeringChangesTokensAndShowsInMetrics) {
    auto plain_server = start();
    auto options = small_options();
    options.allow_request_defense_override = true;
    auto steered_server = start(options, steering_defense());
    auto plain = client(*plain_server);
    auto steered = client(*steered_server);
    const auto body = chat_body("What is said in the audio?", *tone_, 12);
    const auto off = post(plain, body, 200);
    const auto on = post(steered, body, 200);
    EXPECT_NE(on["choices"][0]["message"]["content"], off["choices"][0]["message"]["content"]);
    EXPECT_EQ(on["sarsteer"]["defense"], "sarsteer");
    EXPECT_EQ(on["sarsteer"]["alpha"], kAlpha);
    // An allowed override: α = 0 is the undefended answer, even batched with steered requests.
    auto zero = body;
    zero["sarsteer"] = {{"alpha", 0.0}};
    auto a = std::async(std::launch::async, [&] {
        auto c = client(*steered_server);
        return post(c, zero, 200);
    });
    auto b = std::async(std::launch::async, [&] {
        auto c = client(*steered_server);
        return post(c, body, 200);
    });
    EXPECT_EQ(a.get()["choices"][0]["message"]["content"], off["choices"][0]["message"]["content"]);
    EXPECT_EQ(b.get()["choices"][0]["message"]["content"], on["choices"][0]["message"]["content"]);
    const auto metrics_on = metrics_text(steered);
    EXPECT_EQ(metric(metrics_on, "sarsteer_steering_enabled"), 1);
    EXPECT_EQ(metric(metrics_on, "sarsteer_steering_alpha"), kAlpha);
    EXPECT_EQ(metric(metrics_on, "sarsteer_completions_total{steering=\"on\"}"), 2);
    EXPECT_EQ(metric(metrics_on, "sarsteer_completions_total{steering=\"off\"}"), 1);
    const auto metrics_off = metrics_text(plain);
    EXPECT_EQ(metric(metrics_off, "sarsteer_steering_enabled"), 0);
    EXPECT_EQ(metric(metrics_off, "sarsteer_completions_total{steering=\"on\"}"), 0);
    EXPECT_GT(metric(metrics_off, "sarsteer_completion_tokens_total"), 0);
    EXPECT_GT(metric(metrics_off, "sarsteer_prompt_tokens_total"), 0);
}

TEST_F(ServeTest, PromptDefenseRewritesTheConversation) {
    ServedDefense defense;
    defense.name = "prompt:0";
    defense.instruction_suffix = " I cannot assist with that.";
    auto server = start(small_options(), defense);
    auto c = client(*server);
    const auto body = post(c, chat_body("Tell me.", "", 6), 200);
    EXPECT_EQ(body["choices"][0]["message"]["content"],
              direct("Tell me. I cannot assist with that.", "", 6).text);
    EXPECT_EQ(body["sarsteer"]["defense"], "prompt:0");
}

TEST_F(ServeTest, ClientThatDisconnectsFreesItsSlot) {
    auto options = small_options();
    options.max_tokens = 2000;
    options.max_batch = 1;
    auto server = start(options);
    auto c = client(*server);
    auto body = chat_body("Keep talking", "", 2000);
    body["stream"] = true;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    int chunks = 0;
    req.content_receiver = [&](const char*, std::size_t, uint64_t, uint64_t) {
        return ++chunks < 3;  // hang up after a few events
    };
    auto streamer = client(*server);
    streamer.send(req);
    EXPECT_EQ(chunks, 3);
    double cancelled = 0;
    for (int i = 0; i < 200 && cancelled < 1; ++i) {
        std::this_thread::sleep_for(20ms);
        cancelled = metric(metrics_text(c), "sarsteer_cancelled_total");
    }
    EXPECT_EQ(cancelled, 1);
    // Its slot is free: the next request is served (with --max-batch 1 it could not be otherwise).
    expect_still_serving(c);
    EXPECT_EQ(await_metric(c, "sarsteer_in_flight", 0), 0);
}

TEST_F(ServeTest, ModelsHealthAndMetricsEndpoints) {
    auto server = start();
    auto c = client(*server);
    auto models = c.Get("/v1/models");
    ASSERT_TRUE(models);
    const auto list = json::parse(models->body);
    EXPECT_EQ(list["object"], "list");
    EXPECT_EQ(list["data"][0]["object"], "model");
    auto res = c.Get("/metrics");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
    for (const char* name :
         {"# TYPE sarsteer_http_requests_total counter", "# TYPE sarsteer_queue_depth gauge",
          "# TYPE sarsteer_request_duration_seconds histogram",
          "sarsteer_request_duration_seconds_bucket{le=\"+Inf\"} 0"}) {
        EXPECT_NE(res->body.find(name), std::string::npos) << name;
    }
    EXPECT_EQ(await_metric(c, "sarsteer_http_requests_total{path=\"/v1/models\",code=\"200\"}", 1),
              1);
}

TEST_F(ServeTest, ShutdownFinishesInFlightAndRefusesNewRequests) {
    auto options = small_options();
    options.max_tokens = 400;
    auto server = start(options);
    auto body = chat_body("Keep talking", "", 400);
    body["stream"] = true;
    std::atomic<bool> started{false};
    std::promise<void> refused_checked;
    auto checked = refused_checked.get_future();
    std::string stream;
    auto in_flight = std::async(std::launch::async, [&] {
        auto c = client(*server);
        httplib::Request req;
        req.method = "POST";
        req.path = "/v1/chat/completions";
        req.body = body.dump();
        req.set_header("Content-Type", "application/json");
        req.content_receiver = [&](const char* data, std::size_t n, uint64_t, uint64_t) {
            stream.append(data, n);
            if (!started.exchange(true)) checked.wait();  // hold the answer open
            return true;
        };
        return c.send(req);
    });
    while (!started) std::this_thread::sleep_for(1ms);
    server->request_shutdown();
    {
        auto c = client(*server);
        expect_error(
            c.Post("/v1/chat/completions", chat_body("late", "", 2).dump(), "application/json"),
            503, "shutting_down");
        auto health = c.Get("/health");
        ASSERT_TRUE(health);
        EXPECT_EQ(health->status, 503);
    }
    refused_checked.set_value();
    server->wait();
    const auto res = in_flight.get();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_TRUE(stream.ends_with("data: [DONE]\n\n"))
        << stream.substr(stream.size() > 200 ? stream.size() - 200 : 0);
}

}  // namespace
}  // namespace sarsteer::serve
