// The tokens module's methods (compress/tokens.h): count, encode, decode and split a text by the
// tokens of cl100k_base or o200k_base, and the MCP tool count_tokens. None needs the index, so
// they are answered while the first index is built; they run on the pool, since a text at the
// size limit takes tens of milliseconds.
#include <nlohmann/json.hpp>

#include "compress/tokens.h"
#include "server/json_writer.h"
#include "server/registry.h"

namespace server {
namespace {

namespace tk = compress::tokens;

// What one call may ask for: well under the transports' 64 MiB message, and a bound on the time
// a call holds a pool thread (16 MiB of text is about 4 million tokens, ~100 ms).
constexpr size_t kMaxTextBytes = 16 << 20;
constexpr size_t kMaxIds = 4 << 20;
constexpr size_t kMaxChunks = 1 << 16;  // bounds the answer too: each chunk repeats its text
constexpr const char* kDefaultEncoding = "o200k_base";

tk::Encoding read_encoding(const Params& p) {
  std::string name = p.maybe_text("encoding").value_or(kDefaultEncoding);
  auto e = tk::encoding_named(name);
  if (!e) bad_param("param 'encoding' must be \"cl100k_base\" or \"o200k_base\", not \"" + name + "\"");
  return *e;
}

std::string read_text(const Params& p) {
  // Measured before it is copied out of the params.
  const json& v = p.raw("text");
  if (v.is_string() && v.get_ref<const std::string&>().size() > kMaxTextBytes)
    bad_param("param 'text' is " + std::to_string(v.get_ref<const std::string&>().size()) + " bytes; tokens methods take at most " +
              std::to_string(kMaxTextBytes) + " bytes (16 MiB): split it");
  return p.text("text");
}

struct TextParams {
  std::string text;
  tk::Encoding encoding;
};
TextParams read_text_params(const Params& p) { return {read_text(p), read_encoding(p)}; }

struct DecodeParams {
  std::vector<uint32_t> ids;
  tk::Encoding encoding;
};
DecodeParams read_decode(const Params& p) {
  DecodeParams out{{}, read_encoding(p)};
  const json& ids = p.raw("tokens");
  if (!ids.is_array()) bad_param(ids.is_null() ? "missing param 'tokens'" : "param 'tokens' must be a list of token ids");
  if (ids.size() > kMaxIds)
    bad_param("param 'tokens' holds " + std::to_string(ids.size()) + " ids; tokens/decode takes at most " + std::to_string(kMaxIds));
  out.ids.reserve(ids.size());
  for (const json& id : ids) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > UINT32_MAX)
      bad_param("param 'tokens' must hold token ids (integers from 0)");
    out.ids.push_back(id.get<uint32_t>());
  }
  return out;
}

struct SplitParams {
  std::string text;
  tk::Encoding encoding;
  size_t max_tokens;
};
SplitParams read_split(const Params& p) {
  return {read_text(p), read_encoding(p), static_cast<size_t>(p.maybe_integer("max_tokens", 1, UINT32_MAX).value_or(0))};
}

// ---- calls ----------------------------------------------------------------------------------------

struct Counted {
  size_t count;
  tk::Encoding encoding;
};
Counted count(Context&, const TextParams& p) { return {tk::tokenizer(p.encoding).count(p.text), p.encoding}; }
std::string write_count(const Counted& r) {
  JsonWriter w;
  w.begin_object().field("count", static_cast<int64_t>(r.count)).field("encoding", tk::name_of(r.encoding)).end_object();
  return w.take();
}

struct Encoded {
  std::vector<uint32_t> ids;
  tk::Encoding encoding;
};
Encoded encode(Context&, const TextParams& p) { return {tk::tokenizer(p.encoding).encode(p.text), p.encoding}; }
std::string write_encoded(const Encoded& r) {
  JsonWriter w;
  w.begin_object().key("tokens").begin_array();
  for (uint32_t id : r.ids) w.number(id);
  w.end_array().field("encoding", tk::name_of(r.encoding)).end_object();
  return w.take();
}

