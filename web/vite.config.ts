import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * The clinician web page: built into web/dist (`npm run build:web`), served by IDR at /app/.
 * Everything is bundled (no CDN): the page works without internet under IDR's script-src 'self'.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/app/',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No inline polyfill script: the policy allows scripts from 'self' only.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
  },
});
