// Two bundles, each one file with vscode-languageclient inside: the desktop entry point for
// Node (dist/extension.js) and the web entry point for a browser worker (dist/web.js).
import * as esbuild from 'esbuild';

const common = { bundle: true, external: ['vscode'], format: 'cjs', sourcemap: true, minify: true, logLevel: 'warning', target: 'es2022' };
await Promise.all([
  esbuild.build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', platform: 'node' }),
  esbuild.build({ ...common, entryPoints: ['src/web.ts'], outfile: 'dist/web.js', platform: 'browser', mainFields: ['browser', 'module', 'main'] }),
]);
