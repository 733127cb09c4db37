/** A table column: its header and which side its cells line up on. */
export interface Column {
  header: string;
  align?: 'left' | 'right';
}

/**
 * Renders rows as an aligned plain-text table: a header line, then one line per row,
 * columns separated by two spaces, no trailing spaces.
 * @throws {RangeError} when a row has a different number of cells than there are columns.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string[] {
  for (const row of rows) {
    if (row.length !== columns.length) throw new RangeError(`row has ${row.length} cells, expected ${columns.length}`);
  }
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...rows.map((row) => row[index]!.length)),
  );
  const render = (cells: readonly string[]): string =>
    cells
      .map((cell, index) =>
        columns[index]!.align === 'right' ? cell.padStart(widths[index]!) : cell.padEnd(widths[index]!),
      )
      .join('  ')
      .trimEnd();
  return [render(columns.map((column) => column.header)), ...rows.map(render)];
}
