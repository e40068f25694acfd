// The page the browser test drives: monaco-vscode-api's extended service set (VS Code's own
// provider registry and commands), monaco-languageclient's wrapper around vscode-languageclient 9,
// and the extension's web transport (clients/vscode/src/websocket.ts: authenticate, then one
// message per frame) to indexer serve's /lsp. The test calls window.ide from Playwright.
import * as vscode from 'vscode';
import { LogLevel } from '@codingame/monaco-vscode-api';
import { MonacoVscodeApiWrapper, type MonacoVscodeApiConfig } from 'monaco-languageclient/vscodeApiWrapper';
import { LanguageClientWrapper } from 'monaco-languageclient/lcwrapper';
import { EditorApp } from 'monaco-languageclient/editorApp';
import { configureDefaultWorkerFactory } from 'monaco-languageclient/workerFactory';
// VS Code's search contribution: it registers the workspace-symbol command and its provider registry.
import getSearchServiceOverride from '@codingame/monaco-vscode-search-service-override';
import { connect } from '../../../clients/vscode/src/websocket';
import { activate as activateExtension } from '../../../clients/vscode/src/web';

interface Start {
  url: string;
  token: string;
  root: string;
  file: string;
  text: string;
}

let client: LanguageClientWrapper | undefined;
let editor: EditorApp | undefined;

const uri = (root: string, rel: string) => vscode.Uri.file(`${root}/${rel}`);
const position = (line: number, character: number) => new vscode.Position(line, character);
const plain = (loc: vscode.Location | vscode.LocationLink) =>
  'uri' in loc ? { uri: loc.uri.toString(), line: loc.range.start.line, character: loc.range.start.character } : { uri: loc.targetUri.toString(), line: loc.targetRange.start.line, character: loc.targetRange.start.character };

async function start(s: Start): Promise<number> {
  const t0 = performance.now();
  const api: MonacoVscodeApiConfig = {
    $type: 'extended',
    viewsConfig: { $type: 'EditorService' },
    logLevel: LogLevel.Warning,
    // The extension's settings (read when its web entry point is activated), for this folder.
    userConfiguration: {
      json: JSON.stringify({ 'workbench.colorTheme': 'Default Dark Modern', 'editor.hover.delay': 0, 'indexer.serverUrl': s.url, 'indexer.token': s.token }),
    },
    workspaceConfig: {
      workspaceProvider: { trusted: true, workspace: { folderUri: vscode.Uri.file(s.root) }, open: async () => false },
    },
    monacoWorkerFactory: configureDefaultWorkerFactory,
    serviceOverrides: { ...getSearchServiceOverride() },
  };
  await new MonacoVscodeApiWrapper(api).start();
  const transports = await connect(s.url, s.token);
  const folder: vscode.WorkspaceFolder = { index: 0, name: 'tree', uri: vscode.Uri.file(s.root) };
  client = new LanguageClientWrapper({
    languageId: 'indexer',
    connection: { options: { $type: 'WebSocketDirect', webSocket: transports.socket }, messageTransports: { reader: transports.reader, writer: transports.writer } },
    clientOptions: { documentSelector: [{ scheme: 'file' }], workspaceFolder: folder },
  });
  await client.start();
  editor = new EditorApp({ codeResources: { modified: { text: s.text, uri: uri(s.root, s.file).path } } });
  await editor.start(document.getElementById('editor')!);
  return performance.now() - t0;
}

// Each through VS Code's own command, so through the providers vscode-languageclient registered.
const ide = {
  start,
  async symbols(query: string) {
    const found = (await vscode.commands.executeCommand('vscode.executeWorkspaceSymbolProvider', query)) as vscode.SymbolInformation[];
    return found.map((s) => ({ name: s.name, container: s.containerName, ...plain(s.location) }));
  },
  // The first answer through the provider path, timed: open-to-first-answer and latency.
  async timeSymbols(query: string, runs: number) {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await vscode.commands.executeCommand('vscode.executeWorkspaceSymbolProvider', query);
      times.push(performance.now() - t);
    }
    return times;
  },
  async outline(root: string, rel: string) {
    type Node = { name: string; children: Node[] };
    const walk = (s: vscode.DocumentSymbol): Node => ({ name: s.name, children: (s.children ?? []).map(walk) });
    const found = (await vscode.commands.executeCommand('vscode.executeDocumentSymbolProvider', uri(root, rel))) as vscode.DocumentSymbol[];
    return found.map(walk);
  },
  async definition(root: string, rel: string, line: number, character: number) {
    const found = (await vscode.commands.executeCommand('vscode.executeDefinitionProvider', uri(root, rel), position(line, character))) as (vscode.Location | vscode.LocationLink)[];
    return found.map(plain);
  },
  async hover(root: string, rel: string, line: number, character: number) {
    const found = (await vscode.commands.executeCommand('vscode.executeHoverProvider', uri(root, rel), position(line, character))) as vscode.Hover[];
    return found.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value)));
  },
  async links(root: string, rel: string) {
    const found = (await vscode.commands.executeCommand('vscode.executeLinkProvider', uri(root, rel))) as vscode.DocumentLink[];
    return found.map((l) => ({ line: l.range.start.line, start: l.range.start.character, end: l.range.end.character, target: l.target?.toString() }));
  },
  // The extension's own web entry point (clients/vscode/src/web.ts) in place of the wrapper's
  // client: its activate() on this page's VS Code API, connecting per workspace folder.
  async activateExtension() {
    await client?.dispose();
    client = undefined;
    const context = { subscriptions: [] as { dispose(): unknown }[] };
    await activateExtension(context as unknown as vscode.ExtensionContext);
    return (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
  },
  // Runs one of the extension's commands on the editor's file; its quick pick is read by the test.
  async runCommand(command: string) {
    editor!.getEditor()!.focus();
    void vscode.commands.executeCommand(command);
    return vscode.window.activeTextEditor?.document.uri.toString() ?? null;
  },
  // For the screenshots: VS Code's symbol quick access ("#" in quick open, as Ctrl+T opens it).
  async showSymbols(query: string) {
    await vscode.commands.executeCommand('workbench.action.quickOpen', `#${query}`);
  },
  // For the screenshots: the hover shown in the editor at a position.
  async showHover(line: number, character: number) {
    const e = editor!.getEditor()!;
    e.setPosition({ lineNumber: line + 1, column: character + 1 });
    e.focus();
    await vscode.commands.executeCommand('editor.action.showHover');
  },
};
(window as unknown as { ide: typeof ide }).ide = ide;
