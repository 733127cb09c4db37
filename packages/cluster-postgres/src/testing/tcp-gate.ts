import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP relay in front of a real server that a test can cut (every connection
 * dropped and new ones refused) and reopen: PostgreSQL "going down" for one node without
 * stopping the shared server.
 */
export class TcpGate {
  private readonly sockets = new Set<Socket>();
  private open = true;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Starts a relay on a free loopback port to `127.0.0.1:targetPort`. */
  static async start(targetPort: number): Promise<TcpGate> {
    let gate!: TcpGate;
    const server = createServer((client) => {
      if (!gate.open) return void client.destroy();
      const upstream = connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        gate.sockets.add(socket);
        socket.on('close', () => gate.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    gate = new TcpGate(server, typeof address === 'object' && address ? address.port : 0);
    return gate;
  }

  /** Drops every connection and refuses new ones. */
  cut(): void {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
  }

  /** Accepts connections again. */
  reopen(): void {
    this.open = true;
  }

  /** Cuts every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
