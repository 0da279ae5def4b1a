// `npm start`: the demo dashboard on http://localhost:3000 (PORT and HOST change it), with the
// embedded in-memory defaults: no Redis, nothing to set up.
import { createDemo } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const demo = createDemo();
await demo.listen(port, host);
console.log(`express-channel demo: http://${host === '127.0.0.1' ? 'localhost' : host}:${port}  (Ctrl+C stops it)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void demo.close().then(() => process.exit(0));
  });
}
