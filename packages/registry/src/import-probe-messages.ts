/** What the import probe child is asked to load (sent over IPC). */
export interface ProbeRequest {
  /** Echoed in the answer, so a line printed by package code cannot pass for the probe's verdict. */
  nonce: string;
  /** Adapter modules to import, every one of them. */
  modules: Array<{ label: string; modulePath: string }>;
  /** Node handlers to resolve after the imports. */
  handlers: Array<{ label: string; modulePath: string; exportName: string | undefined; handlerName: string }>;
}

/** The probe child's verdict. */
export type ProbeAnswer = { nonce: string; ok: true } | { nonce: string; ok: false; message: string };
