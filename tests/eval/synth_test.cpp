// sarsteer synth: espeak-ng rendering, deterministic voice/rate choice, caching, safe file names,
// manifests and errors (library and CLI).
#include "eval/synth.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.h"
#include "io/manifest.h"
#include "sarsteer/audio.h"
#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::eval {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

std::vector<nlohmann::json> read_jsonl(const fs::path& path) {
    std::vector<nlohmann::json> rows;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
    }
    return rows;
}

const std::vector<std::string> kRows = {
    R"({"id": "q1", "label": "benign", "question": "How do I bake bread at home?", "scenario": "Food", "extra": [1, 2]})",
    R"({"id": "q2", "label": "harmful", "question": "Name three colours of the rainbow."})",
    R"({"id": "q3", "question": "What is the capital of France?", "label": "benign"})",
};

std::string join_lines(const std::vector<std::string>& rows) {
    std::string text;
    for (const auto& r : rows) text += r + "\n";
    return text;
}

SynthOptions varied_options(std::uint64_t seed) {
    SynthOptions options;
    options.voices = {"en-us", "en-gb", "en+m3", "en+f2"};
    options.rate_min = 130;
    options.rate_max = 190;
    options.seed = seed;
    return options;
}

std::size_t count_words(const std::string& text) {
    std::istringstream in(text);
    return static_cast<std::size_t>(std::distance(std::istream_iterator<std::string>(in),
                                                  std::istream_iterator<std::string>()));
}

TEST(SynthChoice, PureFunctionOfSeedAndIdWithinRange) {
    const auto options = varied_options(7);
    const std::set<std::string> voices(options.voices.begin(), options.voices.end());
    std::set<std::string> seen_voices;
    std::set<int> seen_rates;
    for (int i = 0; i < 200; ++i) {
        const auto id = "item-" + std::to_string(i);
        const auto a = choose_voice(options, id);
        const auto b = choose_voice(options, id);
        EXPECT_EQ(a.voice, b.voice);
        EXPECT_EQ(a.rate, b.rate);
        EXPECT_TRUE(voices.count(a.voice)) << a.voice;
        EXPECT_GE(a.rate, 130);
        EXPECT_LE(a.rate, 190);
        seen_voices.insert(a.voice);
        seen_rates.insert(a.rate);
    }
    // 200 hashed picks cover all four voices and many rates.
    EXPECT_EQ(seen_voices.size(), 4u);
    EXPECT_GT(seen_rates.size(), 30u);
}

TEST(SynthChoice, DifferentSeedChangesSomeChoices) {
    const auto a = varied_options(1);
    const auto b = varied_options(2);
    int voice_changes = 0;
    int rate_changes = 0;
    for (int i = 0; i < 50; ++i) {
        const auto id = "item-" + std::to_string(i);
        voice_changes += choose_voice(a, id).voice != choose_voice(b, id).voice;
        rate_changes += choose_voice(a, id).rate != choose_voice(b, id).rate;
    }
    EXPECT_GT(voice_changes, 10);
    EXPECT_GT(rate_changes, 10);
}

TEST(SynthChoice, FixedVoiceAndRate) {
    SynthOptions options;
    options.voices = {"en-gb"};
    options.rate_min = options.rate_max = 175;
    for (const char* id : {"a", "b", "c"}) {
        EXPECT_EQ(choose_voice(options, id).voice, "en-gb");
        EXPECT_EQ(choose_voice(options, id).rate, 175);
    }
}

TEST(SynthNames, SafeStemsStayInsideTheFolder) {
    EXPECT_EQ(safe_file_stem("figstep-harmful-test-0001"), "figstep-harmful-test-0001");
    EXPECT_EQ(safe_file_stem("a.b_C-9"), "a.b_C-9");
    std::set<std::string> stems;
    for (const char* id : {"../../etc/passwd", "..", ".", "/abs/path", "a/b", "a_b", "a b", "a\\b",
                           ".hidden", "naïve", "x\ny"}) {
        const auto stem = safe_file_stem(id);
        SCOPED_TRACE(id);
        EXPECT_EQ(stem.find('/'), std::string::npos);
        EXPECT_EQ(stem.find('\\'), std::string::npos);
        EXPECT_NE(stem.front(), '.');
        EXPECT_TRUE(stems.insert(stem).second) << "collision: " << stem;
        const fs::path joined = fs::path("out") / (stem + ".wav");
        EXPECT_EQ(joined.lexically_normal().parent_path(), fs::path("out"));
    }
    EXPECT_LE(safe_file_stem(std::string(500, 'x')).size(), 100u);
}

