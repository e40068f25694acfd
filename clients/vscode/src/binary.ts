// Which indexer the desktop entry point starts: the indexer.path setting, else the first
// executable `indexer` on PATH. Apart from `vscode`, so a test runs it on real files.
import * as fs from 'node:fs';
import * as path from 'node:path';

// undefined when the setting names no executable file, or (no setting) none is on PATH.
export function findBinary(setting: string, pathVariable = process.env.PATH ?? ''): string | undefined {
  const executable = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (setting) return executable(setting) ? setting : undefined;
  for (const dir of pathVariable.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'indexer');
    if (executable(candidate)) return candidate;
  }
  return undefined;
}
