// A run folder (`sarsteer eval --out RUN_DIR`):
//   config.json              the run's configuration, written once (model fingerprint, defense,
//                            α, files with SHA-256, instruction, generation settings, seeds,
//                            tool version); a re-run must match it
//   responses.jsonl          one ResponseRecord per line, appended and flushed as each item
//                            finishes; a re-run skips the (dataset, id) pairs already there
//   judgments/<judge>.jsonl  one verdict per response, rewritten whole by each judging
//   metrics/<judge>.json     the run's metrics under that judge
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/judge.h"

namespace sarsteer::eval {

struct ResponseRecord {
    std::string dataset;  // the manifest's name (see dataset_name)
    std::string id;
    std::string label;
    std::string scenario;
    std::string question;
    std::string modality;  // "audio" or "text"
    std::string response;
    std::string finish_reason;
    int64_t prompt_tokens = 0;
    int64_t completion_tokens = 0;
    double seconds = 0.0;  // wall time of the batch the item ran in, shared by its items

    nlohmann::json to_json() const;
    // Throws Error(kCorruptInput) naming `subject` for a missing or mistyped field.
    static ResponseRecord from_json(const nlohmann::json& json, const std::string& subject);
};

// The name results file a manifest under: its file stem, or its folder's name for a file called
// manifest.jsonl (what `sarsteer synth` writes).
std::string dataset_name(const std::filesystem::path& manifest);

// responses.jsonl, opened for appending. Reading keeps every complete line; a torn last line
// (a kill in the middle of a write) is cut off before anything is appended.
class ResponseLog {
public:
    explicit ResponseLog(std::filesystem::path path);  // creates the file if missing
    ~ResponseLog();
    ResponseLog(const ResponseLog&) = delete;
    ResponseLog& operator=(const ResponseLog&) = delete;

    const std::vector<ResponseRecord>& records() const { return records_; }
    bool contains(const std::string& dataset, const std::string& id) const;
    // Writes one line with a single write(2) and flushes it to the kernel: a kill afterwards
    // loses nothing. Throws Error(kIo) naming the file (e.g. disk full); the file then still
    // ends at a line boundary or with a torn line that the next open cuts off.
    void append(const ResponseRecord& record);

private:
    std::filesystem::path path_;
    int fd_ = -1;
    std::vector<ResponseRecord> records_;
    std::set<std::pair<std::string, std::string>> keys_;
};

// Reads responses.jsonl without opening it for writing (judging, reports).
std::vector<ResponseRecord> read_responses(const std::filesystem::path& path);

// Writes RUN_DIR/config.json if absent; otherwise checks that its "identity" object equals
// config["identity"] and throws Error(kInvalidArgument) naming the first differing key.
void write_or_check_run_config(const std::filesystem::path& run_dir, const nlohmann::json& config);
nlohmann::json read_run_config(const std::filesystem::path& run_dir);

struct StoredJudgment {
    std::string dataset;
    std::string id;
    Judgment judgment;
};
// judgments/<judge>.jsonl (atomic) and its reader.
void write_judgments(const std::filesystem::path& run_dir, const std::string& judge,
                     const nlohmann::json& judge_description,
                     const std::vector<StoredJudgment>& judgments);
std::map<std::pair<std::string, std::string>, Verdict> read_judgments(
    const std::filesystem::path& run_dir, const std::string& judge);
std::filesystem::path judgments_path(const std::filesystem::path& run_dir,
                                     const std::string& judge);

}  // namespace sarsteer::eval
