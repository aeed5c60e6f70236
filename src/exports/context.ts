/**
 * `keel/context`: what the model sees each step inside a token budget — the options of a
 * managed context and what each assembly journals.
 *
 * @packageDocumentation
 */
export {
  CONTEXT_SECTIONS,
  DEFAULT_CONTEXT_WINDOW_TOKENS,
  type ContextAssembly,
  type ContextOptions,
  type ContextSection,
  type ContextSectionName,
} from '../context/index.js';
