import type { ImageServer } from './server.js';

/** What the entry point needs from the signal handling once the server runs. */
export interface SignalHandling {
  /** Hands over the started server; a stop asked for while it was starting begins now. */
  attach(server: ImageServer): void;
}

/** The parts of `process` used here, so tests can drive the handlers. */
export interface SignalProcess {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  exit(code: number): void;
  stderr: { write(text: string): unknown };
}

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Installs the server's signal handlers; call it first thing, so no signal meets Node's
 * defaults while the cache opens.
 *
 * - SIGTERM, SIGINT: stop accepting requests, let running fills finish (the server's grace
 *   period), close the cache, exit 0 (1 if closing failed). A repeat while draining is logged.
 * - SIGHUP: never exits (Node's default would end the process at once with status 129,
 *   cutting every download). Nothing is reloaded: every setting comes from flags and the
 *   environment, which a running process cannot re-read, so the line logged says so.
 */
export function handleSignals(proc: SignalProcess = process): SignalHandling {
  let server: ImageServer | undefined;
  let stopRequested: NodeJS.Signals | undefined;
  let stopping = false;

  const stop = (running: ImageServer, signal: NodeJS.Signals): void => {
    stopping = true;
    running.app.log.info({ signal }, 'shutting down');
    running.close().then(
      () => proc.exit(0),
      (error: unknown) => {
        running.app.log.error({ err: String(error) }, 'shutdown failed');
        proc.exit(1);
      },
    );
  };

  for (const signal of STOP_SIGNALS) {
    proc.on(signal, () => {
      if (!server) {
        stopRequested ??= signal;
        proc.stderr.write(
          `imgcache-server: ${signal} received while starting; stopping as soon as the cache is open\n`,
        );
      } else if (stopping) {
        server.app.log.info({ signal }, 'already shutting down; waiting for running downloads');
      } else {
        stop(server, signal);
      }
    });
  }

  proc.on('SIGHUP', () => {
    const message =
      'SIGHUP received: nothing to reload, the server keeps running; settings come from flags and the environment, restart to change them';
    if (server) server.app.log.warn({ signal: 'SIGHUP', reloaded: [] }, message);
    else proc.stderr.write(`imgcache-server: ${message}\n`);
  });

  return {
    attach(running) {
      server = running;
      if (stopRequested) stop(running, stopRequested);
    },
  };
}