TEST(SynthFlags, VoiceListAndRateRange) {
    EXPECT_EQ(parse_voice_list("en-us", "--voice"), std::vector<std::string>{"en-us"});
    EXPECT_EQ(parse_voice_list("en-us, en-gb,en+m3", "--voice"),
              (std::vector<std::string>{"en-us", "en-gb", "en+m3"}));
    EXPECT_THROW(parse_voice_list("en-us,,en-gb", "--voice"), Error);
    EXPECT_THROW(parse_voice_list("", "--voice"), Error);
    EXPECT_EQ(parse_rate_range("150", "--rate"), std::make_pair(150, 150));
    EXPECT_EQ(parse_rate_range("140-180", "--rate"), std::make_pair(140, 180));
    for (const char* bad : {"", "abc", "150-", "-150", "180-140", "50", "500", "100-999", "1.5"}) {
        SCOPED_TRACE(bad);
        try {
            parse_rate_range(bad, "--rate");
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
            EXPECT_EQ(e.subject(), "--rate");
        }
    }
}

TEST(SynthWav, EncodesCanonicalPcmWithComment) {
    const std::vector<std::int16_t> samples = {0, 1, -1, 32767, -32768};
    const auto bytes = encode_wav(samples, "sarsteer-synth abc");
    ASSERT_EQ(bytes.substr(0, 4), "RIFF");
    ScratchDir dir("synth-wav");
    const auto path = dir / "x.wav";
    write_text(path, bytes);
    EXPECT_EQ(read_wav_comment(path), "sarsteer-synth abc");
    const auto decoded = decode_audio(path);
    EXPECT_EQ(decoded.sample_rate, 16000);
    EXPECT_EQ(decoded.channels, 1);
    ASSERT_EQ(decoded.samples.size(), samples.size());
    EXPECT_FLOAT_EQ(decoded.samples[3], 32767.0f / 32768.0f);
    EXPECT_FLOAT_EQ(decoded.samples[4], -1.0f);
    // Without a comment: the canonical 44-byte header.
    EXPECT_EQ(encode_wav(samples).size(), 44u + 2 * samples.size());
    write_text(path, "not a wav");
    EXPECT_EQ(read_wav_comment(path), "");
    EXPECT_EQ(read_wav_comment(dir / "missing.wav"), "");
}

TEST(Synth, RendersSixteenKilohertzMonoOfPlausibleDuration) {
    ScratchDir dir("synth-render");
    write_text(dir / "in.jsonl", join_lines(kRows));
    const auto summary = synthesize_manifest(dir / "in.jsonl", dir / "out", varied_options(3));
    EXPECT_EQ(summary.n_items, 3u);
    EXPECT_EQ(summary.n_rendered, 3u);
    EXPECT_EQ(summary.n_cached, 0u);
    EXPECT_EQ(summary.manifest, dir / "out" / "manifest.jsonl");

    const auto rows = read_jsonl(summary.manifest);
    ASSERT_EQ(rows.size(), 3u);
    double total_seconds = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto input = nlohmann::json::parse(kRows[i]);
        const auto& row = rows[i];
        SCOPED_TRACE(row.dump());
        // Every input field verbatim, plus audio/voice/rate.
        for (const auto& [key, value] : input.items()) EXPECT_EQ(row.at(key), value) << key;
        EXPECT_EQ(row.size(), input.size() + 3);
        const auto choice = choose_voice(varied_options(3), input["id"].get<std::string>());
        EXPECT_EQ(row.at("voice"), choice.voice);
        EXPECT_EQ(row.at("rate"), choice.rate);
        EXPECT_EQ(row.at("audio"), "audio/" + input["id"].get<std::string>() + ".wav");

        const auto audio = decode_audio(dir / "out" / row.at("audio").get<std::string>());
        EXPECT_EQ(audio.sample_rate, 16000);
        EXPECT_EQ(audio.channels, 1);
        EXPECT_EQ(audio.format.find("WAV") != std::string::npos, true) << audio.format;
        // Spoken at `rate` words per minute, with pauses: between half and three times the
        // nominal duration.
        const double nominal =
            60.0 * static_cast<double>(count_words(input["question"])) / choice.rate;
        EXPECT_GT(audio.seconds(), 0.5 * nominal);
        EXPECT_LT(audio.seconds(), 3.0 * nominal + 1.0);
        // Not silence.
        const float peak =
            *std::max_element(audio.samples.begin(), audio.samples.end(),
                              [](float a, float b) { return std::abs(a) < std::abs(b); });
        EXPECT_GT(std::abs(peak), 0.05f);
        total_seconds += audio.seconds();
    }
    EXPECT_NEAR(summary.audio_seconds, total_seconds, 1e-3);
    // The output loads as the eval runner loads manifests (audio required and present).
    const auto loaded = io::Manifest::load(summary.manifest);
    ASSERT_EQ(loaded.items.size(), 3u);
    EXPECT_EQ(*loaded.items[0].audio, dir / "out" / "audio" / "q1.wav");
}

