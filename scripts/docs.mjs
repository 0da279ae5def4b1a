// `npm run docs`: builds the API reference into docs/api/ (gitignored: built, never committed)
// with TypeDoc from the public entries, and fails when a public export has no doc comment,
// a {@link} is broken or a public type refers to one that is not exported (typedoc.json:
// validation, treatWarningsAsErrors). Then checks every relative link of the hand-written
// guides (README.md, docs/*.md): the file it names must exist, in docs/api/ too, and a
// #fragment into a guide must name one of its headings.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Runs TypeDoc with typedoc.json and `extra` arguments; throws (its output shown) on a warning. */
export function buildReference(extra = []) {
  execFileSync(process.execPath, ['node_modules/typedoc/bin/typedoc', '--logLevel', 'Warn', ...extra], { stdio: 'inherit' });
}

/** The relative links of `guides` (Markdown files) that lead nowhere, as `file: target (why)`. */
export function brokenLinks(guides) {
  const broken = [];
  for (const guide of guides) {
    for (const target of relativeLinks(readFileSync(guide, 'utf8'))) {
      const [path, fragment] = target.split('#');
      const file = path === '' ? guide : resolve(dirname(guide), path);
      if (!existsSync(file)) broken.push(`${guide}: ${target} (no such file)`);
      else if (fragment !== undefined && file.endsWith('.md') && !anchors(file).has(fragment)) broken.push(`${guide}: ${target} (no such heading)`);
    }
  }
  return broken;
}

function relativeLinks(markdown) {
  const prose = markdown.replace(/```[\s\S]*?```/g, ''); // links inside code blocks are code
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map(([, target]) => target).filter((target) => !/^[a-z]+:/i.test(target));
}

// GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
function anchors(file) {
  const headings = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '').matchAll(/^#+ (.+)$/gm);
  return new Set([...headings].map(([, title]) => title.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildReference();
  const guides = ['README.md', ...readdirSync('docs').filter((name) => name.endsWith('.md')).map((name) => join('docs', name))];
  const broken = brokenLinks(guides);
  if (broken.length > 0) {
    console.error(`Broken links in the guides:\n  ${broken.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`API reference built in docs/api/; the relative links of ${guides.length} guides resolve.`);
}
