import { stdTimeFunctions, type DestinationStream, type LoggerOptions as PinoOptions } from 'pino';
import pinoPretty from 'pino-pretty';
import { DEFAULTS, type ServerConfig } from './config.js';

/** Pino options as the server passes them to fastify, with the stream lines go to. */
export type LoggerOptions = Pick<PinoOptions, 'level' | 'timestamp'> & { level: string; stream?: DestinationStream };

/**
 * The server's logger settings: pino at `config.logLevel`, with ISO 8601 UTC timestamps
 * (`"time":"2026-11-30T11:45:10.123Z"`). `json` (the default) writes one JSON object per
 * line to stdout; `pretty` writes one readable line per entry through pino-pretty, written
 * synchronously so nothing is lost at exit (it is meant for people watching a terminal, not
 * for log shippers).
 */
export function loggerOptions(config: Pick<ServerConfig, 'logLevel' | 'logFormat'>): LoggerOptions {
  const options: LoggerOptions = { level: config.logLevel, timestamp: stdTimeFunctions.isoTime };
  if ((config.logFormat ?? DEFAULTS.logFormat) === 'pretty') {
    options.stream = pinoPretty({
      colorize: false,
      sync: true,
      singleLine: true,
      translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'",
      ignore: 'pid,hostname',
    });
  }
  return options;
}
