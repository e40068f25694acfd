// What the transports share: reading standard input without blocking shutdown, writing whole
// messages, the live tree they serve (opened behind the handshake), file URIs and LSP's UTF-16
// columns. Private to server/.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "indexer/live_tree.h"
#include "indexer/watch_loop.h"
#include "server/registry.h"
#include "server/service.h"
#include "server/stdio.h"

namespace server::detail {

// Standard input, read in chunks; wake() makes a blocked read() return so the transport can stop.
class Input {
 public:
  Input();
  ~Input();
  // Appends what is available to `buf` (waiting for it); false at end of input or after wake().
  bool read(std::string& buf);
  void wake();

 private:
  int wake_fd_ = -1;
};

// Writes all of `data` to standard output; false when the reader has gone.
bool write_all(std::string_view data);

// The tree a stdio server serves: opened on a thread of its own (so the handshake is answered at
// once), then watched. Requests wait for it with ready().
class Workspace : public Host {
 public:
  ~Workspace() override;
  // Starts opening `root`; `progress` is called on the opening thread, `changed` on the
  // watcher's after each re-index.
  void open(const std::filesystem::path& root, const StdioOptions& options,
            std::function<void(const indexer::Progress&)> progress,
            std::function<void(const indexer::LiveTree::Report&)> changed = {});
  bool opening() const;
  // Waits up to `timeout` for the opening to finish; true once it has.
  bool wait(std::chrono::milliseconds timeout);
  // Waits until the tree is open; throws RpcError (server not ready, cancelled, or why it failed).
  Service& ready(const CancelFlag& cancelled);
  // Non-null once open.
  Service* service();
  Service* index_now() override { return service(); }
  Service& index_ready(const CancelFlag& cancelled) override { return ready(cancelled); }
  const std::filesystem::path& root() const { return root_; }
  void stop();  // stops watching; saves what is unsaved

 private:
  std::filesystem::path root_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false, done_ = false, stopped_ = false;
  std::string error_;
  std::unique_ptr<indexer::LiveTree> tree_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<indexer::WatchLoop> loop_;
  std::thread opener_;
  std::once_flag joined_;
};

std::string uri_from_path(const std::filesystem::path& absolute);
std::optional<std::filesystem::path> path_from_uri(std::string_view uri);  // nullopt unless file://

// Line starts of a text, to turn byte columns into UTF-16 code units and back.
class Lines {
 public:
  explicit Lines(std::string text);
  const std::string& text() const { return text_; }
  std::string_view line(uint32_t i) const;
  uint32_t utf16_column(uint32_t line, uint32_t byte_column) const;
  uint32_t byte_column(uint32_t line, uint32_t utf16_column) const;
  size_t offset(uint32_t line, uint32_t byte_column) const;  // clamped to the text

 private:
  std::string text_;
  std::vector<size_t> starts_;
};

}  // namespace server::detail
