// Builds the app into dist/: one bundle (src/ with oidc-client-ts) beside the static files
// of public/. With --serve it also serves dist/ at http://localhost:5173 (SPA_PORT moves it).
// SPA_OUTDIR builds elsewhere (the e2e test builds into a folder of its own). SPA_ISSUER,
// SPA_CLIENT_ID and SPA_API override the values of public/config.json in the build.
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as esbuild from "esbuild";

const serve = process.argv.includes("--serve");
const outdir = process.env.SPA_OUTDIR ? `${process.env.SPA_OUTDIR.replace(/\/$/, "")}/` : new URL("./dist/", import.meta.url).pathname;

rmSync(outdir, { recursive: true, force: true });
cpSync(new URL("./public/", import.meta.url).pathname, outdir, { recursive: true });
const config = JSON.parse(readFileSync(`${outdir}config.json`, "utf8"));
for (const [name, variable] of [["issuer", "SPA_ISSUER"], ["client_id", "SPA_CLIENT_ID"], ["api", "SPA_API"]]) {
  if (process.env[variable]) {
    config[name] = process.env[variable];
  }
}
writeFileSync(`${outdir}config.json`, `${JSON.stringify(config, null, 2)}\n`);

const options = {
  entryPoints: [new URL("./src/main.js", import.meta.url).pathname],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: "es2020",
  outfile: `${outdir}app.js`,
  logLevel: "warning",
};

if (serve) {
  const port = Number(process.env.SPA_PORT || 5173);
  const ctx = await esbuild.context(options);
  await ctx.rebuild();
  await ctx.serve({ servedir: outdir, host: "127.0.0.1", port });
  console.log(`spa: serving http://localhost:${port}/`);
} else {
  await esbuild.build(options);
  console.log(`spa: built ${outdir}`);
}
