import { renderTable, type Column } from './format/table.js';

/** Where a command's results go: human lines or one JSON document on stdout. */
export class Output {
  constructor(
    readonly json: boolean,
    readonly verbose: boolean,
    private readonly stream: NodeJS.WritableStream,
  ) {}

  /** A line of human output; suppressed in JSON mode. */
  line(text = ''): void {
    if (!this.json) this.stream.write(`${text}\n`);
  }

  /** An aligned table of human output; suppressed in JSON mode. */
  table(columns: readonly Column[], rows: readonly (readonly string[])[], indent = ''): void {
    for (const line of renderTable(columns, rows)) this.line(`${indent}${line}`);
  }

  /** `label  value` lines with the values lined up. */
  fields(pairs: readonly (readonly [string, string])[]): void {
    const width = Math.max(...pairs.map(([label]) => label.length));
    for (const [label, value] of pairs) this.line(`${label.padEnd(width)}  ${value}`);
  }

  /** The machine-readable result; printed only in JSON mode. */
  data(value: unknown): void {
    if (this.json) this.stream.write(`${JSON.stringify(value, null, 2)}\n`);
  }
}
