// Running the `sarsteer` binary from tests: captured stdout/stderr, exit codes, one-line errors.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace sarsteer::testing {

struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

inline std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

inline std::string quote(const std::string& arg) {
    std::string q = "'";
    for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Runs the binary with `args`, capturing stdout and stderr separately.
inline RunResult run(const std::vector<std::string>& args) {
    static int counter = 0;
    const auto base =
        std::filesystem::temp_directory_path() /
        ("sarsteer-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::string cmd = quote(sarsteer_binary().string());
    for (const auto& a : args) cmd += " " + quote(a);
    cmd += " >" + quote(base.string() + ".out") + " 2>" + quote(base.string() + ".err") +
           " </dev/null";
    const int status = std::system(cmd.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(base.string() + ".out");
    r.err = slurp(base.string() + ".err");
    std::filesystem::remove(base.string() + ".out");
    std::filesystem::remove(base.string() + ".err");
    return r;
}

// A failure is exactly one line on stderr, naming `subject`.
inline void expect_one_line_error(const RunResult& r, const std::string& subject, int code = 1) {
    EXPECT_EQ(r.exit_code, code) << r.err;
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("sarsteer: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(subject), std::string::npos) << r.err;
}

// Writes a JSONL manifest of n items ("<prefix>0", ...) whose audio alternates between two real
// recordings (jfk.flac from the fixtures, the bundled demo question).
inline void write_recording_manifest(const std::filesystem::path& path, const std::string& prefix,
                                     int n) {
    std::ofstream out(path);
    const std::string clips[] = {(fixtures_dir() / "jfk.flac").string(),
                                 (source_dir() / "data" / "demo" / "question.wav").string()};
    for (int i = 0; i < n; ++i) {
        out << nlohmann::json{{"id", prefix + std::to_string(i)},
                              {"audio", clips[i % 2]},
                              {"question", "question " + std::to_string(i)},
                              {"label", prefix}}
                   .dump()
            << "\n";
    }
}

}  // namespace sarsteer::testing
