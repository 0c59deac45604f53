// Entry of the import probe child process (see import-probe.ts). It imports
// untrusted package code, so it trusts nothing after the first import: the
// verdict is sent with functions captured before any package code ran.
import { importAdapterModule, loadHandler } from './load-handler.js';
import type { ProbeAnswer, ProbeRequest } from './import-probe-messages.js';

const send = process.send?.bind(process);
const exit = process.exit.bind(process);

function reply(answer: ProbeAnswer): void {
  // Without an IPC channel there is no one to tell; the parent reads the exit code instead.
  if (send === undefined) exit(70);
  else send(answer, undefined, undefined, () => exit(0));
}

process.once('message', (request: ProbeRequest) => {
  void (async () => {
    let step = '';
    try {
      for (const { label, modulePath } of request.modules) {
        step = label;
        await importAdapterModule(modulePath);
      }
      for (const { label, modulePath, exportName, handlerName } of request.handlers) {
        step = label;
        await loadHandler(modulePath, exportName, handlerName);
      }
      reply({ nonce: request.nonce, ok: true });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      reply({ nonce: request.nonce, ok: false, message: `${step}: ${message}` });
    }
  })();
});
