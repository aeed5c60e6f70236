export { DEFAULT_MODEL_RETRY, modelRetryDelay, type ModelRetryOptions } from '../model/index.js';
