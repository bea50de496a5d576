import { DmError } from '../contract/errors';

/** Parsed command line: positional words, flags (boolean or string, repeatable). */
export interface Parsed { words: string[]; flags: Map<string, string[]> }

/** Option spec: names that take a value; everything else starting with - is boolean. */
export function parseArgs(argv: string[], valued: string[]): Parsed {
  const words: string[] = [];
  const flags = new Map<string, string[]>();
  const add = (k: string, v: string) => flags.set(k, [...(flags.get(k) ?? []), v]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { words.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const k = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (valued.includes(k)) {
        const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new DmError('INVALID_ARGUMENT', `Option --${k} needs a value.`);
        add(k, v);
      } else add(k, 'true');
    } else if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      // Short options: -m MSG, -mMSG, -fH (combined booleans).
      for (let j = 1; j < a.length; j++) {
        const k = a[j];
        if (valued.includes(k)) {
          const rest = a.slice(j + 1);
          const v = rest !== '' ? rest : argv[++i];
          if (v === undefined) throw new DmError('INVALID_ARGUMENT', `Option -${k} needs a value.`);
          add(k, v);
          break;
        }
        add(k, 'true');
      }
    } else words.push(a);
  }
  return { words, flags };
}

/** True when any of the given flag names was set. */
export function has(p: Parsed, ...names: string[]): boolean { return names.some((n) => p.flags.has(n)); }
/** Last value of a flag. */
export function val(p: Parsed, ...names: string[]): string | undefined { for (const n of names) { const v = p.flags.get(n); if (v) return v.at(-1); } return undefined; }
/** All values of a flag. */
export function vals(p: Parsed, ...names: string[]): string[] { return names.flatMap((n) => p.flags.get(n) ?? []); }
