// A real nginx for the deployment specs, run from a config file the test writes: its own
// port on 127.0.0.1, its own prefix and temp directories under a mkdtemp directory, in the
// foreground (`daemon off; master_process off;`), stopped by its pid after the test. Never the
// system service. Without nginx the specs are skipped with the reason printed, except under
// CI=true, where .ci/run must have installed it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { withTimeout } from './harness.js';

const candidates = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'];
export const nginxPath = candidates.find((path) => existsSync(path));

/** Undefined when nginx can run; otherwise the reason to skip (printed). Throws on CI. */
export function nginxMissing(what: string): string | undefined {
  if (nginxPath !== undefined) return undefined;
  const reason = `nginx not found in ${candidates.join(', ')} (apt-get install -y nginx)`;
  if (process.env['CI'] === 'true') throw new Error(`${what} need nginx on CI: ${reason}`);
  console.log(`# skipping ${what}: ${reason}`);
  return reason;
}

/**
 * The `http { … }` body of a config in docs/deployment.md: the ```nginx block whose first line
 * is `# NAME`, with its `listen 80;` moved to `port` on 127.0.0.1 and its upstream
 * (`127.0.0.1:3000`) to the app's port.
 */
export function docsConfig(name: string, { port, appPort }: { port: number; appPort: number }): string {
  const docs = readFileSync(new URL('../../docs/deployment.md', import.meta.url), 'utf8');
  const block = [...docs.matchAll(/```nginx\n([\s\S]*?)```/g)].map((m) => m[1] as string).find((text) => text.startsWith(`# ${name}\n`));
  if (block === undefined) throw new Error(`docs/deployment.md has no \`\`\`nginx block starting "# ${name}"`);
  if (!block.includes('listen 80;') || !block.includes('127.0.0.1:3000')) throw new Error(`the "${name}" config must listen 80 and proxy to 127.0.0.1:3000`);
  return block.replaceAll('listen 80;', `listen 127.0.0.1:${port};`).replaceAll('127.0.0.1:3000', `127.0.0.1:${appPort}`);
}

export interface RunningNginx {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** The error log so far (for a failing test's message). */
  errors(): string;
}

/** Starts nginx with `httpBody` inside `http { }`; it is stopped (by pid) and its directory removed after the test. */
export async function startNginx(t: TestContext, httpBody: string, port: number): Promise<RunningNginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'ec-nginx-'));
  const config = join(prefix, 'nginx.conf');
  const pidFile = join(prefix, 'nginx.pid');
  writeFileSync(config, mainConfig(prefix, httpBody));
  const child = spawn(nginxPath as string, ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  t.after(() => stop(child, prefix));
  await withTimeout(listening(child, prefix, pidFile), 5000, `nginx on port ${port} to start (${stderr})`);
  const errors = () => (existsSync(join(prefix, 'error.log')) ? readFileSync(join(prefix, 'error.log'), 'utf8') : '') + stderr;
  return { origin: `http://127.0.0.1:${port}`, errors };
}

function mainConfig(prefix: string, httpBody: string): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `  ${name}_temp_path ${join(prefix, name)};`).join('\n');
  return `daemon off;
master_process off;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 512; }
http {
  access_log off;
${temp}
${httpBody}
}
`;
}

// nginx writes its pid file once its sockets listen: wait for the file, or for nginx to exit.
async function listening(child: ChildProcess, prefix: string, pidFile: string): Promise<void> {
  const watcher = watch(prefix);
  try {
    const created = new Promise<void>((resolve) => {
      watcher.on('change', () => existsSync(pidFile) && resolve());
      if (existsSync(pidFile)) resolve();
    });
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`nginx exited (${String(code)}) before it listened`);
    });
    await Promise.race([created, exited]);
  } finally {
    watcher.close();
  }
}

async function stop(child: ChildProcess, prefix: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM'); // its own pid: the child we spawned
    await withTimeout(once(child, 'exit'), 5000, 'nginx to exit');
  }
  rmSync(prefix, { recursive: true, force: true });
}