TEST(Synth, KeepsKeyOrderOfInputRows) {
    ScratchDir dir("synth-order");
    write_text(dir / "in.jsonl", kRows[2] + "\n");
    synthesize_manifest(dir / "in.jsonl", dir / "out", {});
    const auto line = read_file(dir / "out" / "manifest.jsonl");
    EXPECT_EQ(line, R"({"id":"q3","question":"What is the capital of France?","label":"benign",)"
                    R"("audio":"audio/q3.wav","voice":"en-us","rate":150})"
                    "\n");
}

TEST(Synth, SameSeedGivesIdenticalBytesRegardlessOfOrderAndLimit) {
    ScratchDir dir("synth-determinism");
    write_text(dir / "in.jsonl", join_lines(kRows));
    std::vector<std::string> reversed(kRows.rbegin(), kRows.rend());
    write_text(dir / "reversed.jsonl", join_lines(reversed));
    synthesize_manifest(dir / "in.jsonl", dir / "a", varied_options(11));
    synthesize_manifest(dir / "reversed.jsonl", dir / "b", varied_options(11));
    auto limited = varied_options(11);
    limited.limit = 1;
    synthesize_manifest(dir / "reversed.jsonl", dir / "c", limited);  // q3 only

    for (const char* id : {"q1", "q2", "q3"}) {
        const auto name = std::string("audio/") + id + ".wav";
        const auto a = read_file(dir / "a" / name);
        ASSERT_GT(a.size(), 1000u);
        EXPECT_TRUE(a == read_file(dir / "b" / name)) << id;
    }
    EXPECT_TRUE(read_file(dir / "a" / "audio/q3.wav") == read_file(dir / "c" / "audio/q3.wav"));
    EXPECT_FALSE(fs::exists(dir / "c" / "audio/q1.wav"));
    EXPECT_EQ(read_jsonl(dir / "c" / "manifest.jsonl").size(), 1u);

    // Another seed picks another voice or rate for at least one item, and the bytes follow.
    const auto other = varied_options(12);
    synthesize_manifest(dir / "in.jsonl", dir / "d", other);
    int changed = 0;
    for (const char* id : {"q1", "q2", "q3"}) {
        const auto x = choose_voice(varied_options(11), id);
        const auto y = choose_voice(other, id);
        const bool same_choice = x.voice == y.voice && x.rate == y.rate;
        const auto name = std::string("audio/") + id + ".wav";
        EXPECT_EQ(same_choice, read_file(dir / "a" / name) == read_file(dir / "d" / name)) << id;
        changed += !same_choice;
    }
    EXPECT_GT(changed, 0);
}

