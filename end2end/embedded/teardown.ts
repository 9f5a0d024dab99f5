import * as fs from 'node:fs';
import * as path from 'node:path';

// Removes the temp directory playwright.embedded.config.ts ran the binary in.
export default async function globalTeardown(): Promise<void> {
  const dir = process.env.LULL_E2E_EMBEDDED_DIR;
  if (dir && path.basename(dir).startsWith('lull-e2e-embedded-')) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
