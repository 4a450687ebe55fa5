#include "eval/run_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/atomic_file.h"
#include "io/json_file.h"
#include "sarsteer/error.h"

namespace sarsteer::eval {
namespace {

namespace fs = std::filesystem;

std::string errno_text() {
    return std::strerror(errno);
}

// Splits text into complete lines; `complete_bytes` is where the last complete line ends.
std::vector<std::string_view> complete_lines(std::string_view text, std::size_t& complete_bytes) {
    std::vector<std::string_view> lines;
    std::size_t begin = 0;
    for (std::size_t nl; (nl = text.find('\n', begin)) != std::string_view::npos; begin = nl + 1) {
        if (nl > begin) lines.push_back(text.substr(begin, nl - begin));
    }
    complete_bytes = begin;
    return lines;
}

std::vector<ResponseRecord> parse_records(const fs::path& path, std::string_view text,
                                          std::size_t& complete_bytes) {
    std::vector<ResponseRecord> records;
    std::size_t line_no = 0;
    for (const auto line : complete_lines(text, complete_bytes)) {
        const auto subject = path.string() + ":" + std::to_string(++line_no);
        records.push_back(ResponseRecord::from_json(io::parse_json(line, subject), subject));
    }
    return records;
}

// The first key (dotted path) where two JSON values differ, or "" when equal.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b,
                             const std::string& prefix) {
    if (a.is_object() && b.is_object()) {
        for (const auto& [key, value] : a.items()) {
            const auto where = prefix.empty() ? key : prefix + "." + key;
            if (!b.contains(key)) return where;
            if (auto diff = first_difference(value, b.at(key), where); !diff.empty()) return diff;
        }
        for (const auto& [key, value] : b.items()) {
            if (!a.contains(key)) return prefix.empty() ? key : prefix + "." + key;
        }
        return "";
    }
    return a == b ? "" : (prefix.empty() ? "(whole value)" : prefix);
}

}  // namespace

