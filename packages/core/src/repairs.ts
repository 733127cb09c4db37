import type { Logger } from './logger.js';
import type { QuarantineCause } from './names.js';

/** One change a maintenance pass made to bring disk and metadata into agreement. */
export interface Repair {
  /** `quarantined`: the file was moved to `invalid/` (and its entry dropped); `adopted`: an unrecorded file was recorded; `dropped`: an entry without a file was removed. */
  action: 'quarantined' | 'adopted' | 'dropped';
  /**
   * The image id. For a leftover work file of an id too long to fit a file name whole, the
   * shortened form in its name (`<prefix>#<hash>`); for a foreign file, its name.
   */
  imageId: string;
  /** The cause in one word: a quarantine cause (names.ts), `missing` (file gone) or `unrecorded` (file without metadata). */
  cause: QuarantineCause | 'missing' | 'unrecorded';
  /** The cause in words, with the figures that show it (e.g. the two sizes). */
  reason: string;
  /** For `quarantined`: where the file went, relative to the cache root; null when it could only be deleted. */
  movedTo?: string | null;
}

/** Repairs logged one by one; past this, one summary line says how many more there were. */
const LOGGED_ONE_BY_ONE = 50;

/** Collects a pass's repairs and logs each as a warning that names the image and the cause. */
export class RepairLog {
  readonly repairs: Repair[] = [];

  /** @param pass who repairs, for the log lines (e.g. `startup reconcile`). */
  constructor(
    private readonly logger: Logger,
    private readonly pass: string,
  ) {}

  record(repair: Repair): void {
    this.repairs.push(repair);
    if (this.repairs.length <= LOGGED_ONE_BY_ONE)
      this.logger.warn({ ...repair }, `${this.pass}: ${describeRepair(repair)}`);
  }

  /** Logs how many repairs were not logged one by one, if any. */
  summarise(): void {
    const unlogged = this.repairs.length - LOGGED_ONE_BY_ONE;
    if (unlogged > 0)
      this.logger.warn(
        { repairs: this.repairs.length },
        `${this.pass}: ${unlogged} more repairs not logged one by one (see its report)`,
      );
  }
}

/** One line naming the image, what was done and why: `quarantined image img-1 (file is 100 bytes, …): moved to invalid/…`. */
export function describeRepair(repair: Repair): string {
  const what = `${repair.action} ${repair.cause === 'foreign' ? 'file' : 'image'} ${repair.imageId} (${repair.reason})`;
  if (repair.action !== 'quarantined') return what;
  return repair.movedTo ? `${what}: moved to ${repair.movedTo}` : `${what}: deleted`;
}
