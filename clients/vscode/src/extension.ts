// The desktop entry point: `indexer lsp --stdio` started for each workspace folder, the binary
// from the indexer.path setting, else `indexer` on PATH.
import * as vscode from 'vscode';
import { LanguageClient, TransportKind } from 'vscode-languageclient/node';
import { findBinary } from './binary';
import { Folders } from './common';

let folders: Folders | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('indexer');
  context.subscriptions.push(output);
  if (!vscode.workspace.isTrusted) {
    // The binary a workspace's settings name is not run before the workspace is trusted.
    context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void activate(context)));
    return;
  }
  const setting = vscode.workspace.getConfiguration('indexer').get<string>('path', '');
  const binary = findBinary(setting);
  if (!binary) {
    const why = setting
      ? `indexer.path is "${setting}", which is not an executable file`
      : 'no indexer on PATH and indexer.path is not set';
    const choice = await vscode.window.showErrorMessage(`indexer: cannot start the language server: ${why}.`, 'Open Settings');
    if (choice) await vscode.commands.executeCommand('workbench.action.openSettings', 'indexer.path');
    return;
  }
  output.appendLine(`indexer: ${binary}`);
  folders = new Folders(
    (folder, options) =>
      new LanguageClient(
        `indexer-${folder.index}`,
        `indexer (${folder.name})`,
        // TransportKind.stdio appends --stdio, which indexer lsp accepts.
        { command: binary, args: ['lsp', folder.uri.fsPath], transport: TransportKind.stdio, options: { cwd: folder.uri.fsPath } },
        options,
      ),
    output,
  );
  context.subscriptions.push(folders);
  await folders.start();
}

export async function deactivate(): Promise<void> {
  await folders?.dispose();
  folders = undefined;
}
