// `sarsteer serve` as a process: --help, flag errors, SIGTERM shutdown with a request in flight.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <regex>
#include <thread>

#include "cli_support.h"
#include "model/make_tiny.h"
#include "serve_test_util.h"

extern char** environ;

namespace sarsteer::serve {
namespace {

using namespace testing;
using namespace std::chrono_literals;
using sarsteer::testing::ScratchDir;

TEST(ServeCli, HelpListsTheFlags) {
    const auto r = sarsteer::testing::run({"serve", "--help"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const char* flag : {"--model", "--steer", "--alpha", "--defense", "--host", "--port",
                             "--api-key", "--api-key-file", "--max-batch", "--max-audio-seconds",
                             "--max-body-mb", "--max-tokens", "--allow-request-defense-override"}) {
        EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
    }
}

TEST(ServeCli, BadFlagsAndFilesAreRefused) {
    ScratchDir dir("serve-cli-flags");
    const auto usage =
        sarsteer::testing::run({"serve", "--model", (dir / "none").string(), "--max-batch", "0"});
    EXPECT_EQ(usage.exit_code, 2);
    EXPECT_NE(usage.err.find("--max-batch"), std::string::npos) << usage.err;
    sarsteer::testing::expect_one_line_error(
        sarsteer::testing::run({"serve", "--model", (dir / "none").string()}),
        (dir / "none").string(), 1);
    sarsteer::testing::expect_one_line_error(
        sarsteer::testing::run({"serve", "--model", (dir / "none").string(), "--api-key-file",
                                (dir / "missing-key").string()}),
        "missing-key", 1);
}

TEST(ServeCli, SigtermFinishesTheRequestInFlightThenExits) {
    ScratchDir dir("serve-cli");
    model::make_tiny(dir / "tiny", {.seed = 3});
    const auto out = dir / "out.txt";
    const auto err = dir / "err.txt";
    std::vector<std::string> args = {sarsteer::testing::sarsteer_binary().string(),
                                     "serve",
                                     "--model",
                                     (dir / "tiny").string(),
                                     "--port",
                                     "0",
                                     "--max-tokens",
                                     "300",
                                     "--threads",
                                     "1"};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);

    int port = 0;
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    for (int i = 0; i < 600 && port == 0; ++i) {
        std::smatch m;
        const auto text = sarsteer::testing::slurp(out);
        if (std::regex_search(text, m, listening))
            port = std::stoi(m[1]);
        else
            std::this_thread::sleep_for(50ms);
    }
    if (port == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        FAIL() << "server did not start: " << sarsteer::testing::slurp(err);
    }

    // A streamed request; SIGTERM arrives after its first event.
    auto body = chat_body("Keep talking", "", 300);
    body["stream"] = true;
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    std::string stream;
    bool signalled = false;
    req.content_receiver = [&](const char* data, std::size_t n, uint64_t, uint64_t) {
        stream.append(data, n);
        if (!signalled) {
            signalled = true;
            kill(pid, SIGTERM);
        }
        return true;
    };
    const auto res = c.send(req);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_TRUE(stream.ends_with("data: [DONE]\n\n"));
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << sarsteer::testing::slurp(err);
    EXPECT_NE(sarsteer::testing::slurp(out).find("stopped"), std::string::npos);
    EXPECT_NE(sarsteer::testing::slurp(err).find("shutting down"), std::string::npos);
    // Nothing listens any more.
    httplib::Client after("127.0.0.1", port);
    EXPECT_FALSE(after.Get("/health"));
}

}  // namespace
}  // namespace sarsteer::serve
