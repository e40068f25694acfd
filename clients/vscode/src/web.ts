// The web entry point (VS Code for the Web, and any host of web extensions): each workspace
// folder's client connects to a running `indexer serve`'s /lsp, the URL and token from the
// folder's settings (indexer.serverUrl, indexer.token).
import * as vscode from 'vscode';
import { BaseLanguageClient, type LanguageClientOptions, type MessageTransports } from 'vscode-languageclient/browser';
import { Folders } from './common';
import { connect } from './websocket';

export class WebSocketLanguageClient extends BaseLanguageClient {
  constructor(id: string, name: string, options: LanguageClientOptions, private readonly url: string, private readonly token: string) {
    super(id, name, options);
  }

  protected override async createMessageTransports(): Promise<MessageTransports> {
    const { reader, writer } = await connect(this.url, this.token);
    return { reader, writer };
  }

  protected override getLocale(): string {
    return vscode.env.language;
  }
}

let folders: Folders | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('indexer');
  context.subscriptions.push(output);
  folders = new Folders((folder, options) => {
    const config = vscode.workspace.getConfiguration('indexer', folder);
    const url = config.get<string>('serverUrl', '');
    if (!url) {
      void vscode.window.showErrorMessage(`indexer: set indexer.serverUrl for ${folder.name} to a running indexer serve's /lsp (ws://HOST:PORT/lsp)`);
      return undefined;
    }
    return new WebSocketLanguageClient(`indexer-${folder.index}`, `indexer (${folder.name})`, options, url, config.get<string>('token', ''));
  }, output);
  context.subscriptions.push(folders);
  await folders.start();
}

export async function deactivate(): Promise<void> {
  await folders?.dispose();
  folders = undefined;
}
