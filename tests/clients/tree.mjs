// A temporary tree of files for a test: { 'dir/file.py': 'text', ... } -> its root.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function tree(files, prefix = 'indexer-client-') {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}
