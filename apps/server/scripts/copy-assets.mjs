#!/usr/bin/env node
// tsc compiles only TypeScript: the dashboard's HTML, CSS and JS are copied beside the
// compiled module that serves them (src/dashboard/assets -> dist/dashboard/assets).
import { cpSync } from 'node:fs';

cpSync(new URL('../src/dashboard/assets/', import.meta.url), new URL('../dist/dashboard/assets/', import.meta.url), {
  recursive: true,
});
