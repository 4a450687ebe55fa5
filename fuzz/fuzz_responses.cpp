// responses.jsonl, the resumable evaluation log: ResponseLog's open (keep complete lines, cut a
// torn last line), append, and read_responses on arbitrary bytes. Checks the resume contract:
// after opening, the file is the input's longest prefix of lines that parse, and a record
// appended then reads back unchanged after everything that was kept.
#include <cstddef>
#include <cstdint>
#include <string>

#include "eval/run_store.h"
#include "fuzz_support.h"
#include "io/json_file.h"
#include "sarsteer/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace sarsteer;
    const auto path = fuzz::write_scratch("responses.jsonl", data, size);
    std::size_t kept = 0;
    try {
        eval::ResponseLog log(path);
        kept = log.records().size();
        const auto after_open = io::read_text_file(path, std::size_t{1} << 30);
        if (after_open.size() > size) __builtin_trap();
        if (after_open != fuzz::as_text(data, after_open.size())) __builtin_trap();
        if (!after_open.empty() && after_open.back() != '\n') __builtin_trap();
        eval::ResponseRecord record;
        record.dataset = "fuzz";
        record.id = "appended";
        record.response = std::string(fuzz::as_text(data, size < 64 ? size : 64));
        record.response += std::string(1, '\0') + "\"\\\n";  // escapes survive the round trip
        log.append(record);
        if (!log.contains("fuzz", "appended")) __builtin_trap();
        const auto again = eval::read_responses(path);
        if (again.size() != kept + 1) __builtin_trap();
        // Invalid UTF-8 from the input is stored as U+FFFD, as the log writes it.
        const auto stored = nlohmann::json::parse(
            record.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        if (again.back().to_json() != stored) __builtin_trap();
    } catch (const Error&) {
        // Only corrupt complete lines may be refused; the file must then be left as it was.
        const auto untouched = io::read_text_file(path, std::size_t{1} << 30);
        if (untouched != fuzz::as_text(data, size)) __builtin_trap();
    }
    return 0;
}
