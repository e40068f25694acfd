// Trigram tokens for fuzzy candidate pruning, after clangd's Dex.
//
// An identifier yields the trigrams of every walk through its lower-cased word characters where
// each step goes to the next character, the next segment start, or the segment start after that:
// "getResponseStatus" yields "get", "etr", "grs" (g -> R -> S), "res", ... A query yields only its
// contiguous trigrams. Invariant that makes pruning correct: whenever a query matches an
// identifier with each query character right after the previous one, or at one of the next two
// segment starts (how people abbreviate: "gRS", "respStat", "sponse"), the query's trigrams are a
// subset of the identifier's, so the AND of their posting lists holds every such match. Matches
// that skip characters inside a segment ("gtrs") are not candidates, as in clangd. Queries
// shorter than three characters use bigrams and unigrams taken at segment starts instead.
//
// Separators (_ - $ . and the like) are dropped on both sides, so "get_name" and "getName" agree.
// Walks cover a name's first 127 bytes; past them only contiguous trigrams are kept.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace query {

using Token = uint32_t;  // up to three bytes, plus their count in the top byte

// Appends the identifier's tokens, sorted and unique.
void identifier_tokens(std::string_view name, std::vector<Token>& out);

// Appends the tokens every match of `query` must have; empty when the query has no word characters.
void query_tokens(std::string_view query, std::vector<Token>& out);

}  // namespace query
