import { defineConfig } from 'vite';

// The renderer is a static bundle loaded from file:// by Electron and over http by the web
// bridge, so every asset URL is relative (base './'). JSX uses the automatic runtime of
// Vite's built-in transform (no React plugin needed: there is no dev server in the product).
export default defineConfig({
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1024 },
  oxc: { jsx: { runtime: 'automatic' } },
});
