// Reads .dev.vars (KEY=VALUE lines, # comments, optional quotes), the file
// wrangler dev takes local settings from.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export function readDevVars(path = `${ROOT}.dev.vars`) {
  const vars = {};
  if (!existsSync(path)) return vars;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (!match) continue;
    let value = match[2];
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    vars[match[1]] = value;
  }
  return vars;
}

/**
 * The routes `npm run dev` serves, for its start line: .dev.vars's ROUTES;
 * with `ROUTES=` (empty is unset), the single route's path; without the
 * line, wrangler.toml's routes apply.
 */
export function describeRoutes(vars) {
  if (vars.ROUTES) return Object.keys(JSON.parse(vars.ROUTES)).join(', ');
  if (vars.ROUTES === '') return vars.WEBHOOK_PATH || '/';
  return "wrangler.toml's [vars.ROUTES]";
}