TEST(Synth, SkipsWhatIsRenderedAndRerendersAChangedQuestion) {
    ScratchDir dir("synth-cache");
    write_text(dir / "in.jsonl", join_lines(kRows));
    const auto options = varied_options(5);
    const auto first = synthesize_manifest(dir / "in.jsonl", dir / "out", options);
    EXPECT_EQ(first.n_rendered, 3u);

    std::map<std::string, fs::file_time_type> mtimes;
    std::map<std::string, std::string> bytes;
    for (const char* id : {"q1", "q2", "q3"}) {
        const auto path = dir / "out" / "audio" / (std::string(id) + ".wav");
        mtimes[id] = fs::last_write_time(path);
        bytes[id] = read_file(path);
    }
    const auto manifest_before = read_file(first.manifest);

    std::vector<std::size_t> progress_cached;
    auto counting = options;
    counting.on_progress = [&](std::size_t done, std::size_t total, bool cached) {
        EXPECT_EQ(total, 3u);
        EXPECT_EQ(done, progress_cached.size() + 1);
        progress_cached.push_back(cached ? 1 : 0);
    };
    const auto second = synthesize_manifest(dir / "in.jsonl", dir / "out", counting);
    EXPECT_EQ(second.n_rendered, 0u);
    EXPECT_EQ(second.n_cached, 3u);
    EXPECT_EQ(progress_cached, (std::vector<std::size_t>{1, 1, 1}));
    EXPECT_EQ(read_file(second.manifest), manifest_before);
    for (const auto& [id, mtime] : mtimes) {
        EXPECT_EQ(fs::last_write_time(dir / "out" / "audio" / (id + ".wav")), mtime) << id;
    }

    // Change q2's question: only q2 is rendered again.
    auto rows = kRows;
    rows[1] = R"({"id": "q2", "label": "harmful", "question": "Name four colours of the sea."})";
    write_text(dir / "in.jsonl", join_lines(rows));
    const auto third = synthesize_manifest(dir / "in.jsonl", dir / "out", options);
    EXPECT_EQ(third.n_rendered, 1u);
    EXPECT_EQ(third.n_cached, 2u);
    EXPECT_NE(read_file(dir / "out" / "audio" / "q2.wav"), bytes["q2"]);
    for (const char* id : {"q1", "q3"}) {
        EXPECT_EQ(fs::last_write_time(dir / "out" / "audio" / (std::string(id) + ".wav")),
                  mtimes[id])
            << id;
    }
    EXPECT_EQ(read_jsonl(third.manifest)[1].at("question"), "Name four colours of the sea.");

    // A damaged file (no key) is rendered again, to the same bytes.
    write_text(dir / "out" / "audio" / "q1.wav", bytes["q1"].substr(0, 30));
    const auto fourth = synthesize_manifest(dir / "in.jsonl", dir / "out", options);
    EXPECT_EQ(fourth.n_rendered, 1u);
    EXPECT_TRUE(read_file(dir / "out" / "audio" / "q1.wav") == bytes["q1"]);
}

TEST(Synth, UnsafeIdsStayInsideTheOutputFolder) {
    ScratchDir dir("synth-ids");
    write_text(dir / "in.jsonl", join_lines({
                                     R"({"id": "../escape", "question": "Hello there."})",
                                     R"({"id": "/abs/x", "question": "Good morning."})",
                                     R"({"id": "a/b", "question": "Good night."})",
                                     R"({"id": 42, "question": "Forty two."})",
                                 }));
    synthesize_manifest(dir / "in.jsonl", dir / "out", {});
    // Every file written is inside out/audio (plus the manifest), nothing beside `out`.
    std::set<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
        if (entry.is_regular_file()) files.insert(fs::relative(entry.path(), dir.path()));
    }
    EXPECT_EQ(files.size(), 6u);  // in.jsonl, manifest, 4 clips
    EXPECT_TRUE(files.count("in.jsonl"));
    EXPECT_TRUE(files.count("out/manifest.jsonl"));
    EXPECT_TRUE(files.count("out/audio/42.wav"));
    for (const auto& row : read_jsonl(dir / "out" / "manifest.jsonl")) {
        const fs::path audio = row.at("audio").get<std::string>();
        EXPECT_EQ(audio.parent_path(), "audio") << audio;
        EXPECT_TRUE(files.count(fs::path("out") / audio)) << audio;
    }
}

TEST(Synth, ErrorsAreOneLineAndNameTheCulprit) {
    ScratchDir dir("synth-errors");
    write_text(dir / "in.jsonl", join_lines(kRows));
    write_text(dir / "empty.jsonl", "");
    const auto expect_error = [](auto&& call, ErrorKind kind, const std::string& needle) {
        try {
            call();
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), kind) << e.what();
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        }
    };
    SynthOptions unknown;
    unknown.voices = {"en-us", "xx-nosuch"};
    expect_error([&] { synthesize_manifest(dir / "in.jsonl", dir / "o1", unknown); },
                 ErrorKind::kInvalidArgument, "xx-nosuch");
    EXPECT_FALSE(fs::exists(dir / "o1"));  // checked before anything is written
    SynthOptions variant;
    variant.voices = {"en+nosuchvariant"};
    expect_error([&] { synthesize_manifest(dir / "in.jsonl", dir / "o2", variant); },
                 ErrorKind::kInvalidArgument, "nosuchvariant");
    variant.voices = {"en+../../voices/!v/m3"};
    expect_error([&] { synthesize_manifest(dir / "in.jsonl", dir / "o2", variant); },
                 ErrorKind::kInvalidArgument, "variant");
    expect_error([&] { synthesize_manifest(dir / "empty.jsonl", dir / "o3", {}); },
                 ErrorKind::kCorruptInput, (dir / "empty.jsonl").string());
    expect_error([&] { synthesize_manifest(dir / "missing.jsonl", dir / "o4", {}); },
                 ErrorKind::kNotFound, (dir / "missing.jsonl").string());
    write_text(dir / "noquestion.jsonl", R"({"id": "x"})"
                                         "\n");
    expect_error([&] { synthesize_manifest(dir / "noquestion.jsonl", dir / "o5", {}); },
                 ErrorKind::kCorruptInput, "question");
    SynthOptions fast;
    fast.rate_min = fast.rate_max = 1000;
    expect_error([&] { synthesize_manifest(dir / "in.jsonl", dir / "o6", fast); },
                 ErrorKind::kInvalidArgument, "1000");
}

