/**
 * The AstraFlow worker wire contract: frame types, payload schemas, error
 * codes, sliding-window primitives and the pluggable-part interfaces.
 *
 * @example
 * ```ts
 * import { buildFrame, parseFrame, FrameType } from '@astraflow/protocol';
 *
 * const frame = buildFrame(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 0 } }, {
 *   sender: { role: 'worker', id: 'w-1' },
 *   tenant: 'default',
 * });
 * const parsed = parseFrame(JSON.stringify(frame));
 * if (parsed.ok) console.log(parsed.frame.type); // control.heartbeat
 * else console.error(parsed.error.message);
 * ```
 *
 * @packageDocumentation
 */
export { AstraError, type AstraErrorOptions } from './astra-error.js';
export { errorMessage } from './error-message.js';
export {
  ErrorCode,
  LocalErrorCode,
  ProtocolErrorCode,
  RefusalReason,
  isAuthErrorCode,
  type ErrorCodeValue,
  type RefusalReasonValue,
} from './error-codes.js';
export { FrameType, isControlType, isExtType, type KnownFrameType } from './frame-types.js';
export { buildFrame, type BuildFrameOptions } from './build-frame.js';
export { envelopeIsValid, payloadIsValid } from './fast-checks.js';
export {
  parseFrame,
  type FrameError,
  type FrameIssue,
  type ParseFrameOptions,
  type ParseFrameResult,
} from './parse-frame.js';
export {
  isFrameOfType,
  isKnownFrameType,
  payloadSchemas,
  type Frame,
  type PayloadMap,
  type PayloadOf,
} from './payload-schemas.js';
export { EnvelopeSchema, SenderSchema, type Envelope, type Sender } from './schemas/envelope.js';
export {
  AckPayloadSchema,
  DrainPayloadSchema,
  HandshakePayloadSchema,
  HeartbeatPayloadSchema,
  ManifestEntrySchema,
  PackageStatusSchema,
  RegisterPayloadSchema,
  ResetPayloadSchema,
  ResumePayloadSchema,
  SessionAcceptPayloadSchema,
  type AckPayload,
  type DrainPayload,
  type HandshakePayload,
  type HeartbeatPayload,
  type ManifestEntry,
  type PackageStatus,
  type RegisterPayload,
  type ResetPayload,
  type ResumePayload,
  type SessionAcceptPayload,
} from './schemas/session-payloads.js';
export {
  ArtifactSchema,
  ExecDispatchPayloadSchema,
  ExecErrorPayloadSchema,
  ExecFeedbackPayloadSchema,
  ExecNextRequestPayloadSchema,
  ExecNextResponsePayloadSchema,
  ExecResultPayloadSchema,
  FeedbackChunkSchema,
  PkgEventPayloadSchema,
  PkgEventStatusSchema,
  PkgInstallPayloadSchema,
  PkgUninstallPayloadSchema,
  ResourceRefSchema,
  TaskStatusSchema,
  type Artifact,
  type ExecDispatchPayload,
  type ExecErrorPayload,
  type ExecFeedbackPayload,
  type ExecNextRequestPayload,
  type ExecNextResponsePayload,
  type ExecResultPayload,
  type FeedbackChunk,
  type PkgEventPayload,
  type PkgEventStatus,
  type PkgInstallPayload,
  type PkgUninstallPayload,
  type ResourceRef,
  type TaskStatus,
} from './schemas/biz-payloads.js';
export { PkgCatalogPayloadSchema, type PkgCatalogPayload } from './schemas/pkg-catalog.js';
export {
  ManifestAdapterSchema,
  ManifestNodeSchema,
  ManifestSchema,
  RuntimeRequirementSchema,
  type Manifest,
  type ManifestAdapter,
  type ManifestNode,
  type RuntimeRequirement,
} from './schemas/manifest.js';
export {
  ReceiveWindow,
  SendWindow,
  WIRE_BITMAP_BITS,
  isSeqAcked,
  type AckState,
  type OfferStatus,
  type PendingEntry,
} from './window.js';
export { REDACTED, REDACT_MAX_DEPTH, isUrlLike, redactSecrets, redactUrl, scrubSecrets } from './redact.js';
export { MAX_TIMER_MS, MAX_TIMER_SECONDS, clampTimerMs } from './timer-limits.js';
export { EXEC_MODES, isExecMode, type ExecMode } from './exec-mode.js';
export { OVERFLOW_POLICIES, type OverflowPolicy } from './overflow-policy.js';
export { createNoopLogger, type LogFn, type LogLevel, type Logger } from './logger.js';
export {
  classifyCloseCode,
  classifyHttpStatus,
  type FailureClass,
  type Transport,
  type TransportCloseInfo,
  type TransportConnectOptions,
  type TransportConnection,
  type TransportHandlers,
} from './transport.js';
