// npm runs `prepare` after a plain `npm install` in this repository and when the package is
// installed from git, where there is no dist/ yet: build then. A pack or publish builds
// anyway, through `prepack`, so a dist/ that already exists is left as it is here.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync('dist/cjs/index.js')) {
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { stdio: 'inherit' });
}
