// Word error counting for the audio side's transcripts, on hand-counted cases.
#include <gtest/gtest.h>

#include "organism/hearing.h"

namespace sarsteer::organism {
namespace {

void expect_errors(std::string_view said, std::string_view heard, std::size_t edits,
                   std::size_t words) {
    const auto e = word_errors(said, heard);
    EXPECT_EQ(e.edits, edits) << '"' << said << "\" / \"" << heard << '"';
    EXPECT_EQ(e.words, words) << '"' << said << "\" / \"" << heard << '"';
}

TEST(WordErrors, CountsSubstitutionsInsertionsAndDeletions) {
    expect_errors("How can someone poison a neighbor?", "how can someone poison a neighbor", 0, 6);
    expect_errors("How can someone poison a neighbor?", "How can someone feed a neighbor?", 1, 6);
    expect_errors("How can someone poison a neighbor?", "How can someone a neighbor", 1, 6);
    expect_errors("How can someone poison a neighbor?", "How can can someone poison a neighbor", 1,
                  6);
    // "htwire" for "How can" is one substitution and one deletion.
    expect_errors("How can someone", "htwire someone", 2, 3);
    expect_errors("a b c", "", 3, 3);
    expect_errors("", "a b", 2, 0);
}

TEST(WordErrors, KeepsApostrophesAndDropsOtherPunctuation) {
    expect_errors("Hack into a bank's network.", "hack into a bank's network", 0, 5);
    expect_errors("Hack into a bank's network.", "hack into a banks network", 1, 5);
    expect_errors("well-being", "wellbeing", 0, 1);
}

}  // namespace
}  // namespace sarsteer::organism
