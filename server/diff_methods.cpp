// The diff module's method: diff/text, registered here (registry.h); compress/diff.h does the work.
#include "server/diff_methods.h"

#include <nlohmann/json.hpp>

#include "server/json_writer.h"

namespace server::diff {

namespace {

constexpr uint32_t kMaxContext = 1000000;
constexpr auto kBudget = std::chrono::seconds(2);  // past it, the rest is replaced whole (coarse)

std::string size_name(size_t n) { return n % (1 << 20) == 0 ? std::to_string(n >> 20) + " MiB" : std::to_string(n) + " bytes"; }

// The param's text in place (a 5 MB text is not copied).
std::string_view text_param(const Params& p, const char* name) {
  const json& v = p.raw(name);
  if (v.is_null()) bad_param(std::string("missing param '") + name + "'");
  if (!v.is_string()) bad_param(std::string("param '") + name + "' must be a string");
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() > kMaxText)
    bad_param(std::string("param '") + name + "' is " + std::to_string(s.size()) + " bytes; diff/text takes at most " + size_name(kMaxText) + " a side");
  return s;
}

std::string_view name_param(const Params& p, const char* name, std::string_view fallback) {
  const json& v = p.raw(name);
  if (v.is_null()) return fallback;
  if (!v.is_string()) bad_param(std::string("param '") + name + "' must be a string");
  const std::string& s = v.get_ref<const std::string&>();
  // A newline in a name would end the "--- " line and break the patch.
  if (s.empty() || s.find_first_of("\r\n") != std::string::npos) bad_param(std::string("param '") + name + "' must be one non-empty line");
  return s;
}

TextParams read_text(const Params& p) {
  TextParams out;
  out.old_text = text_param(p, "old");
  out.new_text = text_param(p, "new");
  out.context = uint32_t(p.integer("context", 3, 0, kMaxContext));
  out.words = p.flag("words", false);
  out.old_name = name_param(p, "old_name", "old");
  out.new_name = name_param(p, "new_name", "new");
  return out;
}

void ranges(JsonWriter& w, const std::vector<compress::ByteRange>& rs) {
  w.begin_array();
  for (const auto& r : rs) w.begin_array().number(r.begin).number(r.end).end_array();
  w.end_array();
}

}  // namespace

compress::Diff text(Context& c, const TextParams& p) {
  compress::DiffOptions o;
  o.context = p.context;
  o.words = p.words;
  o.old_name = p.old_name;
  o.new_name = p.new_name;
  o.budget = kBudget;
  o.cancel = &c.cancelled;
  auto r = compress::diff_text(p.old_text, p.new_text, o);
  if (auto* refusal = std::get_if<compress::DiffRefusal>(&r)) bad_param(refusal->message);
  if (c.cancelled_now()) throw RpcError{kRequestCancelled, "request cancelled"};
  return std::move(std::get<compress::Diff>(r));
}

std::string write_text(const compress::Diff& d) {
  JsonWriter w;
  w.reserve(d.unified.size() + d.unified.size() / 8 + 256 + 48 * d.hunks.size());
  w.begin_object().field("unified", d.unified).field("identical", d.identical).field("coarse", d.coarse);
  w.key("stats").begin_object().field("added", d.added).field("removed", d.removed).end_object();
  w.key("hunks").begin_array();
  for (const auto& h : d.hunks) {
    w.begin_object()
        .field("old_start", h.old_start)
        .field("old_lines", h.old_lines)
        .field("new_start", h.new_start)
        .field("new_lines", h.new_lines);
    if (!h.words.empty()) {
      w.key("words").begin_array();
      for (const auto& p : h.words) {
        w.begin_object().field("old_line", p.old_line).field("new_line", p.new_line).key("old");
        ranges(w, p.old_ranges);
        ranges(w.key("new"), p.new_ranges);
        w.end_object();
      }
      w.end_array();
    }
    w.end_object();
  }
  w.end_array().end_object();
  return w.take();
}

namespace {

void register_methods(Registry& r) {
  r.bind({.name = "diff/text", .params = "{old, new, context?, words?, old_name?, new_name?}",
          .summary = "A line diff of two texts: {unified, hunks, identical, coarse, stats: {added, removed}}; unified is what patch and git apply take.",
          .runs = Runs::Pool, .needs_index = false},
         read_text, text, write_text);
}

const Registration registered(register_methods);

}  // namespace
}  // namespace server::diff
