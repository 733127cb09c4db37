import type { ChecksumAlgorithm } from './checksum.js';
import { FillUnavailableError } from './errors.js';
import type { Fill, ImageSource } from './fill.js';

/** An origin download that a fill may cache, as a `start` callback returns it. */
export interface FillSource {
  /** The bytes. */
  body: ImageSource;
  /** Bytes the body must deliver (Content-Length or image metadata); a different count fails the fill. */
  size?: number | undefined;
  /**
   * Checksum the body must match: a bare md5 (Glance's `checksum`) or `algorithm:hex`; or
   * several (an origin's md5 beside its sha512), every one of which must match.
   */
  checksum?: string | readonly string[] | null | undefined;
  /**
   * Algorithm of the digest recorded for the image, instead of the cache's own: the
   * algorithm of a checksum announced to clients at the start (as an ETag, or Glance's md5
   * as Content-MD5), so that hits can announce the same. Computed in the same pass.
   */
  recordAlgorithm?: ChecksumAlgorithm | undefined;
  /** Anything the caller wants to find again on {@link Fill.info} (origin headers, say). */
  info?: unknown;
  /** Aborting it stops the fill; readers then get FillAbortedError. */
  signal?: AbortSignal | undefined;
  /** Called once when the fill ends either way, or at once when the source is not cached. */
  onSettled?: (() => void) | undefined;
}

/** What a `start` callback decides: cache this source, or decline with a value of the caller's. */
export type FillStartResult<D> = { source: FillSource } | { decline: D };

/**
 * What {@link FillRegistry.begin} found or did, for one caller:
 * - `cached`: the image is committed; serve it as a hit.
 * - `joined`: a fill runs (`leader`: this caller's own `start` began it); read it with `fill.read()`.
 * - `declined`: this caller's `start` declined; its value is returned as it is.
 * - `pass`: this caller's `start` gave a source that cannot be cached (`claimed`: another
 *   writer, here or in another process, holds the image; `unavailable`: the cache could
 *   not create its file, see `error`).
 *   Stream `source.body` uncached.
 * - `busy`: asked not to join, and a fill of the image runs here.
 */
export type FillOutcome<D> =
  | { kind: 'cached' }
  | { kind: 'joined'; fill: Fill; leader: boolean }
  | { kind: 'declined'; value: D }
  | { kind: 'pass'; source: FillSource; reason: 'claimed' | 'unavailable'; error?: unknown }
  | { kind: 'busy' };

interface Slot {
  /** Resolves once the leader's `start` has settled. */
  started: Promise<void>;
  fill?: Fill;
  cancelled: boolean;
}

/** How the registry reaches the cache it serves. */
export interface FillHost {
  isCached(imageId: string): Promise<boolean>;
  /** Claims the image and creates its fill; null when another writer holds it. */
  createFill(imageId: string, source: FillSource): Promise<Fill | null>;
}

/**
 * Single-flight for one process: at most one fill per image, and one `start` at a time.
 * Callers that arrive while a leader is starting wait for it, then join its fill; if the
 * leader declined, the next caller runs its own `start` (with its own credentials).
 * Across processes, the fill's claim on disk makes a second writer back off.
 */
export class FillRegistry {
  private readonly slots = new Map<string, Slot>();

  constructor(private readonly host: FillHost) {}

  /** The joinable fill of an image in this process, if any. */
  get(imageId: string): Fill | undefined {
    const fill = this.slots.get(imageId)?.fill;
    return fill?.joinable ? fill : undefined;
  }

  /**
   * Streams the fill of an image from its first byte once its leader has started it.
   * Null when no fill of the image starts or runs here.
   */
  follow(imageId: string, options: { signal?: AbortSignal }): AsyncIterable<Uint8Array> | null {
    const slot = this.slots.get(imageId);
    if (!slot) return null;
    return (async function* () {
      await slot.started;
      if (!slot.fill) throw new FillUnavailableError(imageId);
      yield* slot.fill.read(options);
    })();
  }

  /** True while a fill of the image starts or runs in this process. */
  has(imageId: string): boolean {
    return this.slots.has(imageId);
  }

