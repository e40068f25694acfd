// LSP over indexer serve's /lsp: one JSON-RPC message per text frame. A page cannot set headers
// on a WebSocket, so a token is sent as the first message (authenticate {token}) and its answer
// awaited before the language client takes the socket. Used by the web entry point and the
// browser test.
import { AbstractMessageReader, AbstractMessageWriter, type DataCallback, type Disposable, type Message, type MessageReader, type MessageWriter } from 'vscode-languageclient';

class SocketReader extends AbstractMessageReader implements MessageReader {
  private callback: DataCallback | undefined;
  private readonly early: Message[] = [];

  constructor(socket: WebSocket) {
    super();
    socket.addEventListener('message', (e: MessageEvent) => {
      if (typeof e.data !== 'string') return this.fireError(new Error('indexer: a binary frame'));
      let message: Message;
      try {
        message = JSON.parse(e.data) as Message;
      } catch (err) {
        return this.fireError(err);
      }
      if (this.callback) this.callback(message);
      else this.early.push(message);
    });
    socket.addEventListener('error', () => this.fireError(new Error('indexer: WebSocket error')));
    socket.addEventListener('close', () => this.fireClose());
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    for (const m of this.early.splice(0)) callback(m);
    return { dispose: () => (this.callback = undefined) };
  }
}

class SocketWriter extends AbstractMessageWriter implements MessageWriter {
  private errors = 0;

  constructor(private readonly socket: WebSocket) {
    super();
    socket.addEventListener('close', () => this.fireClose());
  }

  async write(message: Message): Promise<void> {
    if (this.socket.readyState !== WebSocket.OPEN) {
      const e = new Error('indexer: the WebSocket is closed');
      this.fireError(e, message, ++this.errors);
      throw e;
    }
    this.socket.send(JSON.stringify(message));
  }

  end(): void {
    this.socket.close();
  }
}

export interface Transports {
  reader: MessageReader;
  writer: MessageWriter;
  socket: WebSocket;
}

// Opens `url`, logs in with `token` when one is given, and hands over the socket.
export async function connect(url: string, token: string): Promise<Transports> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error(`indexer: cannot connect to ${url}`)), { once: true });
  });
  if (token) {
    const answer = new Promise<{ result?: unknown; error?: { message: string } }>((resolve, reject) => {
      socket.addEventListener('message', (e: MessageEvent) => resolve(JSON.parse(String(e.data))), { once: true });
      socket.addEventListener('close', () => reject(new Error(`indexer: ${url} closed the connection at login`)), { once: true });
    });
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: 'indexer-login', method: 'authenticate', params: { token } }));
    const a = await answer;
    if (a.result !== true) throw new Error(`indexer: ${url} refused the token: ${a.error?.message ?? 'no answer'}`);
  }
  return { reader: new SocketReader(socket), writer: new SocketWriter(socket), socket };
}
