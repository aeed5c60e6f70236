export {
  simulator,
  SIMULATOR_PRICE,
  type ScriptContext,
  type SimulatedTurn,
  type SimulatorOptions,
} from './model/index.js';
export * from './testing/index.js';
