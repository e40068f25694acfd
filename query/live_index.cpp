#include "query/live_index.h"

#include <algorithm>
#include <cassert>
#include <unordered_set>

#include "query/index_impl.h"

namespace query {
namespace detail {
namespace {

bool bit(std::span<const uint64_t> bits, uint32_t i) { return i / 64 < bits.size() && (bits[i / 64] >> (i % 64) & 1); }

// What a view needs of its base, shared by every view over the same base and mask: editing a
// file the overlay already holds changes neither, so such an update costs no O(files) work.
struct BaseTables {
  std::vector<uint64_t> hidden;        // a bit per base file
  std::vector<uint32_t> live;          // view file id -> base file id, for the unmasked files
  std::vector<uint32_t> view_of;       // base file id -> view file id, UINT32_MAX when masked
  std::vector<uint32_t> first_symbol;  // view file id -> first view symbol id; one more entry

  BaseTables(const IndexData& base, std::vector<uint64_t> mask) : hidden(std::move(mask)) {
    hidden.resize((base.files.size() + 63) / 64, 0);
    view_of.assign(base.files.size(), UINT32_MAX);
    first_symbol.reserve(base.files.size() + 1);
    uint32_t symbols = 0;
    for (uint32_t f = 0; f < base.files.size(); ++f) {
      if (bit(hidden, f)) continue;
      view_of[f] = uint32_t(live.size());
      live.push_back(f);
      first_symbol.push_back(symbols);
      symbols += base.files[f].symbol_count;
    }
    first_symbol.push_back(symbols);
  }
  uint32_t symbol_count() const { return first_symbol.back(); }
  uint32_t file_count() const { return uint32_t(live.size()); }
  size_t bytes() const { return (hidden.capacity() * 2 + live.capacity() * 4 + view_of.capacity() * 4 + first_symbol.capacity() * 4); }
};

// An Index over a base (less its masked files) and an overlay: view ids are the base's live
// files and symbols first, then the overlay's, whose ids are the overlay's own plus an offset.
class LiveView final : public Index, public LiveLayers {
 public:
  LiveView(std::shared_ptr<const Index> base, std::shared_ptr<const BaseTables> tables, std::shared_ptr<const Index> overlay)
      : base_(std::move(base)), tables_(std::move(tables)), overlay_(std::move(overlay)) {
    LiveLayers::base = &data_of(*base_);
    LiveLayers::overlay = overlay_ ? &data_of(*overlay_) : nullptr;
    base_hidden = tables_->hidden;
  }

  size_t symbol_count() const override { return tables_->symbol_count() + (overlay_ ? overlay_->symbol_count() : 0); }
  size_t file_count() const override { return tables_->file_count() + (overlay_ ? overlay_->file_count() : 0); }
  // Names of both layers, a name in both counted twice: an upper bound, for statistics.
  size_t name_count() const override { return base_->name_count() + (overlay_ ? overlay_->name_count() : 0); }

  Symbol symbol(uint32_t id) const override {
    const uint32_t base_symbols = tables_->symbol_count();
    if (id >= base_symbols) {
      Symbol s = overlay_->symbol(id - base_symbols);
      s.id = id;
      s.file += tables_->file_count();
      return s;
    }
    const auto& first = tables_->first_symbol;
    uint32_t view_file = uint32_t(std::upper_bound(first.begin(), first.end(), id) - first.begin() - 1);
    uint32_t base_file = tables_->live[view_file];
    Symbol s = base_->symbol(LiveLayers::base->files[base_file].first_symbol + (id - first[view_file]));
    s.id = id;
    s.file = view_file;
    return s;
  }

  FileInfo file(uint32_t id) const override {
    FileInfo info = id < tables_->file_count() ? base_->file(tables_->live[id]) : overlay_->file(id - tables_->file_count());
    info.id = id;
    return info;
  }

  std::optional<uint32_t> find_file(std::string_view path) const override {
    if (overlay_)
      if (auto f = overlay_->find_file(path)) return *f + tables_->file_count();
    if (auto f = base_->find_file(path))
      if (uint32_t v = tables_->view_of[*f]; v != UINT32_MAX) return v;
    return std::nullopt;
  }

