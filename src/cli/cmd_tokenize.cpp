// sarsteer tokenize: text -> Qwen2 token ids, ids -> text, and the Qwen2-Audio chat prompt.
#include <CLI/CLI.hpp>
#include <charconv>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "sarsteer/chat_prompt.h"
#include "sarsteer/error.h"
#include "sarsteer/tokenizer.h"

namespace sarsteer::cli {
namespace {

struct TokenizeOptions {
    std::string model;
    std::optional<std::string> text;
    std::optional<std::string> decode;
    bool chat = false;
    std::optional<std::string> system;
    std::vector<int64_t> audio_frames;
    bool no_special = false;
    bool skip_special = false;
    bool json = false;
};

// "1,2, 3" or "1 2 3" or "[1, 2, 3]" -> ids.
std::vector<int32_t> parse_ids(const std::string& text) {
    std::vector<int32_t> ids;
    const char* p = text.data();
    const char* end = p + text.size();
    while (p < end) {
        if (*p == ',' || *p == ' ' || *p == '[' || *p == ']' || *p == '\n' || *p == '\t') {
            ++p;
            continue;
        }
        int32_t id = 0;
        auto [next, ec] = std::from_chars(p, end, id);
        if (ec != std::errc() || next == p) {
            throw Error(ErrorKind::kInvalidArgument, "--decode",
                        "expected token ids separated by commas or spaces, got \"" + text + "\"");
        }
        ids.push_back(id);
        p = next;
    }
    return ids;
}

void run_tokenize(const TokenizeOptions& opt) {
    if (!opt.text && !opt.decode) {
        throw Error(ErrorKind::kInvalidArgument, "tokenize", "give --text TEXT or --decode IDS");
    }
    if (!opt.chat && (opt.system || !opt.audio_frames.empty())) {
        throw Error(ErrorKind::kInvalidArgument, "tokenize",
                    "--system and --audio-frames only apply with --chat");
    }
    const auto tokenizer = Tokenizer::load(opt.model);
    nlohmann::json out = nlohmann::json::object();

    if (opt.text) {
        std::vector<int32_t> ids;
        if (opt.chat) {
            std::optional<std::string_view> system;
            if (opt.system) system = *opt.system;
            const auto prompt = render_audio_prompt(opt.audio_frames.size(), *opt.text, system);
            ids = tokenize_prompt(tokenizer, prompt, opt.audio_frames).ids;
            out["prompt"] = prompt;
        } else {
            ids = tokenizer.encode(*opt.text, !opt.no_special);
        }
        out["ids"] = ids;
    }
    if (opt.decode) out["text"] = tokenizer.decode(parse_ids(*opt.decode), opt.skip_special);

    if (opt.json) {
        // Keep the documented shape: {"ids": [...]} for --text, plus "text" for --decode.
        std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
        return;
    }
    if (out.contains("ids")) {
        bool first = true;
        for (const auto& id : out["ids"]) {
            std::cout << (first ? "" : " ") << id.get<int32_t>();
            first = false;
        }
        std::cout << '\n';
    }
    if (out.contains("text")) std::cout << out["text"].get<std::string>() << '\n';
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
    auto opt = std::make_shared<TokenizeOptions>();
    auto* cmd = app.add_subcommand("tokenize", "Encode text to Qwen2 token ids, or decode ids");
    cmd->add_option("--model", opt->model,
                    "Checkpoint or tokenizer folder (vocab.json + merges.txt or tokenizer.json, "
                    "tokenizer_config.json)")
        ->required();
    cmd->add_option("--text", opt->text,
                    "Text to encode; special tokens such as <|im_end|> are "
                    "recognised unless --no-special");
    cmd->add_option("--decode", opt->decode, "Token ids to decode, e.g. \"9707,11,1879\"");
    cmd->add_flag("--chat", opt->chat,
                  "Wrap --text in the Qwen2-Audio chat template as the user's instruction "
                  "(default system turn, generation prompt)");
    cmd->add_option("--system", opt->system, "With --chat: the system prompt");
    cmd->add_option("--audio-frames", opt->audio_frames,
                    "With --chat: one audio clip per value, given as its valid mel-frame count "
                    "(e.g. 1100 for 11 s); its <|AUDIO|> is expanded to the encoder's length")
        ->check(CLI::Range(int64_t{3}, int64_t{3000}));
    cmd->add_flag("--no-special", opt->no_special, "Treat special-token text as plain text");
    cmd->add_flag("--skip-special", opt->skip_special, "With --decode: drop special tokens");
    cmd->add_flag("--json", opt->json, "Print {\"ids\": [...]} (and \"text\" for --decode)");
    cmd->callback([opt] { run_tokenize(*opt); });
}

}  // namespace sarsteer::cli
