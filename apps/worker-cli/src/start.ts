// Entry of `pnpm --filter worker-cli start`. pnpm runs package scripts inside
// apps/worker-cli and records where it was invoked in INIT_CWD; working from
// there makes ./config/worker.yaml, ./.env and the relative default folders
// mean what the user expects.
import { runProcess } from './run-process.js';

const cwd = process.env.INIT_CWD || process.cwd();
process.chdir(cwd);
await runProcess(cwd);
