// Fault tests (issue 7): outputs that cannot be written (disk full, a file where a folder is
// expected, a destination that is not a regular file), a kill in the middle of extraction, a
// checkpoint shard that vanished. Every failure must be one clear error, and what was written
// before must survive intact.
//
// "Disk full" is simulated without privileges: the child runs under `ulimit -f` with SIGXFSZ
// ignored, so writes past the limit fail with EFBIG exactly where ENOSPC would. Running as root
// makes permission bits useless, so "unwritable" means a path below a regular file.
// The SIGKILL-during-eval test lives in tests/eval/eval_cli_test.cpp
// (EvalCli.KilledRunResumesWithNoDuplicateOrMissingItem).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "sarsteer/error.h"

namespace {

namespace fs = std::filesystem;
using sarsteer::Error;
using sarsteer::ErrorKind;
using sarsteer::testing::expect_one_line_error;
using sarsteer::testing::fixtures_dir;
using sarsteer::testing::quote;
using sarsteer::testing::run;
using sarsteer::testing::RunResult;
using sarsteer::testing::sarsteer_binary;
using sarsteer::testing::ScratchDir;
using sarsteer::testing::slurp;
using sarsteer::testing::source_dir;

// Runs the binary with file writes limited to `max_kib` KiB (RLIMIT_FSIZE; SIGXFSZ ignored, so a
// write past the limit fails with EFBIG as a full disk fails with ENOSPC). stderr goes through a
// pipe (not limited) so the error line is never lost; stdout is discarded.
RunResult run_with_fsize_limit(const std::vector<std::string>& args, int max_kib) {
    static int counter = 0;
    const auto err = fs::temp_directory_path() / ("sarsteer-fault-" + std::to_string(::getpid()) +
                                                  "-" + std::to_string(counter++) + ".err");
    std::string inner = "trap '' XFSZ; ulimit -f " + std::to_string(max_kib) + "; exec " +
                        quote(sarsteer_binary().string());
    for (const auto& a : args) inner += " " + quote(a);
    const std::string script = "set -o pipefail; sh -c " + quote(inner) +
                               " 2>&1 >/dev/null </dev/null | cat >" + quote(err.string());
    const int status = std::system(("bash -c " + quote(script)).c_str());
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = slurp(err);
    fs::remove(err);
    return r;
}

// A failed run: exit code 1 and exactly one error line, the last one on stderr, naming
// `subject` (progress lines may come before it).
void expect_error_line(const RunResult& r, const std::string& subject) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    ASSERT_FALSE(r.err.empty());
    ASSERT_EQ(r.err.back(), '\n') << r.err;
    const auto start = r.err.rfind('\n', r.err.size() - 2);
    const auto last = r.err.substr(start == std::string::npos ? 0 : start + 1);
    EXPECT_EQ(last.rfind("sarsteer: error: ", 0), 0u) << r.err;
    EXPECT_NE(last.find(subject), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("sarsteer: error: "), r.err.rfind("sarsteer: error: ")) << r.err;
}

std::string bytes_of(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Names of files in `dir` containing ".tmp." (temp files an atomic writer left behind).
std::vector<std::string> temp_files(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        const auto name = entry.path().filename().string();
        if (name.find(".tmp.") != std::string::npos) out.push_back(name);
    }
    return out;
}

// Every tensor of two safetensors files, byte for byte (metadata such as timestamps ignored).
void expect_same_tensors(const fs::path& a, const fs::path& b) {
    const auto fa = sarsteer::io::SafetensorsFile::open(a);
    const auto fb = sarsteer::io::SafetensorsFile::open(b);
    ASSERT_EQ(fa.tensors().size(), fb.tensors().size());
    for (const auto& t : fa.tensors()) {
        const auto& u = fb.at(t.name);
        EXPECT_EQ(t.shape, u.shape) << t.name;
        EXPECT_TRUE(std::equal(t.bytes.begin(), t.bytes.end(), u.bytes.begin(), u.bytes.end()))
            << t.name;
    }
}

