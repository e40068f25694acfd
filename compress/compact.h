// The context compactor: a conversation made to fit a token budget without losing anything. What
// it removes goes to the elision store (store.h) and a marker takes its place, naming the handle
// that gives it back and what it held; so expanding every marker restores the conversation byte
// for byte.
//
// Invariants: the answer's token count (the sum of each message's content, counted by the caller's
// tokenizer) is at most the budget, and when the input was larger it uses at least 97% of it;
// system messages, instructions, pinned messages and the latest user message are never touched;
// the same input gives the same output; a cut falls between lines, never inside a UTF-8 sequence,
// a line, or a tool output that is one JSON value (that is kept or elided whole). Input already
// compacted keeps its markers as text: a line holding one is never elided again (nor folded, nor
// dropped: a dropped message keeps its marker lines), so every earlier handle stays in sight, and
// the manifest names every handle this compaction made (fetch_from(store, manifest) restores
// exactly this compaction's input).
//
// Strategies, cheapest loss first, each applied oldest message first until the budget holds:
//   1. repeat   a message identical to an earlier one becomes a reference to it
//   2. fold     in tool output, runs of lines alike once numbers, hashes and times are set aside
//               become the first line and a count
//   3. reread   an older read of a file read again later becomes the diff from the newer read
//               to it (when the caller gives a differ and the diff is smaller), else a marker
//               pointing at the newer read
//   4. outline  a file's content becomes its outline (when the caller gives an outliner), keeping
//               the bodies of symbols the latest user message names
//   5. cut      long tool output keeps its head and tail and every line that looks like a failure
//               (error, FAILED, panic, Traceback, undefined reference, file:line: diagnostics)
//   6. drop     the oldest messages (each run of neighbours becomes one message holding one marker,
//               whose bytes are the run's messages serialized; a tool output keeps its failure
//               lines), the last of them cut in part rather than dropped when that fills the budget
// then the last message touched is cut again, more or less, to fill the budget to 97%..100%.
//
// Cost: each message is counted once, and again only when it changes (the fill step counts one
// message a few times, by binary search).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compress/store.h"

namespace compress {

enum class Kind : uint8_t { System, Instruction, User, Assistant, ToolCall, ToolOutput, File, Other };
std::optional<Kind> kind_from_name(std::string_view name);  // "tool_output"; nullopt when unknown
std::string_view kind_name(Kind k);

struct Message {
  std::string role;     // as the client gave it: "system", "user", "assistant", "tool"
  std::string content;
  Kind kind = Kind::Other;  // from `kind`, else from `role`
  bool pinned = false;
  std::string path;  // File: the file it holds (what makes two reads of one file)
};

// One a handle: a step that elided several spans of a message (a fold of many runs, a cut around
// failure lines) gives an entry for each, each with the message's tokens before and after the step.
struct Change {
  size_t message = 0;
  std::string strategy;  // repeat, fold, reread, outline, cut, drop
  std::string handle;    // gives the removed bytes back
  size_t lines = 0;      // lines removed under this handle
  size_t tokens_before = 0, tokens_after = 0;  // the message's
};

struct Compacted {
  std::vector<Message> messages;
  std::vector<Change> manifest;
  size_t tokens_before = 0, tokens_after = 0;
};

struct CompactOptions {
  size_t budget = 0;
  std::function<size_t(std::string_view)> count;  // the tokenizer's count
  // A file's outline (signatures, no bodies), keeping the bodies of `keep`; nullopt: none known.
  std::function<std::optional<std::string>(const std::string& path, const std::string& text, const std::vector<std::string>& keep)> outline;
  // A diff turning `newer` into `older` (so the older read is what it describes); nullopt: none.
  std::function<std::optional<std::string>(const std::string& older, const std::string& newer)> diff;
};

// The marker that replaces an elided span; restore() replaces each with its bytes again.
std::string marker(std::string_view handle, std::string_view what);

Compacted compact(std::vector<Message> messages, const CompactOptions& options, ElisionStore& store);

// The bytes a handle names, from a store or from a server's context/expand; nullopt when gone.
using Fetch = std::function<std::optional<std::string>(std::string_view handle)>;
Fetch fetch_from(ElisionStore& store);
// Only the handles `manifest` lists: restoring a compaction's output with it gives that
// compaction's input, markers of an earlier compaction in it left as the text they were.
Fetch fetch_from(ElisionStore& store, const std::vector<Change>& manifest);

// Every marker in `text` replaced by what its handle holds. A marker whose handle `fetch` does
// not give is left as it is: the input itself may hold text that looks like one (a handle that
// was evicted shows the same way, as the marker still in place).
void restore(std::string& text, const Fetch& fetch);
// The conversation as it was: groups of dropped messages back in their place, every marker
// restored. False when a group's bytes do not read as messages.
bool restore(std::vector<Message>& messages, const Fetch& fetch);

}  // namespace compress