nlohmann::json ResponseRecord::to_json() const {
    return {{"dataset", dataset},
            {"id", id},
            {"label", label},
            {"scenario", scenario},
            {"question", question},
            {"modality", modality},
            {"response", response},
            {"finish_reason", finish_reason},
            {"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"seconds", seconds}};
}

ResponseRecord ResponseRecord::from_json(const nlohmann::json& json, const std::string& subject) {
    if (!json.is_object()) {
        throw Error(ErrorKind::kCorruptInput, subject, "a response line must be a JSON object");
    }
    ResponseRecord r;
    r.dataset = io::required_field<std::string>(json, "dataset", subject);
    r.id = io::required_field<std::string>(json, "id", subject);
    r.label = io::optional_field<std::string>(json, "label", "", subject);
    r.scenario = io::optional_field<std::string>(json, "scenario", "", subject);
    r.question = io::optional_field<std::string>(json, "question", "", subject);
    r.modality = io::optional_field<std::string>(json, "modality", "audio", subject);
    r.response = io::required_field<std::string>(json, "response", subject);
    r.finish_reason = io::optional_field<std::string>(json, "finish_reason", "", subject);
    r.prompt_tokens = io::optional_field<int64_t>(json, "prompt_tokens", 0, subject);
    r.completion_tokens = io::optional_field<int64_t>(json, "completion_tokens", 0, subject);
    r.seconds = io::optional_field<double>(json, "seconds", 0.0, subject);
    return r;
}

std::string dataset_name(const fs::path& manifest) {
    const auto stem = manifest.stem().string();
    if (stem == "manifest") {
        const auto folder = fs::absolute(manifest).parent_path().filename().string();
        if (!folder.empty()) return folder;
    }
    return stem;
}

ResponseLog::ResponseLog(fs::path path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(ErrorKind::kIo, path_.string(), "cannot open: " + errno_text());
    try {
        const auto text = io::read_text_file(path_, std::size_t{4} << 30);
        std::size_t complete = 0;
        records_ = parse_records(path_, text, complete);
        if (complete < text.size() && ::ftruncate(fd_, static_cast<off_t>(complete)) != 0) {
            throw Error(ErrorKind::kIo, path_.string(),
                        "cannot cut off a torn last line: " + errno_text());
        }
        for (const auto& r : records_) keys_.emplace(r.dataset, r.id);
    } catch (...) {
        ::close(fd_);
        throw;
    }
}

ResponseLog::~ResponseLog() {
    if (fd_ >= 0) ::close(fd_);
}

bool ResponseLog::contains(const std::string& dataset, const std::string& id) const {
    return keys_.contains({dataset, id});
}

void ResponseLog::append(const ResponseRecord& record) {
    const auto line =
        record.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::size_t written = 0;
    while (written < line.size()) {
        const auto n = ::write(fd_, line.data() + written, line.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            throw Error(ErrorKind::kIo, path_.string(), "cannot append a result: " + errno_text(),
                        "results written so far are kept; free space and re-run to resume");
        }
        written += static_cast<std::size_t>(n);
    }
    records_.push_back(record);
    keys_.emplace(record.dataset, record.id);
}

std::vector<ResponseRecord> read_responses(const fs::path& path) {
    const auto text = io::read_text_file(path, std::size_t{4} << 30);
    std::size_t complete = 0;
    return parse_records(path, text, complete);
}

void write_or_check_run_config(const fs::path& run_dir, const nlohmann::json& config) {
    const auto path = run_dir / "config.json";
    if (!fs::exists(path)) {
        io::write_file_atomic(path, config.dump(2) + "\n");
        return;
    }
    const auto stored = io::read_json_file(path);
    const auto a = stored.contains("identity") ? stored.at("identity") : nlohmann::json{};
    const auto diff = first_difference(a, config.at("identity"), "");
    if (!diff.empty()) {
        throw Error(
            ErrorKind::kInvalidArgument, path.string(),
            "this run folder was made with a different configuration (" + diff + " differs)",
            "use a new --out folder, or the same settings to resume");
    }
}

nlohmann::json read_run_config(const fs::path& run_dir) {
    return io::read_json_file(run_dir / "config.json");
}

fs::path judgments_path(const fs::path& run_dir, const std::string& judge) {
    return run_dir / "judgments" / (judge + ".jsonl");
}

void write_judgments(const fs::path& run_dir, const std::string& judge,
                     const nlohmann::json& judge_description,
                     const std::vector<StoredJudgment>& judgments) {
    std::error_code ec;
    fs::create_directories(run_dir / "judgments", ec);
    if (ec) {
        throw Error(ErrorKind::kIo, (run_dir / "judgments").string(),
                    "cannot create folder: " + ec.message());
    }
    std::string text;
    for (const auto& j : judgments) {
        text += nlohmann::json{{"dataset", j.dataset},
                               {"id", j.id},
                               {"verdict", verdict_name(j.judgment.verdict)},
                               {"evidence", j.judgment.evidence}}
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                "\n";
    }
    io::write_file_atomic(run_dir / "judgments" / (judge + ".about.json"),
                          judge_description.dump(2) + "\n");
    io::write_file_atomic(judgments_path(run_dir, judge), text);
}

std::map<std::pair<std::string, std::string>, Verdict> read_judgments(const fs::path& run_dir,
                                                                      const std::string& judge) {
    const auto path = judgments_path(run_dir, judge);
    if (!fs::exists(path)) {
        const auto spec = judge.rfind("model-", 0) == 0 ? "model:<judge checkpoint>" : judge;
        throw Error(ErrorKind::kNotFound, path.string(), "no judgments by this judge",
                    "run `sarsteer judge --run " + run_dir.string() + " --judge " + spec + "`");
    }
    const auto text = io::read_text_file(path, std::size_t{4} << 30);
    std::size_t complete = 0;
    std::map<std::pair<std::string, std::string>, Verdict> out;
    std::size_t line_no = 0;
    for (const auto line : complete_lines(text, complete)) {
        const auto subject = path.string() + ":" + std::to_string(++line_no);
        const auto json = io::parse_json(line, subject);
        out[{io::required_field<std::string>(json, "dataset", subject),
             io::required_field<std::string>(json, "id", subject)}] =
            parse_verdict(io::required_field<std::string>(json, "verdict", subject), subject);
    }
    return out;
}

}  // namespace sarsteer::eval
