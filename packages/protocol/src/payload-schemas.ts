import type { z } from 'zod';
import { FrameType, type KnownFrameType } from './frame-types.js';
import {
  ExecDispatchPayloadSchema,
  ExecErrorPayloadSchema,
  ExecFeedbackPayloadSchema,
  ExecNextRequestPayloadSchema,
  ExecNextResponsePayloadSchema,
  ExecResultPayloadSchema,
  PkgEventPayloadSchema,
  PkgInstallPayloadSchema,
  PkgUninstallPayloadSchema,
} from './schemas/biz-payloads.js';
import type { Envelope } from './schemas/envelope.js';
import { PkgCatalogPayloadSchema } from './schemas/pkg-catalog.js';
import {
  AckPayloadSchema,
  DrainPayloadSchema,
  HandshakePayloadSchema,
  HeartbeatPayloadSchema,
  RegisterPayloadSchema,
  ResetPayloadSchema,
  ResumePayloadSchema,
  SessionAcceptPayloadSchema,
} from './schemas/session-payloads.js';

/** Frame `type` → the zod schema of its payload. */
export const payloadSchemas = {
  [FrameType.HANDSHAKE]: HandshakePayloadSchema,
  [FrameType.ACK]: AckPayloadSchema,
  [FrameType.REGISTER]: RegisterPayloadSchema,
  [FrameType.SESSION_ACCEPT]: SessionAcceptPayloadSchema,
  [FrameType.RESUME]: ResumePayloadSchema,
  [FrameType.HEARTBEAT]: HeartbeatPayloadSchema,
  [FrameType.RESET]: ResetPayloadSchema,
  [FrameType.DRAIN]: DrainPayloadSchema,
  [FrameType.EXEC_DISPATCH]: ExecDispatchPayloadSchema,
  [FrameType.EXEC_RESULT]: ExecResultPayloadSchema,
  [FrameType.EXEC_ERROR]: ExecErrorPayloadSchema,
  [FrameType.EXEC_FEEDBACK]: ExecFeedbackPayloadSchema,
  [FrameType.EXEC_NEXT_REQUEST]: ExecNextRequestPayloadSchema,
  [FrameType.EXEC_NEXT_RESPONSE]: ExecNextResponsePayloadSchema,
  [FrameType.PKG_INSTALL]: PkgInstallPayloadSchema,
  [FrameType.PKG_UNINSTALL]: PkgUninstallPayloadSchema,
  [FrameType.PKG_EVENT]: PkgEventPayloadSchema,
  [FrameType.PKG_CATALOG]: PkgCatalogPayloadSchema,
} as const satisfies Record<KnownFrameType, z.ZodType>;

/** Payload type of each known frame type. */
export type PayloadMap = { [K in KnownFrameType]: z.infer<(typeof payloadSchemas)[K]> };

/** Payload of frame type `T`; a plain object for types this package does not know (e.g. `ext.*`). */
export type PayloadOf<T extends string> = T extends KnownFrameType ? PayloadMap[T] : Record<string, unknown>;

/** A validated frame: the envelope with a typed payload. */
export type Frame<T extends string = string> = Omit<Envelope, 'type' | 'payload'> & {
  type: T;
  payload: PayloadOf<T>;
};

/** True when `type` has a payload schema in {@link payloadSchemas}. */
export function isKnownFrameType(type: string): type is KnownFrameType {
  return Object.hasOwn(payloadSchemas, type);
}

/** Narrows a parsed frame to one type. */
export function isFrameOfType<T extends KnownFrameType>(frame: Frame, type: T): frame is Frame<T> {
  return frame.type === type;
}
