import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The bundle is committed (gateway/dashboard/) and checked byte-for-byte by a test, so the
// build must not depend on the machine: no source maps (absolute paths), fixed names.
export default defineConfig({
  base: "/",
  plugins: [react()],
  build: {
    outDir: process.env.DASHBOARD_OUT_DIR ?? "dist",
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: {
        entryFileNames: "assets/app-[hash].js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
