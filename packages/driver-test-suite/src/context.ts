import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheLayout, silentLogger, type Driver, type DriverContext, type DriverFactory } from '@imgcache/core';

/** The context core hands a driver opened on `root`. */
export function driverContext(root: string, nodeId = 'compliance-node'): DriverContext {
  const layout = new CacheLayout(root);
  return {
    root: layout.root,
    imagesDir: layout.imagesDir,
    imagePath: (imageId) => layout.imagePath(imageId),
    nodeId,
    logger: silentLogger,
  };
}

/** A scratch cache root with core's directories, and a way to open the driver under test on it any number of times. */
export class DriverHarness {
  private readonly open = new Set<Driver>();

  private constructor(
    readonly root: string,
    private readonly factory: DriverFactory,
  ) {}

  /**
   * Creates the scratch root under `parent` (default: the OS temp dir).
   * @param factory made by the driver's `create<Name>Driver(options)`.
   */
  static async create(factory: DriverFactory, parent?: string): Promise<DriverHarness> {
    const root = await mkdtemp(join(parent ?? tmpdir(), 'imgcache-compliance-'));
    const layout = new CacheLayout(root);
    for (const directory of layout.directories) await mkdir(directory, { recursive: true });
    return new DriverHarness(root, factory);
  }

  get layout(): CacheLayout {
    return new CacheLayout(this.root);
  }

  context(nodeId?: string): DriverContext {
    return driverContext(this.root, nodeId);
  }

  /** Opens a new driver instance on this root; closed by {@link dispose}. */
  async openDriver(): Promise<Driver> {
    const driver = await this.factory(this.context());
    this.open.add(driver);
    return driver;
  }

  async closeDriver(driver: Driver): Promise<void> {
    this.open.delete(driver);
    await driver.close();
  }

  /** Closes every driver still open and removes the root. */
  async dispose(): Promise<void> {
    for (const driver of this.open) await driver.close().catch(() => undefined);
    this.open.clear();
    await rm(this.root, { recursive: true, force: true });
  }
}
