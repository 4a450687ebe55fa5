#include "text_test_util.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace sarsteer::testing {

std::filesystem::path qwen2_tokenizer_dir() {
    return fixtures_dir() / "qwen2_tokenizer";
}

const Tokenizer& qwen2_tokenizer() {
    static const Tokenizer kTokenizer = Tokenizer::load(qwen2_tokenizer_dir());
    return kTokenizer;
}

std::vector<GoldenCase> load_golden_cases() {
    const auto path = qwen2_tokenizer_dir() / "cases.jsonl";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::vector<GoldenCase> cases;
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.empty()) continue;
        const auto j = nlohmann::json::parse(line);
        cases.push_back({line_no, j.at("text").get<std::string>(),
                         j.at("ids").get<std::vector<int32_t>>(),
                         j.at("source").get<std::string>()});
    }
    return cases;
}

std::string gpt2_byte_symbol(unsigned char b) {
    // bytes_to_unicode(): printable bytes keep their value; the rest, in byte order, get
    // 256, 257, ...
    auto printable = [](int v) {
        return (v >= '!' && v <= '~') || (v >= 0xA1 && v <= 0xAC) || (v >= 0xAE && v <= 0xFF);
    };
    unsigned cp = b;
    if (!printable(b)) {
        cp = 256;
        for (int v = 0; v < b; ++v) cp += printable(v) ? 0 : 1;
    }
    std::string out;
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return out;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_byte_vocab_dir(const std::filesystem::path& dir, const std::vector<std::string>& extra,
                          const std::vector<std::string>& merges, const std::string& config_json) {
    nlohmann::json vocab = nlohmann::json::object();
    for (int b = 0; b < 256; ++b) vocab[gpt2_byte_symbol(static_cast<unsigned char>(b))] = b;
    for (std::size_t i = 0; i < extra.size(); ++i) vocab[extra[i]] = 256 + i;
    write_text(dir / "vocab.json", vocab.dump());
    std::string merges_txt = "#version: 0.2\n";
    for (const auto& m : merges) merges_txt += m + "\n";
    write_text(dir / "merges.txt", merges_txt);
    if (!config_json.empty()) write_text(dir / "tokenizer_config.json", config_json);
}

std::string escape_for_message(const std::string& text) {
    std::ostringstream out;
    for (unsigned char c : text) {
        if (c == '\n') {
            out << "\\n";
        } else if (c < 0x20 || c == 0x7F) {
            out << "\\x" << std::hex << static_cast<int>(c) << std::dec;
        } else {
            out << c;
        }
    }
    return out.str();
}

}  // namespace sarsteer::testing
