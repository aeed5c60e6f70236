export {
  simulator,
  SIMULATOR_PRICE,
  type ScriptContext,
  type SimulatedTurn,
  type SimulatorOptions,
} from './model/index.js';
