// The dashboard bundle: built into client/dist by scripts/build-client.ts and served by the facerec server.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  // Everything is bundled: the dashboard must work from a fresh clone on a machine with no internet.
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, target: 'es2022' },
  // JSX is compiled for Preact (see client/tsconfig.json); no framework plugin is needed for that.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  resolve: { alias: { react: 'preact/compat', 'react-dom': 'preact/compat' } },
});
