// One page, built once (ctest's build step), served as static files by the test.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  logLevel: 'warn',
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 100000, sourcemap: false },
  worker: { format: 'es' },
  // One copy of the client libraries, whether imported from here or from clients/vscode/src.
  resolve: { dedupe: ['vscode', 'vscode-languageclient', 'vscode-jsonrpc', 'vscode-languageserver-protocol'] },
});