  IdRange file_symbols(uint32_t file) const override {
    if (file < tables_->file_count()) return {tables_->first_symbol[file], tables_->first_symbol[file + 1]};
    IdRange r = overlay_->file_symbols(file - tables_->file_count());
    return {r.begin + tables_->symbol_count(), r.end + tables_->symbol_count()};
  }

  std::vector<Import> file_imports(uint32_t file) const override {
    return file < tables_->file_count() ? base_->file_imports(tables_->live[file]) : overlay_->file_imports(file - tables_->file_count());
  }

  std::vector<uint32_t> find_exact(std::string_view name) const override {
    std::vector<uint32_t> out;
    for (uint32_t id : base_->find_exact(name))
      if (!bit(tables_->hidden, LiveLayers::base->file_of(id))) out.push_back(view_symbol(false, id));
    if (overlay_)
      for (uint32_t id : overlay_->find_exact(name)) out.push_back(view_symbol(true, id));
    // (path, line) order: the two layers' files interleave by path.
    std::sort(out.begin(), out.end(), [&](uint32_t a, uint32_t b) {
      Symbol x = symbol(a), y = symbol(b);
      if (x.path != y.path) return x.path < y.path;
      return x.range.start.line != y.range.start.line ? x.range.start.line < y.range.start.line : a < b;
    });
    return out;
  }

  MemoryStats memory() const override {
    MemoryStats m = base_->memory();
    if (overlay_) {
      MemoryStats o = overlay_->memory();
      m.records += o.records, m.names += o.names, m.postings += o.postings, m.strings += o.strings, m.signatures += o.signatures;
    }
    m.records += tables_->bytes();
    return m;
  }

  uint32_t view_symbol(bool in_overlay, uint32_t layer_symbol) const override {
    if (in_overlay) return layer_symbol + tables_->symbol_count();
    uint32_t base_file = LiveLayers::base->file_of(layer_symbol);
    uint32_t view_file = tables_->view_of[base_file];
    assert(view_file != UINT32_MAX && "a masked base symbol has no id in the view");
    return tables_->first_symbol[view_file] + (layer_symbol - LiveLayers::base->files[base_file].first_symbol);
  }

 private:
  std::shared_ptr<const Index> base_;
  std::shared_ptr<const BaseTables> tables_;
  std::shared_ptr<const Index> overlay_;  // may be null
};

}  // namespace

const LiveLayers* live_layers(const Index& index) { return dynamic_cast<const LiveView*>(&index); }

}  // namespace detail

using detail::BaseTables;

struct LiveIndex::State {
  std::mutex mu;          // writers: update() and the end of compact()
  std::mutex compact_mu;  // one compaction at a time
  std::shared_ptr<const Index> base;
  std::shared_ptr<const BaseTables> tables;
  std::shared_ptr<const Index> overlay;  // null when no file changed since the base
  uint64_t generation = 0;
  // Paths changed (or removed) since the base was built, with the generation of their last
  // change: what a compaction must carry over when they changed after it began.
  std::unordered_map<std::string, uint64_t> changed_at;