struct Decoded {
  std::string bytes;
  bool valid;
};
Decoded decode(Context&, const DecodeParams& p) {
  auto d = tk::tokenizer(p.encoding).decode(p.ids);
  if (d.unknown) bad_param("token id " + std::to_string(*d.unknown) + " is not in " + tk::name_of(p.encoding));
  bool valid = tk::is_valid_utf8(d.bytes);
  return {std::move(d.bytes), valid};
}
std::string write_decoded(const Decoded& r) {
  // JSON text must be UTF-8: ids that end inside a character come back with U+FFFD there, and
  // say so.
  JsonWriter w;
  w.begin_object().field("text", r.valid ? r.bytes : tk::to_valid_utf8(r.bytes)).key("valid_utf8").boolean(r.valid).end_object();
  return w.take();
}

struct Split {
  std::string text;
  std::vector<std::pair<size_t, size_t>> chunks;
  std::vector<size_t> counts;
  tk::Encoding encoding;
};
Split split(Context& c, const SplitParams& p) {
  if (!p.max_tokens) bad_param("missing param 'max_tokens'");
  const auto& t = tk::tokenizer(p.encoding);
  Split out{p.text, t.split(p.text, p.max_tokens), {}, p.encoding};
  if (out.chunks.size() > kMaxChunks)
    bad_param("the text splits into " + std::to_string(out.chunks.size()) + " chunks of at most " + std::to_string(p.max_tokens) +
              " tokens; tokens/split answers at most " + std::to_string(kMaxChunks) + ": raise 'max_tokens'");
  for (auto [b, e] : out.chunks) {
    if (c.cancelled_now()) throw RpcError{kRequestCancelled, "request cancelled"};
    out.counts.push_back(t.count(std::string_view(out.text).substr(b, e - b)));
  }
  return out;
}
std::string write_split(const Split& r) {
  JsonWriter w;
  w.begin_object().key("chunks").begin_array();
  for (size_t i = 0; i < r.chunks.size(); ++i) {
    auto [b, e] = r.chunks[i];
    w.begin_object()
        .field("text", std::string_view(r.text).substr(b, e - b))
        .field("tokens", static_cast<int64_t>(r.counts[i]))
        .field("begin", static_cast<int64_t>(b))
        .field("end", static_cast<int64_t>(e))
        .end_object();
  }
  w.end_array().field("encoding", tk::name_of(r.encoding)).end_object();
  return w.take();
}

std::string tool_count(const json& args, Context& c) {
  Counted r = count(c, read_text_params(Params(args)));
  return std::to_string(r.count) + " tokens (" + tk::name_of(r.encoding) + ")\n";
}

constexpr const char* kEncodingDoc = "\"o200k_base\" (default: GPT-4o and later) or \"cl100k_base\" (GPT-4, GPT-3.5)";

void register_methods(Registry& r) {
  r.bind({.name = "tokens/count", .params = "{text, encoding?}",
          .summary = "The number of tokens of a text, as tiktoken counts it (encoding: o200k_base, the default, or cl100k_base); text up to 16 MiB.",
          .needs_index = false,
          .tool = McpTool{"count_tokens",
                          "Count the tokens of a text exactly as OpenAI's tiktoken does (special tokens are counted as plain text).",
                          tool_schema({{"text", {{"type", "string"}}},
                                       {"encoding", {{"type", "string"}, {"enum", {"o200k_base", "cl100k_base"}}, {"description", kEncodingDoc}}}},
                                      {"text"}),
                          tool_count}},
         read_text_params, count, write_count);
  r.bind({.name = "tokens/encode", .params = "{text, encoding?}", .summary = "A text's token ids: {tokens: [id...], encoding}.",
          .needs_index = false},
         read_text_params, encode, write_encoded);
  r.bind({.name = "tokens/decode", .params = "{tokens, encoding?}",
          .summary = "The text of token ids: {text, valid_utf8} (ids that end inside a character give U+FFFD there).", .needs_index = false},
         read_decode, decode, write_decoded);
  r.bind({.name = "tokens/split", .params = "{text, max_tokens, encoding?}",
          .summary = "Chunks of at most max_tokens tokens each, cut after a newline where one fits: {chunks: [{text, tokens, begin, end}]} (byte offsets; at most 65,536 chunks).",
          .needs_index = false},
         read_split, split, write_split);
}

const Registration registered(register_methods);

}  // namespace
}  // namespace server
