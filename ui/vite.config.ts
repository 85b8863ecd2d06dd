import { defineConfig } from "vitest/config";

// The app window loads only what is bundled here (no remote content): relative paths, no dev server in
// production, one small bundle.
export default defineConfig({
  base: "./",
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, sourcemap: false },
  test: { environment: "happy-dom", include: ["src/**/*.test.ts", "src/**/*.test.tsx"] },
});