  // The view of the current layers: the base itself when nothing changed since it was built.
  std::shared_ptr<const Index> make_view() const {
    bool masked = std::any_of(tables->hidden.begin(), tables->hidden.end(), [](uint64_t w) { return w != 0; });
    if (!overlay && !masked) return base;
    return std::make_shared<detail::LiveView>(base, tables, overlay);
  }
};

LiveIndex::LiveIndex(std::shared_ptr<const Index> base) : state_(std::make_unique<State>()) {
  assert(!detail::live_layers(*base) && "the base of a live index is an Index built by IndexBuilder");
  state_->base = std::move(base);
  state_->tables = std::make_shared<BaseTables>(detail::data_of(*state_->base), std::vector<uint64_t>{});
  view_.store(state_->make_view());
}

LiveIndex::~LiveIndex() = default;

void LiveIndex::update(std::span<const FileInput> changed, std::span<const std::string> removed) {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  const uint64_t generation = ++s.generation;
  std::unordered_set<std::string_view> gone(removed.begin(), removed.end());
  std::unordered_set<std::string_view> replaced;
  for (const FileInput& f : changed) replaced.insert(f.path);

  // The new overlay: the old one's files that stay, then the changed ones (the last of a path wins).
  IndexBuilder builder;
  size_t files = 0;
  if (s.overlay)
    for (uint32_t f = 0; f < s.overlay->file_count(); ++f) {
      FileInfo info = s.overlay->file(f);
      if (gone.count(info.path) || replaced.count(info.path)) continue;
      builder.add_from(*s.overlay, f, info.mtime_ns);
      ++files;
    }
  std::unordered_set<std::string_view> added;
  for (size_t i = changed.size(); i-- > 0;) {
    const FileInput& f = changed[i];
    if (gone.count(f.path) || !added.insert(f.path).second) continue;
    builder.add(f);
    ++files;
  }
  std::shared_ptr<const Index> overlay = files ? std::shared_ptr<const Index>(builder.finish()) : nullptr;

  // The base's copies of every path touched are masked; the mask (and the tables over it) only
  // changes the first time a base file is touched.
  std::vector<uint64_t> hidden = s.tables->hidden;
  bool mask_changed = false;
  auto touch = [&](std::string_view path) {
    s.changed_at[std::string(path)] = generation;
    if (std::optional<uint32_t> f = s.base->find_file(path)) {
      uint64_t& word = hidden[*f / 64];
      mask_changed |= !(word >> (*f % 64) & 1);
      word |= uint64_t(1) << (*f % 64);
    }
  };
  for (std::string_view p : gone) touch(p);
  for (std::string_view p : replaced) touch(p);
  if (mask_changed) s.tables = std::make_shared<BaseTables>(detail::data_of(*s.base), std::move(hidden));
  s.overlay = std::move(overlay);
  view_.store(s.make_view(), std::memory_order_release);
}

bool LiveIndex::wants_compaction() const {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  size_t overlay_symbols = s.overlay ? s.overlay->symbol_count() : 0;
  size_t masked_files = s.base->file_count() - s.tables->file_count();
  return overlay_symbols > std::max<size_t>(20000, s.base->symbol_count() / 16) ||
         masked_files > std::max<size_t>(2000, s.base->file_count() / 8);
}

void LiveIndex::compact() {
  State& s = *state_;
  std::lock_guard compacting(s.compact_mu);
  std::shared_ptr<const Index> view;
  uint64_t started;
  {
    std::lock_guard lock(s.mu);
    if (s.changed_at.empty()) return;
    view = view_.load(), started = s.generation;
  }
  // The long part, while updates go on.
  std::shared_ptr<const Index> fresh = flatten(view);

  std::lock_guard lock(s.mu);
  // Paths changed after the compaction began: mask their copies in the new base, and keep the
  // current overlay's versions of them.
  std::vector<uint64_t> hidden;
  hidden.resize((fresh->file_count() + 63) / 64, 0);
  IndexBuilder carried;
  size_t files = 0;
  for (auto it = s.changed_at.begin(); it != s.changed_at.end();) {
    if (it->second <= started) {
      it = s.changed_at.erase(it);
      continue;
    }
    if (std::optional<uint32_t> f = fresh->find_file(it->first)) hidden[*f / 64] |= uint64_t(1) << (*f % 64);
    if (s.overlay)
      if (std::optional<uint32_t> f = s.overlay->find_file(it->first)) {
        carried.add_from(*s.overlay, *f, s.overlay->file(*f).mtime_ns);
        ++files;
      }
    ++it;
  }
  s.base = std::move(fresh);
  s.tables = std::make_shared<BaseTables>(detail::data_of(*s.base), std::move(hidden));
  s.overlay = files ? std::shared_ptr<const Index>(carried.finish()) : nullptr;
  ++s.generation;
  view_.store(s.make_view(), std::memory_order_release);
}

std::shared_ptr<const Index> flatten(const std::shared_ptr<const Index>& index) {
  if (!detail::live_layers(*index)) return index;
  IndexBuilder builder;
  for (uint32_t f = 0; f < index->file_count(); ++f) builder.add_from(*index, f, index->file(f).mtime_ns);
  return builder.finish();
}

size_t LiveIndex::overlay_files() const {
  std::lock_guard lock(state_->mu);
  return state_->overlay ? state_->overlay->file_count() : 0;
}

uint64_t LiveIndex::generation() const {
  std::lock_guard lock(state_->mu);
  return state_->generation;
}

}  // namespace query
