// Finds added tokens (<|im_start|> and friends) in raw text, before any normalisation.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sarsteer/tokenizer.h"

namespace sarsteer::text {

class AddedTokenMatcher {
public:
    struct Match {
        std::size_t pos = 0;
        std::size_t len = 0;
        int32_t id = 0;
    };

    AddedTokenMatcher() = default;
    // Contents must be non-empty.
    explicit AddedTokenMatcher(const std::vector<AddedToken>& tokens);

    // The leftmost occurrence at or after `from` of any token, the longest one at that position
    // (as HF's leftmost-longest Aho-Corasick). Tokens marked special are considered only when
    // `include_special`.
    std::optional<Match> find(std::string_view text, std::size_t from, bool include_special) const;

private:
    std::vector<AddedToken> tokens_;
    // Indices into tokens_ by first byte of the content, longest content first.
    std::array<std::vector<uint32_t>, 256> by_first_byte_;
};

}  // namespace sarsteer::text