  /** Resolves once no fill starts or runs in this process (new ones started meanwhile included). */
  async idle(): Promise<void> {
    for (let slots = [...this.slots.values()]; slots.length > 0; slots = [...this.slots.values()]) {
      await Promise.all(
        slots.map(async (slot) => {
          await slot.started;
          await slot.fill?.done.catch(() => null);
        }),
      );
    }
  }

  /** Every fill running in this process. */
  get fills(): Fill[] {
    return [...this.slots.values()].flatMap((slot) => (slot.fill ? [slot.fill] : []));
  }

  /**
   * Joins the fill of an image, or runs `start` and begins one with the source it returns.
   * `start` runs only when no fill of the image runs here and the image is not cached.
   * @param options.join false: do not wait for or join another caller's fill (`busy` instead).
   * @throws what `start` throws, or the filesystem's error when the fill cannot begin.
   */
  async begin<D>(
    imageId: string,
    start: () => Promise<FillStartResult<D>>,
    options: { join?: boolean } = {},
  ): Promise<FillOutcome<D>> {
    for (let slot = this.slots.get(imageId); slot; slot = this.slots.get(imageId)) {
      if (options.join === false) return { kind: 'busy' };
      const waited = !slot.fill;
      await slot.started;
      const { fill } = slot;
      // A caller that waited for this fill to start is one of its clients even if the image
      // was deleted meanwhile: it gets the bytes, which are not cached.
      if (fill && (fill.joinable || (waited && slot.cancelled && fill.readable)))
        return { kind: 'joined', fill, leader: false };
      if (fill) break;
    }
    let settle!: () => void;
    const slot: Slot = { started: new Promise((resolve) => (settle = resolve)), cancelled: false };
    this.slots.set(imageId, slot);
    try {
      if (await this.host.isCached(imageId)) return { kind: 'cached' };
      const started = await start();
      if ('decline' in started) return { kind: 'declined', value: started.decline };
      return await this.run(imageId, slot, started.source);
    } finally {
      if (!slot.fill && this.slots.get(imageId) === slot) this.slots.delete(imageId);
      settle();
    }
  }

  /**
   * The image was deleted: a running fill keeps streaming to its readers (and to the
   * callers already waiting for it to start) but caches nothing. Resolves once nothing of
   * this fill can still be committed.
   */
  async cancel(imageId: string): Promise<void> {
    const slot = this.slots.get(imageId);
    if (!slot) return;
    slot.cancelled = true;
    this.slots.delete(imageId);
    await slot.fill?.cancel();
  }

  /** {@link cancel} for every image. */
  async cancelAll(): Promise<void> {
    await Promise.all([...this.slots.keys()].map((imageId) => this.cancel(imageId)));
  }

  /** Stops every fill now (readers get `error`) and waits for commits under way. */
  async abortAll(error?: unknown): Promise<void> {
    const slots = [...this.slots.values()];
    this.slots.clear();
    for (const slot of slots) slot.cancelled = true;
    await Promise.all(slots.map((slot) => slot.fill?.abort(error)));
  }

  private async run<D>(imageId: string, slot: Slot, source: FillSource): Promise<FillOutcome<D>> {
    let fill: Fill | null;
    try {
      fill = await this.host.createFill(imageId, source);
    } catch (error) {
      return this.pass(source, 'unavailable', error);
    }
    if (!fill) return this.pass(source, 'claimed');
    slot.fill = fill;
    if (slot.cancelled) void fill.cancel();
    const finished = () => {
      source.onSettled?.();
      if (this.slots.get(imageId) === slot) this.slots.delete(imageId);
    };
    fill.done.then(finished, finished);
    void fill.run(source.body, source.signal);
    return { kind: 'joined', fill, leader: true };
  }

  private pass<D>(source: FillSource, reason: 'claimed' | 'unavailable', error?: unknown): FillOutcome<D> {
    source.onSettled?.();
    return error === undefined ? { kind: 'pass', source, reason } : { kind: 'pass', source, reason, error };
  }
}
