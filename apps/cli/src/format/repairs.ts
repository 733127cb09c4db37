import type { QuarantinedFile, Repair } from '@imgcache/core';
import type { Output } from '../output.js';
import { formatSize } from './format-size.js';

/** Repairs that lost an image (moved aside or dropped), as opposed to an adoption. */
export function lostImages(repairs: readonly Repair[]): Repair[] {
  return repairs.filter((repair) => repair.action !== 'adopted');
}

/** Prints what the startup reconcile of this run repaired: one row per image, with the cause. */
export function printRepairsAtOpen(out: Output, repairs: readonly Repair[]): void {
  if (repairs.length === 0) return;
  out.line(`Opening the cache repaired ${repairs.length} file${repairs.length === 1 ? '' : 's'}:`);
  out.table(
    [{ header: 'ID' }, { header: 'ACTION' }, { header: 'PROBLEM' }, { header: 'MOVED TO' }],
    repairs.map((repair) => [repair.imageId, repair.action, repair.reason, repair.movedTo ?? '-']),
    '  ',
  );
}

/** Prints the files waiting in `invalid/`, with the image and the cause their names record. */
export function printQuarantined(out: Output, files: readonly QuarantinedFile[], heading: string): void {
  if (files.length === 0) return;
  out.line(heading);
  out.table(
    [{ header: 'ID' }, { header: 'CAUSE' }, { header: 'SIZE', align: 'right' }, { header: 'FILE' }],
    files.map((file) => [file.imageId, file.cause, formatSize(file.size), `invalid/${file.name}`]),
    '  ',
  );
}