// ---------------------------------------------------------------------------------------------
// Library level: the atomic writer and the sharded checkpoint reader.

TEST(AtomicWriter, RefusesToReplaceSomethingThatIsNotARegularFile) {
    ScratchDir dir("fault-atomic");
    // A FIFO stands in for a device such as /dev/full: rename() would silently replace the node.
    const auto fifo = dir / "pipe";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    try {
        sarsteer::io::write_file_atomic(fifo, "data");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kIo);
        EXPECT_EQ(e.subject(), fifo.string());
    }
    EXPECT_TRUE(fs::is_fifo(fifo));
    const auto folder = dir / "folder";
    fs::create_directory(folder);
    EXPECT_THROW(sarsteer::io::write_file_atomic(folder, "data"), Error);
    EXPECT_TRUE(fs::is_directory(folder));
    EXPECT_TRUE(temp_files(dir.path()).empty());
}

TEST(AtomicWriter, ParentThatIsAFileIsAClearError) {
    ScratchDir dir("fault-parent");
    std::ofstream(dir / "file") << "x";
    try {
        sarsteer::io::write_file_atomic(dir / "file" / "out.json", "{}");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kIo);
        EXPECT_NE(std::string(e.what()).find("out.json"), std::string::npos) << e.what();
    }
}

// A shard listed in the index disappears after the index was written (a partial download, a
// cleanup racing a load): opening reports the missing shard by name, whichever shard it is.
TEST(Checkpoint, VanishedShardIsAClearError) {
    ScratchDir dir("fault-shard");
    const std::vector<float> values = {1, 2, 3, 4};
    sarsteer::io::SafetensorsWriter a, b;
    a.add_f32("a.weight", {4}, values);
    b.add_f32("b.weight", {2, 2}, values);
    a.write(dir / "model-00001-of-00002.safetensors");
    b.write(dir / "model-00002-of-00002.safetensors");
    std::ofstream(dir / "model.safetensors.index.json")
        << R"({"metadata": {}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
              "b.weight": "model-00002-of-00002.safetensors"}})";
    ASSERT_EQ(sarsteer::io::Checkpoint::open(dir.path()).size(), 2u);

    for (const char* shard :
         {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
        const auto path = dir / shard;
        const auto saved = bytes_of(path);
        fs::remove(path);
        try {
            (void)sarsteer::io::Checkpoint::open(dir.path());
            ADD_FAILURE() << "no error without " << shard;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
            EXPECT_EQ(e.subject(), path.string());
        }
        // Replaced by a truncated copy (the download stopped): corrupt, not a crash.
        std::ofstream(path, std::ios::binary) << saved.substr(0, saved.size() - 3);
        try {
            (void)sarsteer::io::Checkpoint::open(dir.path());
            ADD_FAILURE() << "no error with a truncated " << shard;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::kCorruptInput) << e.what();
            EXPECT_EQ(e.subject(), path.string());
        }
        std::ofstream(path, std::ios::binary) << saved;
    }
    // A shard that stays open keeps its mapping: deleting the file afterwards changes nothing.
    const auto checkpoint = sarsteer::io::Checkpoint::open(dir.path());
    fs::remove(dir / "model-00002-of-00002.safetensors");
    EXPECT_EQ(sarsteer::io::to_f32(checkpoint.at("b.weight")), values);
}

// ---------------------------------------------------------------------------------------------
// The CLI on a tiny checkpoint.

