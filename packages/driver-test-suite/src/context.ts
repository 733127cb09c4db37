import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheLayout, silentLogger, type Driver, type DriverContext, type DriverFactory } from '@imgcache/core';

/** A scratch cache root and a way to open the driver under test on it, any number of times. */
export class DriverHarness {
  private readonly open = new Set<Driver>();

  private constructor(
    readonly root: string,
    private readonly factory: DriverFactory,
    private readonly options: Record<string, unknown>,
  ) {}

  static async create(factory: DriverFactory, options: Record<string, unknown>, parent?: string): Promise<DriverHarness> {
    const root = await mkdtemp(join(parent ?? tmpdir(), 'imgcache-compliance-'));
    const layout = new CacheLayout(root);
    for (const directory of layout.directories) await mkdir(directory, { recursive: true });
    return new DriverHarness(root, factory, options);
  }

  get layout(): CacheLayout {
    return new CacheLayout(this.root);
  }

  context(nodeId = 'compliance-node'): DriverContext {
    const layout = this.layout;
    return {
      root: layout.root,
      imagesDir: layout.imagesDir,
      imagePath: (imageId) => layout.imagePath(imageId),
      nodeId,
      logger: silentLogger,
      options: this.options,
    };
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

  async dispose(): Promise<void> {
    for (const driver of this.open) await driver.close().catch(() => undefined);
    this.open.clear();
    await rm(this.root, { recursive: true, force: true });
  }
}
