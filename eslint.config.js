// ESLint flat config. Type-aware rules (typescript-eslint `strictTypeChecked`) for the
// TypeScript sources; Prettier owns formatting, so no formatting rule is turned on here.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const typeScriptFiles = [
  'src/**/*.ts',
  'src/**/*.tsx',
  'bench/**/*.ts',
  'examples/**/*.ts',
  'test/**/*.ts',
  'scripts/**/*.ts',
];
const testFiles = ['**/*.test.ts', '**/*.test-d.ts', '**/__tests__/**/*.ts'];

// Every `@typescript-eslint/no-unsafe-*` rule, so tests can poke at `any` (parsed JSON,
// mock internals) without a cast on every line.
const noUnsafeRulesOff = Object.fromEntries(
  Object.keys(tseslint.plugin.rules ?? {})
    .filter((name) => name.startsWith('no-unsafe-'))
    .map((name) => [`@typescript-eslint/${name}`, 'off']),
);

export default defineConfig(
  globalIgnores(
    ['dist/', 'node_modules/', 'coverage/', '.keel/', '**/*.config.{js,mjs,cjs}'],
    'keel/ignores',
  ),

  {
    name: 'keel/typescript',
    files: typeScriptFiles,
    extends: [js.configs.recommended, tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // The async rules are the reason for choosing type-aware linting (STYLE.md, Tooling):
      // a dropped promise is a lost tool result. Keep them errors even if a preset changes.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      // Not part of strictTypeChecked; closed unions are how Keel models outcomes.
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { allowDefaultCaseForExhaustiveSwitch: true, requireDefaultForNonUnion: false },
      ],

      // Numbers and booleans read fine in messages; everything else (objects, nullish,
      // `any`) still needs an explicit String()/JSON.stringify().
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowAny: false,
          allowBoolean: true,
          allowNever: false,
          allowNullish: false,
          allowNumber: true,
          allowRegExp: false,
        },
      ],
      // With exactOptionalPropertyTypes and noUncheckedIndexedAccess this mostly reports
      // defensive checks at trust boundaries (parsed JSON, rows from the store).
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],

      // Formatting belongs to Prettier. Neither preset enables layout rules; this is the one
      // core rule in `js.configs.recommended` that can disagree with Prettier's output.
      'no-unexpected-multiline': 'off',
    },
  },

  {
    // A Node timer asked for more than 2^31 - 1 ms fires after 1 ms: a delay Keel was given or
    // computed reaches a timer through `timerDelay` (src/core/timer-delay.ts), which caps it.
    // A literal, or a constant named in capitals, is a delay Keel chose.
    name: 'keel/timer-delays',
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    ignores: testFiles,
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "CallExpression[callee.name=/^set(Timeout|Interval)$/][arguments.length>1]:not([arguments.1.type='Literal']):not([arguments.1.callee.name='timerDelay']):not([arguments.1.name=/^[A-Z][A-Z0-9_]*$/])",
          message:
            'Pass the delay through timerDelay() (src/core): a Node timer fires after 1 ms when asked for more than 2^31 - 1 ms.',
        },
        {
          // `globalThis.setTimeout(f, ms)`, `timers.setInterval(f, ms)`.
          selector:
            "CallExpression[callee.property.name=/^set(Timeout|Interval)$/][arguments.length>1]:not([arguments.1.type='Literal']):not([arguments.1.callee.name='timerDelay']):not([arguments.1.name=/^[A-Z][A-Z0-9_]*$/])",
          message:
            'Pass the delay through timerDelay() (src/core): a Node timer fires after 1 ms when asked for more than 2^31 - 1 ms.',
        },
        {
          selector:
            "CallExpression[callee.object.name='AbortSignal'][callee.property.name='timeout']:not([arguments.0.type='Literal']):not([arguments.0.callee.name='timerDelay']):not([arguments.0.name=/^[A-Z][A-Z0-9_]*$/])",
          message:
            'Pass the delay through timerDelay() (src/core): AbortSignal.timeout fires after 1 ms when asked for more than 2^31 - 1 ms.',
        },
      ],
      // Its timers take the delay first, where the rule above does not look: use sleep() (src/core).
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'node:timers/promises',
              message: 'Use sleep() from src/core: it caps the delay.',
            },
            { name: 'timers/promises', message: 'Use sleep() from src/core: it caps the delay.' },
          ],
        },
      ],
    },
  },

  {
    name: 'keel/tests',
    files: testFiles,
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      ...noUnsafeRulesOff,
      // `expect(store.append).toHaveBeenCalled()` and vi.fn() mocks trip this constantly.
      '@typescript-eslint/unbound-method': 'off',
    },
  },

  {
    // Plain Node scripts and the bin shim: syntax and obvious mistakes, no type information.
    name: 'keel/javascript',
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: {
      sourceType: 'module',
      globals: {
        console: 'readonly',
        process: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-unexpected-multiline': 'off',
    },
  },

  {
    // The dashboard's one browser script (type-checked by tsconfig.client.json).
    name: 'keel/browser',
    files: ['src/server/assets/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { document: 'readonly', EventSource: 'readonly', MessageEvent: 'readonly' },
    },
  },
);