class FaultCli : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new ScratchDir("faultcli");
        const auto r = run({"make-tiny", model(), "--seed", "5"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        sarsteer::testing::write_recording_manifest(dir_->path() / "harmful.jsonl", "h", 3);
        sarsteer::testing::write_recording_manifest(dir_->path() / "safe.jsonl", "s", 3);
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    static std::string model() { return (dir_->path() / "tiny").string(); }
    static std::string path(const std::string& name) { return (dir_->path() / name).string(); }
    static std::vector<std::string> forward_args(const std::string& dump) {
        return {"forward", "--model", model(), "--prompt", "What is said?", "--dump", dump};
    }
    static std::vector<std::string> extract_args(const std::string& out, const std::string& cache) {
        return {"steer",     "extract",
                "--model",   model(),
                "--harmful", path("harmful.jsonl"),
                "--safe",    path("safe.jsonl"),
                "--n",       "3",
                "--k",       "1",
                "--cache",   cache,
                "--out",     out};
    }
    static ScratchDir* dir_;
};

ScratchDir* FaultCli::dir_ = nullptr;

TEST_F(FaultCli, ForwardDumpOnAFullDiskKeepsTheEarlierDump) {
    const auto out = fs::path(path("full")) / "dump.safetensors";
    fs::create_directories(out.parent_path());
    ASSERT_EQ(run(forward_args(out.string())).exit_code, 0);
    const auto before = bytes_of(out);
    ASSERT_GT(before.size(), 64u * 1024);

    const auto r = run_with_fsize_limit(forward_args(out.string()), 16);
    expect_one_line_error(r, out.string());
    EXPECT_EQ(bytes_of(out), before) << "the earlier dump was damaged";
    EXPECT_TRUE(temp_files(out.parent_path()).empty());
}

TEST_F(FaultCli, ForwardDumpBelowAFileIsAClearError) {
    std::ofstream(path("plain-file")) << "x";
    const auto out = path("plain-file") + "/dump.safetensors";
    expect_one_line_error(run(forward_args(out)), out);
    EXPECT_EQ(slurp(path("plain-file")), "x");
}

TEST_F(FaultCli, ExtractOutputsThatCannotBeWrittenFailCleanly) {
    const auto good_dir = fs::path(path("extract-full"));
    fs::create_directories(good_dir);
    const auto out = (good_dir / "steer.safetensors").string();
    const auto cache = (good_dir / "acts.safetensors").string();
    const auto first = run(extract_args(out, cache));
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const auto steer_before = bytes_of(out);
    const auto cache_before = bytes_of(cache);

    // Disk full with the cache complete: only the vectors are written, and fail; both the
    // earlier vectors and the cache stay as they were.
    const auto full_out = run_with_fsize_limit(extract_args(out, cache), 4);
    expect_error_line(full_out, out);
    EXPECT_EQ(bytes_of(out), steer_before);
    EXPECT_EQ(bytes_of(cache), cache_before);

    // Disk full with no cache: the first per-sample part fails; nothing is half-written.
    fs::remove(cache);
    const auto full = run_with_fsize_limit(extract_args(out, cache), 4);
    expect_error_line(full, cache);
    EXPECT_EQ(bytes_of(out), steer_before);
    EXPECT_FALSE(fs::exists(cache));
    EXPECT_TRUE(temp_files(good_dir).empty());

    // A file where the cache's or the output's folder should be.
    std::ofstream(path("not-a-dir")) << "x";
    expect_error_line(run(extract_args(out, path("not-a-dir") + "/acts.safetensors")), "not-a-dir");
    expect_error_line(run(extract_args(path("not-a-dir") + "/steer.safetensors", cache)),
                      "not-a-dir");
    EXPECT_EQ(bytes_of(out), steer_before);
}

TEST_F(FaultCli, KilledExtractionResumesFromItsParts) {
    const auto reference = path("ref.safetensors");
    const auto ref = run(extract_args(reference, path("ref-acts.safetensors")));
    ASSERT_EQ(ref.exit_code, 0) << ref.err;

    const auto out = path("killed.safetensors");
    const auto cache = path("killed-acts.safetensors");
    auto args = extract_args(out, cache);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::vector<char*> argv;
        std::string binary = sarsteer_binary().string();
        argv.push_back(binary.data());
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int null_fd = ::open("/dev/null", O_WRONLY);
        ::dup2(null_fd, STDERR_FILENO);
        ::dup2(null_fd, STDOUT_FILENO);
        ::execv(binary.c_str(), argv.data());
        ::_exit(127);
    }
    // Kill it once two per-sample parts are on disk.
    const fs::path parts = cache + ".parts";
    const auto count_parts = [&] {
        std::size_t n = 0;
        std::error_code ec;
        for (auto it = fs::directory_iterator(parts, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            if (it->path().filename().string().find(".tmp.") == std::string::npos) ++n;
        }
        return n;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (std::chrono::steady_clock::now() < deadline && count_parts() < 2) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "extraction finished before it could be killed";
    EXPECT_FALSE(fs::exists(out));
    const auto kept = count_parts();
    EXPECT_GE(kept, 2u);
    EXPECT_LT(kept, 6u);
    // Every part on disk is complete (written atomically): at most the in-flight item is lost.
    for (const auto& entry : fs::directory_iterator(parts)) {
        if (entry.path().filename().string().find(".tmp.") != std::string::npos) continue;
        EXPECT_NO_THROW((void)sarsteer::io::SafetensorsFile::open(entry.path())) << entry.path();
    }

    const auto resumed = run(args);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    expect_same_tensors(out, reference);
    expect_same_tensors(cache, path("ref-acts.safetensors"));
    EXPECT_FALSE(fs::exists(parts)) << "parts are removed once the cache is complete";
}

TEST_F(FaultCli, EvalOutThatIsAFileIsAClearError) {
    std::ofstream(path("eval-file")) << "keep";
    const auto r =
        run({"eval", "--model", model(), "--data", path("harmful.jsonl"), "--modality", "text",
             "--judge", "none", "--max-new-tokens", "2", "--out", path("eval-file")});
    expect_one_line_error(r, "eval-file");
    EXPECT_EQ(slurp(path("eval-file")), "keep");
}

TEST_F(FaultCli, EvalOnAFullDiskKeepsEarlierResultsAndResumes) {
    const auto out = fs::path(path("eval-run"));
    const std::vector<std::string> args = {"eval",
                                           "--model",
                                           model(),
                                           "--data",
                                           path("harmful.jsonl"),
                                           "--data",
                                           path("safe.jsonl"),
                                           "--modality",
                                           "text",
                                           "--judge",
                                           "none",
                                           "--max-new-tokens",
                                           "24",
                                           "--temperature",
                                           "1",
                                           "--batch",
                                           "1",
                                           "--out",
                                           out.string()};
    auto first = args;
    first.insert(first.end(), {"-n", "1"});
    const auto r1 = run(first);
    ASSERT_EQ(r1.exit_code, 0) << r1.err;
    const auto responses = out / "responses.jsonl";
    const auto before = slurp(responses);
    ASSERT_FALSE(before.empty());

    // The whole run on a disk that fills up about 1 KiB further: one line, records kept.
    const auto limit_kib = static_cast<int>(before.size() / 1024) + 1;
    const auto r2 = run_with_fsize_limit(args, limit_kib);
    expect_error_line(r2, "responses.jsonl");
    EXPECT_EQ(slurp(responses).substr(0, before.size()), before);

    // With space again, the run resumes: every item exactly once.
    const auto r3 = run(args);
    ASSERT_EQ(r3.exit_code, 0) << r3.err;
    const auto text = slurp(responses);
    EXPECT_EQ(text.substr(0, before.size()), before);
    std::set<std::string> ids;
    std::size_t lines = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        ++lines;
        const auto j = nlohmann::json::parse(line);
        ids.insert(j.at("dataset").get<std::string>() + "/" + j.at("id").get<std::string>());
    }
    EXPECT_EQ(lines, 6u);
    EXPECT_EQ(ids.size(), 6u);
}

}  // namespace
