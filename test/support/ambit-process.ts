// The netns tier's name for demo/mesh-process.ts (AmbitProcess, moved there for `ambit demo`).
export { AmbitProcess, ambitCli, type LogLine } from '../../demo/mesh-process.js';