TEST(Synth, VoiceNamesByLanguageIdentifierAndVariant) {
    // en-gb is a language code (espeak-ng's voice file is gmw/en); en+m3 a variant.
    for (const char* voice : {"en-us", "en-gb", "en", "en+m3", "en-us+f2", "gmw/en-US"}) {
        SCOPED_TRACE(voice);
        const auto pcm = synthesize_speech("Hello.", voice, 160);
        EXPECT_GT(pcm.size(), 1600u);
    }
    EXPECT_NE(synthesize_speech("Hello.", "en-us", 160), synthesize_speech("Hello.", "en+f2", 160));
    EXPECT_FALSE(espeak_version().empty());
}

TEST(SynthCli, WritesManifestAndReportsJson) {
    ScratchDir dir("synth-cli");
    write_text(dir / "in.jsonl", join_lines(kRows));
    const auto out = dir / "out";
    auto r = testing::run({"synth", "--data", (dir / "in.jsonl").string(), "--out-dir",
                           out.string(), "--voice", "en-us,en+m3", "--rate", "140-170", "--seed",
                           "4", "-n", "2", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto summary = nlohmann::json::parse(r.out);
    EXPECT_EQ(summary.at("items"), 2);
    EXPECT_EQ(summary.at("rendered"), 2);
    EXPECT_EQ(summary.at("cached"), 0);
    EXPECT_EQ(summary.at("manifest"), (out / "manifest.jsonl").string());
    const auto rows = read_jsonl(out / "manifest.jsonl");
    ASSERT_EQ(rows.size(), 2u);
    SynthOptions options;
    options.voices = {"en-us", "en+m3"};
    options.rate_min = 140;
    options.rate_max = 170;
    options.seed = 4;
    for (const auto& row : rows) {
        const auto choice = choose_voice(options, row.at("id").get<std::string>());
        EXPECT_EQ(row.at("voice"), choice.voice);
        EXPECT_EQ(row.at("rate"), choice.rate);
    }

    r = testing::run({"synth", "--data", (dir / "in.jsonl").string(), "--out-dir", out.string(),
                      "--voice", "en-us,en+m3", "--rate", "140-170", "--seed", "4", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).at("rendered"), 1);
    EXPECT_EQ(nlohmann::json::parse(r.out).at("cached"), 2);

    r = testing::run(
        {"synth", "--data", (dir / "missing.jsonl").string(), "--out-dir", out.string()});
    testing::expect_one_line_error(r, (dir / "missing.jsonl").string(), 1);
    r = testing::run({"synth", "--data", (dir / "in.jsonl").string(), "--out-dir", out.string(),
                      "--voice", "zz-unknown"});
    testing::expect_one_line_error(r, "zz-unknown", 2);
    r = testing::run({"synth", "--data", (dir / "in.jsonl").string(), "--out-dir", out.string(),
                      "--rate", "fast"});
    testing::expect_one_line_error(r, "--rate", 2);
}

TEST(SynthData, BundledSlicesRender) {
    // The bundled FigStep slices are valid synth input (two rows, to stay quick).
    ScratchDir dir("synth-bundled");
    SynthOptions options;
    options.limit = 2;
    const auto data =
        testing::source_dir() / "data" / "datasets" / "figstep_harmful_test_mini.jsonl";
    const auto summary = synthesize_manifest(data, dir / "out", options);
    EXPECT_EQ(summary.n_rendered, 2u);
    for (const auto& row : read_jsonl(summary.manifest)) {
        EXPECT_TRUE(row.contains("scenario"));
        EXPECT_TRUE(fs::is_regular_file(dir / "out" / row.at("audio").get<std::string>()));
    }
}

}  // namespace
}  // namespace sarsteer::eval
