// Builds the console into ../static (committed, served under /ui by serve/console/routes.py).
// build.json records a digest of every source file; tests/unit/test_console_build.py checks
// that the committed build matches the sources.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { defineConfig, type Plugin } from "vite";

const SOURCES = ["index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "src"];

function files(path: string): string[] {
  if (statSync(path).isDirectory()) {
    return readdirSync(path).sort().flatMap((name) => files(join(path, name)));
  }
  return [path];
}

export function sourceDigest(root: string): string {
  const hash = createHash("sha256");
  for (const file of SOURCES.flatMap((s) => files(join(root, s)))) {
    hash.update(relative(root, file).split("\\").join("/") + "\0");
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex");
}

function stamp(): Plugin {
  return {
    name: "runtime-hub-build-stamp",
    writeBundle(options) {
      const digest = sourceDigest(__dirname);
      writeFileSync(join(options.dir!, "build.json"), JSON.stringify({ sources_sha256: digest }) + "\n");
    },
  };
}

export default defineConfig({
  base: "/ui/",
  plugins: [stamp()],
  build: {
    outDir: "../static",
    emptyOutDir: process.env.CONSOLE_KEEP_OLD !== "1",
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
  },
});
