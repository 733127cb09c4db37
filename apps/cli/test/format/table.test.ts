import { describe, expect, it } from 'vitest';
import { renderTable } from '../../src/format/table.js';

describe('renderTable', () => {
  it('aligns columns left or right and trims trailing spaces', () => {
    const lines = renderTable(
      [{ header: 'ID' }, { header: 'SIZE', align: 'right' }, { header: 'NOTE' }],
      [
        ['a', '1 B', 'x'],
        ['longer-id', '10 GiB', ''],
      ],
    );
    expect(lines).toEqual(['ID           SIZE  NOTE', 'a             1 B  x', 'longer-id  10 GiB']);
  });

  it('prints only the header for no rows', () => {
    expect(renderTable([{ header: 'ID' }], [])).toEqual(['ID']);
  });

  it('refuses a row with the wrong number of cells', () => {
    expect(() => renderTable([{ header: 'A' }, { header: 'B' }], [['only one']])).toThrow(RangeError);
  });
});
