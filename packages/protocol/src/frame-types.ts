/** Every frame `type` of docs/protocol.md §2. */
export const FrameType = {
  HANDSHAKE: 'control.handshake',
  ACK: 'control.ack',
  REGISTER: 'control.register',
  SESSION_ACCEPT: 'control.session.accept',
  RESUME: 'control.resume',
  HEARTBEAT: 'control.heartbeat',
  RESET: 'control.reset',
  DRAIN: 'control.drain',
  EXEC_DISPATCH: 'biz.exec.dispatch',
  EXEC_RESULT: 'biz.exec.result',
  EXEC_ERROR: 'biz.exec.error',
  EXEC_FEEDBACK: 'biz.exec.feedback',
  EXEC_NEXT_REQUEST: 'biz.exec.next.request',
  EXEC_NEXT_RESPONSE: 'biz.exec.next.response',
  PKG_INSTALL: 'biz.pkg.install',
  PKG_UNINSTALL: 'biz.pkg.uninstall',
  PKG_EVENT: 'biz.pkg.event',
  PKG_CATALOG: 'biz.pkg.catalog',
} as const;

/** Any value of {@link FrameType}. */
export type KnownFrameType = (typeof FrameType)[keyof typeof FrameType];

/** Session-layer frames: never numbered with `session_seq`, never acked by window. */
export function isControlType(type: string): boolean {
  return type.startsWith('control.');
}

/** Third-party frames (`ext.<vendor>.*`): routed by type, payload never parsed by the session layer. */
export function isExtType(type: string): boolean {
  return /^ext\.[^.]+\..+/.test(type);
}
