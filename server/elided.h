// Where context/compact keeps what it elides (compress/store.h): one store for the process, so a
// handle from any connection expands on any other. With a root, each entry is also written to
// <root>/.indexer/elided/ (one zstd frame a handle, and the dictionary), so a handle outlives the
// process: a restarted server, or the next `indexer expand` run in-process, gives it back.
//
// The directory is opened under confine.h's rule (.indexer and elided/ beneath the root, a link at
// either refused), and entries are made O_EXCL | O_NOFOLLOW and renamed within it, so a link the
// repository planted is never written through. Refused, the store keeps its spans in memory only
// and says why. The directory is capped (ElisionStore::Options::max_dir_bytes, oldest first), and
// opened for each use rather than held: a descriptor inside the root kept a deleted root's inode
// alive, so the watcher never heard of the deletion and never rescanned the root that came back.
#pragma once

#include <string>

namespace compress {
class ElisionStore;
}

namespace server {

// The process's store itself: for a module that elides with the compactor too (the MCP run tool),
// so its handles expand through context/expand like context/compact's.
compress::ElisionStore& elided_store();

// Sets the root whose .indexer/elided/ the store persists in (empty: memory only). Takes effect
// when the store is first used, so call it before serving; a later call changes nothing.
void keep_elided_under(std::string root);

// Makes the store now; "" when it persists (or was asked not to), else why it keeps spans in
// memory only ("symlink: .indexer/elided ..."), for a server to warn about at start.
std::string open_elided_store();

}  // namespace server
