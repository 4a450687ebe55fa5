#include "text/added_tokens.h"

#include <algorithm>

namespace sarsteer::text {

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens) : tokens_(tokens) {
    for (std::size_t i = 0; i < tokens_.size(); ++i) {
        const std::string& content = tokens_[i].content;
        if (content.empty()) continue;
        by_first_byte_[static_cast<unsigned char>(content[0])].push_back(static_cast<uint32_t>(i));
    }
    for (auto& list : by_first_byte_) {
        std::stable_sort(list.begin(), list.end(), [this](uint32_t a, uint32_t b) {
            return tokens_[a].content.size() > tokens_[b].content.size();
        });
    }
}

std::optional<AddedTokenMatcher::Match> AddedTokenMatcher::find(std::string_view text,
                                                                std::size_t from,
                                                                bool include_special) const {
    for (std::size_t i = from; i < text.size(); ++i) {
        const auto& list = by_first_byte_[static_cast<unsigned char>(text[i])];
        for (uint32_t index : list) {
            const AddedToken& token = tokens_[index];
            if (token.special && !include_special) continue;
            if (text.substr(i, token.content.size()) == token.content) {
                return Match{i, token.content.size(), token.id};
            }
        }
    }
    return std::nullopt;
}

}  // namespace sarsteer::text
