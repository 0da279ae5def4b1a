// The rules live in .eslintrc.json (the design card asks for it); FlatCompat loads them into ESLint's flat config.
import { FlatCompat } from '@eslint/eslintrc';
import js from '@eslint/js';

const compat = new FlatCompat({ baseDirectory: import.meta.dirname, recommendedConfig: js.configs.recommended });

export default [{ ignores: ['dist/', 'node_modules/', 'coverage/', 'demo/public/vendor/', 'docs/api/'] }, ...compat.config((await import('./.eslintrc.json', { with: { type: 'json' } })).default)];
