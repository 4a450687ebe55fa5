// sarsteer serve: an OpenAI-compatible endpoint that answers with the defense on.
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/defense_flags.h"
#include "cli/model_flags.h"
#include "model/model.h"
#include "sarsteer/error.h"
#include "serve/server.h"

namespace sarsteer::cli {
namespace {

struct ServeFlags {
    ModelFlags model;
    DefenseFlags defense;
    serve::ServerOptions server;
    std::string api_key_file;
    std::string model_id;
    double max_body_mb = 32;
};

std::string read_api_key(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::kNotFound, path, "cannot read the API key file");
    std::stringstream text;
    text << in.rdbuf();
    auto key = text.str();
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    if (key.empty()) throw Error(ErrorKind::kInvalidArgument, path, "the API key file is empty");
    if (key.find_first_of(" \t\r\n") != std::string::npos) {
        throw Error(ErrorKind::kInvalidArgument, path, "the API key contains whitespace");
    }
    return key;
}

int g_signal_pipe[2] = {-1, -1};

void on_signal(int sig) {
    const unsigned char byte = static_cast<unsigned char>(sig);
    const int saved = errno;
    [[maybe_unused]] const auto n = ::write(g_signal_pipe[1], &byte, 1);
    errno = saved;
}

bool is_loopback(const std::string& host) {
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The served defense, as make_defense describes it (no instruction of its own: a prompt defense
// is applied to each request's messages).
serve::ServedDefense served_defense(const DefenseFlags& flags, const model::Model& model) {
    const auto active = make_defense(flags, model, PromptFlags{});
    serve::ServedDefense served;
    served.name = active.name;
    served.steer = active.hook;
    served.system_prompt = active.system;
    served.instruction_suffix = active.instruction_suffix;
    if (active.hook) served.alpha = active.description.at("alpha").get<double>();
    return served;
}

void run_serve(ServeFlags& flags) {
    ::signal(SIGPIPE, SIG_IGN);

    auto& options = flags.server;
    if (!flags.api_key_file.empty()) {
        if (!options.api_key.empty()) {
            throw Error(ErrorKind::kInvalidArgument, "--api-key-file",
                        "give --api-key or --api-key-file, not both");
        }
        options.api_key = read_api_key(flags.api_key_file);
    }
    options.max_body_bytes = static_cast<std::size_t>(flags.max_body_mb * 1024 * 1024);
    if (!is_loopback(options.host) && options.api_key.empty()) {
        warn("serving on " + options.host +
             " without an API key: anyone who can reach it can use it (see --api-key-file)");
    }
    const auto model = load_model(flags.model);
    auto defense = served_defense(flags.defense, *model);
    options.model_id =
        flags.model_id.empty()
            ? std::filesystem::path(flags.model.model).lexically_normal().filename().string()
            : flags.model_id;
    if (options.model_id.empty()) options.model_id = "sarsteer";
    const auto defense_name = defense.name;
    const auto alpha = defense.alpha;

    serve::Server server(model, std::move(defense), options);
    const int port = server.start();
    std::cout << "sarsteer serve: listening on http://" << options.host << ':' << port << " (model "
              << options.model_id << ", defense " << defense_name;
    if (alpha != 0) std::cout << ", alpha " << alpha;
    std::cout << ")" << std::endl;

    // First SIGINT/SIGTERM: graceful shutdown. A second one: exit at once. The handler only
    // writes the signal number to a pipe (any thread may take the signal: BLAS and OpenMP
    // threads exist before we could block it); a watcher thread does the rest.
    if (::pipe(g_signal_pipe) != 0) throw Error(ErrorKind::kIo, "serve", "cannot create a pipe");
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    std::thread watcher([&server] {
        bool first = true;
        for (;;) {
            unsigned char sig = 0;
            const auto n = ::read(g_signal_pipe[0], &sig, 1);
            if (n < 0 && errno == EINTR) continue;
            if (n != 1 || sig == 0) return;  // 0: the server stopped on its own
            if (!first) std::_Exit(128 + sig);
            first = false;
            std::cerr << "sarsteer serve: shutting down (in-flight requests finish; signal again "
                         "to stop at once)"
                      << std::endl;
            server.request_shutdown();
        }
    });
    server.wait();
    const unsigned char stop = 0;
    while (::write(g_signal_pipe[1], &stop, 1) < 0 && errno == EINTR) {
    }
    watcher.join();
    std::cout << "sarsteer serve: stopped" << std::endl;
}

}  // namespace

void add_serve_command(CLI::App& app) {
    auto flags = std::make_shared<ServeFlags>();
    auto* cmd = app.add_subcommand(
        "serve", "Serve an OpenAI-compatible chat completions endpoint with the defense on");
    add_model_flags(*cmd, flags->model);
    add_defense_flags(*cmd, flags->defense);
    auto& o = flags->server;
    cmd->add_option("--host", o.host, "Address to bind (loopback unless told otherwise)")
        ->capture_default_str();
    cmd->add_option("--port", o.port, "Port (0: any free port, printed at start)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    auto* key = cmd->add_option("--api-key", o.api_key,
                                "Require Authorization: Bearer KEY on every endpoint but /health "
                                "(visible in the process list: prefer --api-key-file)");
    cmd->add_option("--api-key-file", flags->api_key_file, "Read the API key from a file")
        ->excludes(key);
    cmd->add_option("--model-id", flags->model_id,
                    "Model name reported to clients (default: the checkpoint folder's name)");
    cmd->add_option("--max-batch", o.max_batch, "Requests generated together in one batch")
        ->check(CLI::Range(std::size_t{1}, std::size_t{256}))
        ->capture_default_str();
    cmd->add_option("--max-queue", o.max_queue,
                    "Requests that may wait for a batch; beyond that the answer is 429")
        ->check(CLI::Range(std::size_t{1}, std::size_t{4096}))
        ->capture_default_str();
    cmd->add_option("--batch-window-ms", o.batch_window_ms,
                    "How long an idle server waits for more requests to batch with the first")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    cmd->add_option("--max-audio-seconds", o.max_audio_seconds,
                    "Longest audio clip accepted (Qwen2-Audio hears at most 30 s)")
        ->check(CLI::Range(0.1, 30.0))
        ->capture_default_str();
    cmd->add_option("--max-body-mb", flags->max_body_mb, "Largest request body in MiB")
        ->check(CLI::Range(0.001, 1024.0))
        ->capture_default_str();
    cmd->add_option("--max-tokens", o.max_tokens,
                    "Largest max_tokens a request may ask for (and the default)")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
        ->capture_default_str();
    cmd->add_flag("--allow-request-defense-override", o.allow_request_defense_override,
                  "Let requests set their own steering strength with \"sarsteer\": {\"alpha\": A}");
    cmd->callback([flags] { run_serve(*flags); });
}

}  // namespace sarsteer::cli
