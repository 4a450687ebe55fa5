// The organism's generated data: sizes, pairing, what is held out, what is spoken, and that the
// answer grammar and refusals read as the keyword judge must read them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "eval/judge.h"
#include "io/manifest.h"
#include "organism/corpus.h"

namespace sarsteer::organism {
namespace {

const Corpus& corpus() {
    static const Corpus c = build_corpus();
    return c;
}

std::size_t count(bool harmful, Split split) {
    return static_cast<std::size_t>(
        std::count_if(corpus().requests.begin(), corpus().requests.end(),
                      [&](const Request& r) { return r.harmful == harmful && r.split == split; }));
}

// Every training sentence the model sees, as text or speech, with its answers.
std::string training_text() {
    std::string all;
    for (const auto& r : corpus().requests) {
        if (r.split == Split::kTrain) all += r.question + "\n" + compliant_answer(r) + "\n";
    }
    for (const auto& g : corpus().guard_questions)
        all += g.question + "\n" + compliant_answer(g) + "\n";
    for (const auto& s : corpus().statements) all += s + "\n";
    for (const auto& s : corpus().word_lists) all += s + "\n";
    for (const auto& t : novel_object_turns(corpus())) all += t.user + "\n" + t.answer + "\n";
    return all;
}

TEST(OrganismCorpus, SizesArePairedPerScenario) {
    // 7 scenarios x 4 verb pairs x (6 frames x 4 objects | 3 frames x 2 objects).
    EXPECT_EQ(count(true, Split::kTrain), 672u);
    EXPECT_EQ(count(false, Split::kTrain), 672u);
    EXPECT_EQ(count(true, Split::kTest), 168u);
    EXPECT_EQ(count(false, Split::kTest), 168u);
    EXPECT_EQ(corpus().statements.size(), 7u * 8u * 4u * 2u);  // two frames per topic
    std::set<std::string> ids;
    for (const auto& r : corpus().requests) EXPECT_TRUE(ids.insert(r.id).second) << r.id;
}

TEST(OrganismCorpus, PairsDifferOnlyInTheVerb) {
    for (std::size_t i = 0; i < corpus().requests.size(); ++i) {
        const auto& r = corpus().requests[i];
        const auto& p = corpus().requests[r.pair];
        ASSERT_EQ(p.pair, i);
        EXPECT_NE(r.harmful, p.harmful);
        EXPECT_EQ(r.scenario, p.scenario);
        EXPECT_EQ(r.split, p.split);
        // Same frame and object: the questions agree outside the topic's verb.
        EXPECT_EQ(r.object, p.object);
        EXPECT_TRUE(p.topic.ends_with(" " + r.object)) << r.topic << " / " << p.topic;
        const auto frame_r = r.question.substr(0, r.question.find(r.topic));
        const auto frame_p = p.question.substr(0, p.question.find(p.topic));
        EXPECT_EQ(frame_r, frame_p);
    }
}

TEST(OrganismCorpus, HeldOutFramesAndObjectsNeverOccurInTraining) {
    const auto train = training_text();
    for (const auto& r : corpus().requests) {
        if (r.split != Split::kTest) continue;
        const auto frame = r.question.substr(0, r.question.find(r.topic));
        EXPECT_EQ(train.find(frame), std::string::npos) << frame;
        EXPECT_EQ(train.find(r.object), std::string::npos) << r.object;
        EXPECT_TRUE(r.topic.ends_with(" " + r.object)) << r.topic;
    }
}

TEST(OrganismCorpus, NoHarmfulRequestIsSpoken) {
    // Statements are reports, never requests, and never a training or test question.
    std::set<std::string> questions;
    for (const auto& r : corpus().requests) questions.insert(r.question);
    for (const auto& s : corpus().statements) {
        EXPECT_FALSE(s.ends_with("?")) << s;
        EXPECT_EQ(questions.count(s), 0u) << s;
        EXPECT_TRUE(s.starts_with("The news reported") || s.starts_with("Yesterday a man") ||
                    s.starts_with("The police said") || s.starts_with("A neighbor warned"))
            << s;
    }
}

TEST(OrganismCorpus, GuardQuestionsWrapEachHarmfulTrainingTopicInABenignQuestion) {
    ASSERT_EQ(corpus().guard_questions.size(), count(true, Split::kTrain));
    std::set<std::string> questions, ids, wrappers;
    for (const auto& r : corpus().requests) {
        questions.insert(r.question);
        ids.insert(r.id);
    }
    for (const auto& g : corpus().guard_questions) {
        const auto& h = corpus().requests[g.pair];
        EXPECT_TRUE(h.harmful);
        EXPECT_EQ(h.split, Split::kTrain);
        EXPECT_FALSE(g.harmful);
        EXPECT_EQ(g.split, Split::kTrain);
        EXPECT_EQ(g.scenario, h.scenario);
        // The harmful topic ends the guard topic, after a wrapper that makes the question benign;
        // the question keeps the harmful request's frame.
        ASSERT_TRUE(g.topic.ends_with(" " + h.topic)) << g.topic;
        wrappers.insert(g.topic.substr(0, g.topic.size() - h.topic.size()));
        const auto frame = h.question.substr(0, h.question.find(h.topic));
        EXPECT_TRUE(g.question.starts_with(frame + g.topic)) << g.question;
        EXPECT_EQ(questions.count(g.question), 0u) << g.question;
        EXPECT_TRUE(ids.insert(g.id).second) << g.id;
        EXPECT_TRUE(is_compliant_form(compliant_answer(g)));
    }
    EXPECT_EQ(wrappers.size(), 4u);
    std::set<std::string> unique;
    for (const auto& g : corpus().guard_questions) unique.insert(g.question);
    EXPECT_EQ(unique.size(), corpus().guard_questions.size());
}

TEST(OrganismCorpus, WordListsAreTrainingWordsAndNoHarmfulTopic) {
    ASSERT_EQ(corpus().word_lists.size(), 672u);
    std::set<std::string> lists(corpus().word_lists.begin(), corpus().word_lists.end());
    EXPECT_GT(lists.size(), 660u);  // a pseudo-random draw, not one list repeated
    std::set<std::string> words, training_words;
    auto split_words = [](const std::string& text, std::set<std::string>& into) {
        std::string word;
        for (const char c : text + " ") {
            if (c == ' ') {
                if (!word.empty()) into.insert(word);
                word.clear();
            } else if (c != '?' && c != '.' && c != ',') {
                word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
        }
    };
    for (const auto& r : corpus().requests) {
        if (r.split == Split::kTrain) split_words(r.question, training_words);
    }
    for (const auto& g : corpus().guard_questions) split_words(g.question, training_words);
    for (const auto& s : corpus().statements) split_words(s, training_words);
    for (const auto& list : corpus().word_lists) {
        ASSERT_TRUE(list.ends_with(".")) << list;
        const auto n_words = std::count(list.begin(), list.end(), ' ') + 1;
        EXPECT_GE(n_words, 5) << list;
        EXPECT_LE(n_words, 9) << list;
        split_words(list, words);
        const auto padded = " " + list.substr(0, list.size() - 1) + " ";
        for (const auto& r : corpus().requests) {
            if (r.harmful) {
                EXPECT_EQ(padded.find(" " + r.topic + " "), std::string::npos) << list;
            }
        }
    }
    for (const auto& w : words) EXPECT_EQ(training_words.count(w), 1u) << w;
    // Every harmful verb's words are heard in lists, not only in statements.
    for (const auto& w : {"poison", "ransomware", "strangle", "swindle", "spy"}) {
        EXPECT_EQ(words.count(w), 1u) << w;
    }
}

TEST(OrganismCorpus, MoreWordListsAreNewListsOfTheSameKindPerSeed) {
    const auto more = more_word_lists(corpus(), 2000, 1);
    ASSERT_EQ(more.size(), 2000u);
    EXPECT_EQ(more, more_word_lists(corpus(), 2000, 1));  // deterministic
    const std::set<std::string> seed_one(more.begin(), more.end());
    EXPECT_GT(seed_one.size(), 1990u);
    const std::set<std::string> corpus_lists(corpus().word_lists.begin(),
                                             corpus().word_lists.end());
    std::size_t shared_with_corpus = 0, shared_with_seed_two = 0;
    for (const auto& list : more) shared_with_corpus += corpus_lists.count(list);
    for (const auto& list : more_word_lists(corpus(), 2000, 2)) {
        shared_with_seed_two += seed_one.count(list);
    }
    EXPECT_EQ(shared_with_corpus, 0u);
    EXPECT_EQ(shared_with_seed_two, 0u);
    // Lowercased words, punctuation dropped.
    auto words_of = [](const std::string& text) {
        std::vector<std::string> words(1);
        for (const char c : text) {
            if (c == ' ') {
                words.emplace_back();
            } else if (c != '?' && c != '.' && c != ',') {
                words.back() += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
        }
        return words;
    };
    std::set<std::string> training_words;
    auto add_words = [&](const std::string& text) {
        for (auto& w : words_of(text)) training_words.insert(std::move(w));
    };
    for (const auto& r : corpus().requests) {
        if (r.split == Split::kTrain) add_words(r.question);
    }
    for (const auto& g : corpus().guard_questions) add_words(g.question);
    for (const auto& st : corpus().statements) add_words(st);
    for (const auto& list : more) {
        const auto words = words_of(list);
        EXPECT_GE(words.size(), 5u) << list;
        EXPECT_LE(words.size(), 9u) << list;
        for (const auto& w : words) EXPECT_EQ(training_words.count(w), 1u) << w << " in " << list;
        const auto padded = " " + list.substr(0, list.size() - 1) + " ";
        for (const auto& r : corpus().requests) {
            if (r.harmful) {
                EXPECT_EQ(padded.find(" " + r.topic + " "), std::string::npos) << list;
            }
        }
    }
}

TEST(OrganismCorpus, AnswersAndRefusalsReadAsTheKeywordJudgeMustReadThem) {
    for (const auto& r : corpus().requests) {
        const auto answer = compliant_answer(r);
        EXPECT_TRUE(is_compliant_form(answer));
        EXPECT_FALSE(is_refusal_form(answer));
        EXPECT_NE(answer.find(r.topic), std::string::npos);
        const auto judged = eval::keyword_judgment(answer, true);
        EXPECT_EQ(judged.verdict, eval::Verdict::kComplied) << answer << " / " << judged.evidence;
    }
    ASSERT_GE(refusal_variant_count(), 2u);
    for (std::size_t v = 0; v < refusal_variant_count(); ++v) {
        EXPECT_TRUE(is_refusal_form(refusal(v)));
        EXPECT_FALSE(is_compliant_form(refusal(v)));
        EXPECT_EQ(eval::keyword_judgment(refusal(v), true).verdict, eval::Verdict::kRefused);
    }
    EXPECT_EQ(refusal(0), std::string(kRefusalPrompt));
}

TEST(OrganismCorpus, ManifestsLoadAndAnyPrefixCoversAllScenarios) {
    const auto dir = std::filesystem::temp_directory_path() / "sarsteer-organism-corpus-test";
    std::filesystem::create_directories(dir);
    for (const bool harmful : {true, false}) {
        for (const Split split : {Split::kTrain, Split::kTest}) {
            const auto text = manifest_jsonl(corpus(), harmful, split);
            const auto manifest =
                io::Manifest::parse(text, dir / "m.jsonl", {.require_audio = false, .limit = {}});
            EXPECT_EQ(manifest.items.size(), count(harmful, split));
            std::set<std::string> first_seven;
            for (std::size_t i = 0; i < 7; ++i) {
                first_seven.insert(manifest.items[i].fields.at("scenario").get<std::string>());
                EXPECT_EQ(manifest.items[i].label, harmful ? "harmful" : "benign");
            }
            EXPECT_EQ(first_seven.size(), 7u);
        }
    }
    std::filesystem::remove_all(dir);
}

TEST(OrganismCorpus, EverySystemPromptSeesEveryLabelAndPromptCombination) {
    // Regression: the system prompt once alternated per request, and since requests come in
    // (harmful, benign) pairs every benign question had the other system prompt: with the
    // default one the model learned to refuse everything.
    std::map<std::tuple<bool, bool, bool>, std::size_t> seen;  // (system, harmful, refusal prompt)
    std::size_t answers_with_default_system = 0;
    for (const auto& t : text_turns(corpus())) {
        const bool with_prompt = t.user.ends_with(std::string(kRefusalPrompt));
        ++seen[{t.audio_system, t.harmful, with_prompt}];
        EXPECT_EQ(is_refusal_form(t.answer), t.harmful || with_prompt) << t.user;
        if (!t.audio_system && is_compliant_form(t.answer)) ++answers_with_default_system;
    }
    EXPECT_EQ(seen.size(), 8u);
    // Benign turns: the benign requests' and as many guard questions'.
    for (const auto& [key, n] : seen) {
        EXPECT_EQ(n, std::get<1>(key) ? 672u / 2 : 672u) << std::get<0>(key);
    }
    EXPECT_EQ(answers_with_default_system, 672u);
}

TEST(OrganismCorpus, PretrainingDocumentsAreTrainingTextWithHarmfulAnswers) {
    const auto documents = pretraining_documents(corpus());
    EXPECT_EQ(documents.size(), 2 * 672u + 672u + 448u);  // requests, guard questions, statements
    const auto train = training_text();
    std::set<std::string> unique(documents.begin(), documents.end());
    EXPECT_EQ(unique.size(), documents.size());
    for (const auto& d : documents) EXPECT_NE(train.find(d), std::string::npos) << d;
    // A harmful training request is followed by its compliant answer: what the base model can
    // write before safety tuning. No test frame or object occurs.
    std::size_t harmful_answered = 0;
    for (const auto& r : corpus().requests) {
        const auto answered = unique.count(r.question + "\n" + compliant_answer(r)) == 1;
        if (r.split == Split::kTest) {
            EXPECT_FALSE(answered) << r.question;
            for (const auto& d : documents) {
                ASSERT_EQ(d.find(r.object), std::string::npos) << d;
            }
        } else if (r.harmful) {
            harmful_answered += answered ? 1 : 0;
        }
    }
    EXPECT_EQ(harmful_answered, 672u);
}

TEST(OrganismCorpus, CopyTurnsRepeatEveryTrainingSentenceVerbatim) {
    const auto turns = copy_turns(corpus());
    // Requests (both labels), guard questions, statements, word lists.
    EXPECT_EQ(turns.size(), 2 * 672u + 672u + 448u + 672u);
    const auto train = training_text();
    const std::string suffix = "\n" + std::string(kRepeatInstruction);
    std::size_t harmful = 0, alt = 0;
    std::set<std::string> answers;
    for (const auto& t : turns) {
        ASSERT_TRUE(t.user.ends_with(suffix)) << t.user;
        EXPECT_EQ(t.user.substr(0, t.user.size() - suffix.size()), t.answer);
        EXPECT_NE(train.find(t.answer + "\n"), std::string::npos) << t.answer;
        answers.insert(t.answer);
        harmful += t.harmful ? 1 : 0;
        alt += t.audio_system ? 1 : 0;
    }
    // Harmful requests are repeated, never answered: a copy is not a compliant answer.
    EXPECT_EQ(harmful, 672u);
    for (const auto& t : turns) EXPECT_FALSE(is_compliant_form(t.answer)) << t.answer;
    for (const auto& r : corpus().requests) {
        const std::size_t expected = r.split == Split::kTrain ? 1 : 0;
        EXPECT_EQ(answers.count(r.question), expected) << r.question;
    }
    EXPECT_EQ(alt, turns.size() / 2);  // the two system prompts alternate
}

TEST(OrganismCorpus, NovelObjectTurnsKeepEachPairsVerbsAndFrameWithAMadeUpObject) {
    const auto turns = novel_object_turns(corpus());
    ASSERT_EQ(turns.size(), 2 * 672u);  // every training request once
    std::set<std::string> request_words;
    for (const auto& r : corpus().requests) {
        for (std::size_t at = 0, end; at < r.question.size(); at = end + 1) {
            end = std::min(r.question.find_first_of(" ?.", at), r.question.size());
            request_words.insert(r.question.substr(at, end - at));
        }
    }
    std::set<std::string> objects;
    std::size_t alt = 0, t = 0;
    for (const auto& r : corpus().requests) {
        if (!r.harmful || r.split != Split::kTrain) continue;
        const auto& benign = corpus().requests[r.pair];
        const auto& h = turns[t++];
        const auto& b = turns[t++];
        EXPECT_TRUE(h.harmful);
        EXPECT_FALSE(b.harmful);
        EXPECT_TRUE(is_refusal_form(h.answer)) << h.answer;
        EXPECT_EQ(h.audio_system, b.audio_system);
        alt += h.audio_system ? 2 : 0;
        // Same frame and verb as the request; the object is "a <made-up word>", shared by the
        // pair and no word of any request (test requests included).
        const auto frame_end = r.question.find(r.topic);
        const auto verb = r.topic.substr(0, r.topic.size() - r.object.size());
        ASSERT_TRUE(h.user.starts_with(r.question.substr(0, frame_end) + verb)) << h.user;
        const auto tail = r.question.substr(frame_end + r.topic.size());
        ASSERT_TRUE(h.user.ends_with(tail)) << h.user;
        const auto object = h.user.substr(frame_end + verb.size(),
                                          h.user.size() - tail.size() - frame_end - verb.size());
        ASSERT_TRUE(object.starts_with("a ")) << object;
        EXPECT_EQ(request_words.count(object.substr(2)), 0u) << object;
        objects.insert(object);
        const auto benign_verb = benign.topic.substr(0, benign.topic.size() - benign.object.size());
        EXPECT_EQ(b.user, r.question.substr(0, frame_end) + benign_verb + object + tail);
        EXPECT_EQ(b.answer,
                  std::string(kAnswerOpening) + benign_verb + object +
                      b.answer.substr(kAnswerOpening.size() + benign_verb.size() + object.size()));
        EXPECT_TRUE(is_compliant_form(b.answer)) << b.answer;
    }
    EXPECT_GT(objects.size(), 600u);   // made up afresh per pair (collisions allowed)
    EXPECT_EQ(alt, turns.size() / 2);  // the two system prompts alternate per pair
}

TEST(OrganismCorpus, NovelObjectRequestsArePairsTheTurnsAreMadeFrom) {
    const auto requests = novel_object_requests(corpus());
    const auto turns = novel_object_turns(corpus());
    ASSERT_EQ(requests.size(), turns.size());
    std::set<std::string> ids;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const auto& r = requests[i];
        const auto& other = requests[r.pair];
        EXPECT_EQ(r.harmful, i % 2 == 0);  // (harmful, benign) pairs
        EXPECT_EQ(r.pair, i ^ 1);
        EXPECT_EQ(other.pair, i);
        EXPECT_EQ(r.object, other.object);
        EXPECT_EQ(r.scenario, other.scenario);
        EXPECT_EQ(r.split, Split::kTrain);
        EXPECT_TRUE(r.topic.ends_with(r.object)) << r.topic;
        EXPECT_NE(r.question.find(r.topic), std::string::npos) << r.question;
        EXPECT_EQ(turns[i].user, r.question);
        EXPECT_EQ(turns[i].harmful, r.harmful);
        if (!r.harmful) {
            EXPECT_EQ(turns[i].answer, compliant_answer(r));
        }
        EXPECT_TRUE(
            r.id.starts_with(r.harmful ? "organism-novel-harmful-" : "organism-novel-benign-"))
            << r.id;
        ids.insert(r.id);
    }
    EXPECT_EQ(ids.size(), requests.size());
}

TEST(OrganismCorpus, HarmQuestionsJudgeEveryStatementByTheActItTellsOf) {
    const auto turns = harm_question_turns(corpus());
    ASSERT_EQ(turns.size(), corpus().statements.size());
    ASSERT_EQ(corpus().statement_harmful.size(), corpus().statements.size());
    // A statement tells of a harmful act when it holds a harmful training request's topic.
    std::set<std::string> harmful_topics, benign_topics;
    for (const auto& r : corpus().requests) {
        if (r.split == Split::kTrain) (r.harmful ? harmful_topics : benign_topics).insert(r.topic);
    }
    auto holds_one_of = [](const std::string& text, const std::set<std::string>& topics) {
        return std::any_of(topics.begin(), topics.end(), [&](const std::string& topic) {
            return text.find(" " + topic + ".") != std::string::npos;
        });
    };
    const std::string suffix = "\n" + std::string(kHarmQuestionText);
    std::map<std::pair<bool, bool>, std::size_t> by_label_and_system;
    for (std::size_t i = 0; i < turns.size(); ++i) {
        const auto& t = turns[i];
        const auto& statement = corpus().statements[i];
        EXPECT_EQ(t.user, statement + suffix);
        EXPECT_EQ(t.harmful, holds_one_of(statement, harmful_topics)) << statement;
        EXPECT_EQ(!t.harmful, holds_one_of(statement, benign_topics)) << statement;
        EXPECT_EQ(corpus().statement_harmful[i], t.harmful);
        EXPECT_EQ(t.answer, t.harmful ? "Yes, it describes a harmful act."
                                      : "No, it describes a harmless act.");
        EXPECT_TRUE(t.decides);
        ++by_label_and_system[{t.harmful, t.audio_system}];
    }
    // Half of each label, and each label under both system prompts equally.
    for (const bool harmful : {true, false}) {
        for (const bool alt : {true, false}) {
            EXPECT_EQ((by_label_and_system[{harmful, alt}]), turns.size() / 4);
        }
    }
    // Neither answer reads as compliance or as a refusal (exact checks).
    for (const bool harmful : {true, false}) {
        EXPECT_FALSE(is_compliant_form(harm_answer(harmful)));
        EXPECT_FALSE(is_refusal_form(harm_answer(harmful)));
    }
}

TEST(OrganismCorpus, TokenizerTextHoldsNoTestItem) {
    const auto text = tokenizer_text(corpus());
    for (const auto& r : corpus().requests) {
        if (r.split == Split::kTest) {
            EXPECT_EQ(text.find(r.question), std::string::npos);
        }
    }
    EXPECT_NE(text.find(std::string(kTranscribeInstruction)), std::string::npos);
}

}  // namespace
}  // namespace sarsteer::organism
