// Verdict names as stored in judgments/*.jsonl; torch-free, so the run-store fuzz target can
// compile it without the judges.
#include <string>
#include <string_view>

#include "eval/judge.h"
#include "sarsteer/error.h"

namespace sarsteer::eval {

std::string_view verdict_name(Verdict verdict) {
    switch (verdict) {
        case Verdict::kRefused: return "refused";
        case Verdict::kComplied: return "complied";
        case Verdict::kUnparsable: return "unparsable";
    }
    return "unparsable";
}

Verdict parse_verdict(std::string_view name, const std::string& subject) {
    for (auto v : {Verdict::kRefused, Verdict::kComplied, Verdict::kUnparsable}) {
        if (name == verdict_name(v)) return v;
    }
    throw Error(ErrorKind::kCorruptInput, subject, "unknown verdict \"" + std::string(name) + "\"",
                "expected refused, complied or unparsable");
}

}  // namespace sarsteer::eval
