// A tree's snapshot: query/snapshot.h's file, with the indexer's own state in its extra section:
// a fingerprint of everything that decides what gets indexed (this build's queries, the options),
// when the run began, and the files it read but skipped.
#include <cstdlib>
#include <cstring>

#include "indexer/confine.h"
#include "indexer/indexer.h"
#include "query/snapshot.h"

namespace indexer {
namespace {

constexpr std::string_view kBuild = "indexer 0.1.0";

// Changes whenever a snapshot's symbols could differ from what this run would extract.
uint64_t fingerprint(const Options& o) {
  std::string s(kBuild);
  for (const auto& lang : grammars::all_languages()) s.append(lang.name).append(lang.query);
  if (const char* dir = std::getenv("INDEXER_QUERIES_DIR")) s.append("queries:").append(dir);
  s.append("|max=").append(std::to_string(o.max_file_size));
  s.append("|tree=").append(std::to_string(o.max_tree_bytes));
  s.append("|minified=").append(o.index_minified ? "1" : "0");
  for (const auto& e : o.excludes) s.append("|x=").append(e);
  return query::content_hash(s);
}

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
bool get(std::string_view& in, T& v) {
  if (in.size() < sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}

std::string encode_state(const std::vector<SkippedFile>& skipped, int64_t started_ns, const Options& o) {
  std::string out;
  put(out, fingerprint(o));
  put(out, started_ns);
  put(out, uint64_t(skipped.size()));
  for (const SkippedFile& f : skipped) {
    put(out, uint32_t(f.path.size()));
    out.append(f.path);
    put(out, f.size);
    put(out, f.mtime_ns);
    put(out, uint8_t(f.reason));
  }
  return out;
}

// False when the state is malformed or was written under other options.
bool decode_state(std::string_view in, const Options& o, int64_t& started_ns, std::vector<SkippedFile>& skipped) {
  uint64_t print = 0, count = 0;
  if (!get(in, print) || print != fingerprint(o) || !get(in, started_ns) || !get(in, count)) return false;
  if (count > in.size()) return false;
  skipped.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t n = 0;
    SkippedFile f;
    uint8_t reason = 0;
    if (!get(in, n) || n > in.size()) return false;
    f.path.assign(in.substr(0, n));
    in.remove_prefix(n);
    if (!get(in, f.size) || !get(in, f.mtime_ns) || !get(in, reason) || reason >= uint8_t(SkipReason::Count)) return false;
    f.reason = SkipReason(reason);
    skipped.push_back(std::move(f));
  }
  return in.empty();
}

}  // namespace

std::filesystem::path default_snapshot_path(const std::filesystem::path& root) { return root / ".indexer" / "snapshot"; }

Status save_tree(const query::Index& index, const std::vector<SkippedFile>& skipped, int64_t started_ns,
                      const Options& options, const std::filesystem::path& snapshot) {
  if (snapshot.parent_path().filename() != ".indexer")
    return query::save_snapshot(index, encode_state(skipped, started_ns, options), snapshot);
  // In a tree's .indexer (the default place): the repository controls that directory, so it is
  // opened under confine.h's rule and written without following links.
  std::filesystem::path root = snapshot.parent_path().parent_path();
  confine::Opened dir = confine::open_state_dir(root.empty() ? "." : root.string());
  if (!dir)
    return Error{snapshot.parent_path().string() + ": not written, " + std::string(confine::refusal_name(dir.refusal)) + ": " +
                 std::strerror(dir.error)};
  std::string name = snapshot.filename().string();
  Status saved = query::save_snapshot_at(index, encode_state(skipped, started_ns, options), dir.fd.get(), name);
  if (saved || !saved.error().starts_with(name)) return saved;
  return Error{(snapshot.parent_path() / saved.error()).string()};
}

Status save_tree(const IndexResult& result, const Options& options, const std::filesystem::path& snapshot) {
  return save_tree(*result.index, result.skipped_files, result.started_ns, options, snapshot);
}

IndexResult open_tree(const std::filesystem::path& root, const Options& options, const std::filesystem::path& snapshot,
                      const std::function<void(const Progress&)>& progress, std::string& warning) {
  std::error_code ec;
  std::unique_ptr<query::Index> loaded;
  Previous previous;
  std::vector<SkippedFile> skipped;
  if (std::filesystem::exists(snapshot, ec)) {
    Result<query::Snapshot> read = query::load_snapshot(snapshot);
    if (!read) {
      warning = read.error() + "; indexing from scratch";
    } else if (!decode_state(read->extra, options, previous.started_ns, skipped)) {
      warning = snapshot.string() + ": written by another build or with other options; indexing from scratch";
    } else {
      loaded = std::move(read->index);
      previous.index = loaded.get();
      previous.skipped = &skipped;
    }
  }
  IndexResult r = index_tree(root, options, progress, previous.index ? &previous : nullptr);
  if (r.unchanged) {
    r.index = std::move(loaded);
    r.skipped_files = std::move(skipped);
    return r;
  }
  if (!r.index) return r;
  if (Status saved = save_tree(r, options, snapshot); !saved) {
    if (!warning.empty()) warning += "; ";
    warning += "could not save the snapshot: " + saved.error();
  }
  return r;
}

}  // namespace indexer
