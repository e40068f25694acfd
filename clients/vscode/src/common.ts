// What both entry points share: one language client per workspace folder (each folder is its own
// index), the commands on the import graph, and the status bar item with the index's state.
// The entry points differ only in how a folder's client reaches its server (extension.ts: the
// binary over stdio; web.ts: a running `indexer serve`'s /lsp over WebSocket).
import * as vscode from 'vscode';
import type { BaseLanguageClient, LanguageClientOptions } from 'vscode-languageclient';

// indexer/status, sent by the server while the first index is built and once it is ready
// (asked for with initializationOptions.statusNotifications).
export interface IndexState {
  state: 'starting' | 'indexing' | 'ready' | 'failed' | 'stopped';
  percentage?: number;
  files?: number;
  files_total?: number;
  symbols?: number;
}

// A node of the import graph, as graph/importers and graph/dependents answer.
interface GraphNode {
  path: string;
  external: boolean;
  line?: number;
  depth?: number;
}

export type ClientFactory = (folder: vscode.WorkspaceFolder, options: LanguageClientOptions) => BaseLanguageClient | undefined;

interface Folder {
  folder: vscode.WorkspaceFolder;
  client: BaseLanguageClient;
  state: IndexState;
}

export function clientOptions(folder: vscode.WorkspaceFolder, output: vscode.OutputChannel): LanguageClientOptions {
  return {
    // This folder's documents only: another folder has its own index.
    documentSelector: [{ scheme: folder.uri.scheme, pattern: `${folder.uri.scheme === 'file' ? folder.uri.fsPath : folder.uri.path}/**/*` }],
    workspaceFolder: folder,
    outputChannel: output,
    initializationOptions: { statusNotifications: true },
  };
}

export class Folders implements vscode.Disposable {
  private readonly folders = new Map<string, Folder>();
  private readonly status: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly make: ClientFactory, private readonly output: vscode.OutputChannel) {
    this.status = vscode.window.createStatusBarItem('indexer.status', vscode.StatusBarAlignment.Left, 10);
    this.status.name = 'indexer';
    this.status.command = 'indexer.reindex';
    this.disposables.push(
      this.status,
      vscode.commands.registerCommand('indexer.showImporters', () => this.showGraph('graph/importers', 'imports this file')),
      vscode.commands.registerCommand('indexer.showDependents', () => this.showGraph('graph/dependents', 'depends on this file')),
      vscode.commands.registerCommand('indexer.reindex', () => this.reindex()),
      vscode.window.onDidChangeActiveTextEditor(() => this.render()),
      vscode.workspace.onDidChangeWorkspaceFolders(async (e) => {
        for (const f of e.removed) await this.remove(f);
        for (const f of e.added) await this.add(f);
      }),
    );
  }

  async start(): Promise<void> {
    for (const f of vscode.workspace.workspaceFolders ?? []) await this.add(f);
    this.render();
  }

  async add(folder: vscode.WorkspaceFolder): Promise<void> {
    const key = folder.uri.toString();
    if (this.folders.has(key)) return;
    const client = this.make(folder, clientOptions(folder, this.output));
    if (!client) return;
    const entry: Folder = { folder, client, state: { state: 'starting' } };
    this.folders.set(key, entry);
    client.onNotification('indexer/status', (s: IndexState) => {
      entry.state = s;
      this.render();
    });
    this.render();
    try {
      await client.start();
    } catch (e) {
      entry.state = { state: 'failed' };
      this.render();
      void vscode.window.showErrorMessage(`indexer: the server for ${folder.name} did not start: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async remove(folder: vscode.WorkspaceFolder): Promise<void> {
    const key = folder.uri.toString();
    const entry = this.folders.get(key);
    this.folders.delete(key);
    if (entry) await entry.client.stop().catch(() => undefined);
    this.render();
  }

  // The folder of the active editor's file, else the first folder.
  private current(): Folder | undefined {
    const uri = vscode.window.activeTextEditor?.document.uri;
    const folder = uri && vscode.workspace.getWorkspaceFolder(uri);
    if (folder) return this.folders.get(folder.uri.toString());
    return this.folders.values().next().value;
  }

  private render(): void {
    const f = this.current();
    if (!f) return this.status.hide();
    const s = f.state;
    const where = this.folders.size > 1 ? ` (${f.folder.name})` : '';
    if (s.state === 'indexing') {
      this.status.text = `$(sync~spin) indexer: ${s.percentage ?? 0}%`;
      this.status.tooltip = `Indexing${where}: ${s.files ?? 0} of ${s.files_total ?? '?'} files`;
    } else if (s.state === 'ready') {
      this.status.text = `$(database) indexer: ${(s.files ?? 0).toLocaleString('en')} files, ${(s.symbols ?? 0).toLocaleString('en')} symbols`;
      this.status.tooltip = `The index${where}. Click to re-index.`;
    } else {
      this.status.text = `$(database) indexer: ${s.state}`;
      this.status.tooltip = `indexer${where}`;
    }
    this.status.show();
  }

  private async reindex(): Promise<void> {
    const f = this.current();
    if (!f) return;
    f.state = { ...f.state, state: 'indexing', percentage: undefined };
    this.render();
    try {
      await f.client.sendRequest('index/refresh', {});
      const s = await f.client.sendRequest<{ files: number; symbols: number }>('index/status', {});
      f.state = { state: 'ready', files: s.files, symbols: s.symbols };
    } catch (e) {
      f.state = { state: 'failed' };
      void vscode.window.showErrorMessage(`indexer: re-indexing failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.render();
  }

  // The import graph around the active file, in a quick pick that opens what is picked.
  private async showGraph(method: 'graph/importers' | 'graph/dependents', relation: string): Promise<void> {
    const doc = vscode.window.activeTextEditor?.document;
    const folder = doc && vscode.workspace.getWorkspaceFolder(doc.uri);
    const f = folder && this.folders.get(folder.uri.toString());
    if (!doc || !folder || !f) {
      void vscode.window.showInformationMessage('indexer: open a file of a workspace folder first');
      return;
    }
    const rel = vscode.workspace.asRelativePath(doc.uri, false);
    let nodes: GraphNode[];
    try {
      nodes = await f.client.sendRequest<GraphNode[]>(method, { path: rel });
    } catch (e) {
      void vscode.window.showErrorMessage(`indexer: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const items = nodes
      .filter((n) => !n.external)
      .map((n) => ({
        label: n.path,
        description: n.line !== undefined ? `line ${n.line}` : n.depth !== undefined ? `depth ${n.depth}` : '',
        node: n,
      }));
    const picked = await vscode.window.showQuickPick(items, {
      title: `${items.length} file${items.length === 1 ? '' : 's'}: ${relation} (${rel})`,
      placeHolder: items.length ? 'Open a file' : `Nothing ${relation}`,
      matchOnDescription: true,
    });
    if (!picked) return;
    const target = vscode.Uri.joinPath(folder.uri, picked.node.path);
    const line = Math.max(0, (picked.node.line ?? 1) - 1);
    await vscode.window.showTextDocument(target, { selection: new vscode.Range(line, 0, line, 0) });
  }

  async dispose(): Promise<void> {
    for (const f of [...this.folders.values()]) await this.remove(f.folder);
    for (const d of this.disposables) d.dispose();
  }
}
