import { z } from 'zod';
import { dateTime, intMin, jsonObject, nonEmpty, uri } from './common.js';

/** A resource the dispatch needs on this worker (`exec.dispatch` `$defs.resourceRef`). */
export const ResourceRefSchema = z.strictObject({
  resource_id: nonEmpty,
  worker_name: nonEmpty,
  type: nonEmpty,
  scope: nonEmpty.optional(),
  expires_at: dateTime.optional(),
  metadata: jsonObject.optional(),
});

/** `biz.exec.dispatch` payload (`biz/exec.dispatch.schema.json`). */
export const ExecDispatchPayloadSchema = z.strictObject({
  run_id: nonEmpty,
  task_id: nonEmpty,
  // The schema marks priority with OpenAPI's `nullable`, which ajv honours.
  priority: z.int().nullable().optional(),
  node_id: nonEmpty,
  node_type: nonEmpty,
  package_name: nonEmpty,
  package_version: nonEmpty,
  parameters: jsonObject,
  host_node_id: nonEmpty.optional(),
  middleware_chain: z.array(nonEmpty).optional(),
  chain_index: intMin(0).optional(),
  constraints: z.strictObject({ timeout_ms: intMin(1).optional() }),
  concurrency_key: nonEmpty.optional(),
  resource_refs: z.array(ResourceRefSchema).optional(),
  affinity: z
    .strictObject({
      key: nonEmpty,
      mode: z.enum(['sticky', 'preferred']).optional(),
      expires_at: dateTime.optional(),
    })
    .optional(),
});

/** An artifact a task produced (`exec.result` `$defs.artifact`). */
export const ArtifactSchema = z.strictObject({
  resource_id: nonEmpty,
  worker_name: nonEmpty,
  type: nonEmpty,
  size_bytes: intMin(0).optional(),
  inline: z.boolean().optional(),
  expires_at: dateTime.optional(),
  metadata: jsonObject.optional(),
});

/** Terminal task status of `biz.exec.result`. */
export const TaskStatusSchema = z.enum(['SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED']);

/** `biz.exec.result` payload (`biz/exec.result.schema.json`). */
export const ExecResultPayloadSchema = z.strictObject({
  run_id: nonEmpty,
  task_id: nonEmpty,
  status: TaskStatusSchema,
  result: jsonObject,
  duration_ms: intMin(0).optional(),
  metadata: jsonObject.optional(),
  artifacts: z.array(ArtifactSchema).optional(),
  error: z.strictObject({ code: nonEmpty, message: nonEmpty, remediation: z.string().optional() }).optional(),
});

/** `biz.exec.error` payload (`biz/exec.error.schema.json`). */
export const ExecErrorPayloadSchema = z.strictObject({
  code: nonEmpty,
  message: nonEmpty,
  remediation: z.string().optional(),
  context: z.strictObject({ where: z.string().optional(), details: jsonObject.optional() }).optional(),
});

/** One streamed chunk of `biz.exec.feedback`. */
export const FeedbackChunkSchema = z.strictObject({
  channel: z.enum(['stdout', 'stderr', 'log', 'llm', 'metric', 'custom']),
  index: intMin(0).optional(),
  mime_type: z.string().optional(),
  text: z.string().optional(),
  data_base64: z.string().optional(),
  metadata: jsonObject.optional(),
});

/** `biz.exec.feedback` payload (`biz/exec.feedback.schema.json`). */
export const ExecFeedbackPayloadSchema = z.strictObject({
  run_id: nonEmpty,
  task_id: nonEmpty,
  stage: nonEmpty.optional(),
  progress: z.number().min(0).max(1).optional(),
  message: z.string().optional(),
  chunks: z.array(FeedbackChunkSchema).optional(),
  metrics: z.record(z.string(), z.number()).optional(),
  metadata: jsonObject.optional(),
});

/** `biz.exec.next.request` payload (`biz/exec.next.request.schema.json`). */
export const ExecNextRequestPayloadSchema = z.strictObject({
  requestId: nonEmpty,
  runId: nonEmpty,
  nodeId: nonEmpty,
  middlewareId: nonEmpty,
  chainIndex: intMin(0).optional(),
  hostCtx: jsonObject.optional(),
  middlewareCtx: jsonObject.optional(),
  payload: jsonObject.optional(),
  timeoutMs: intMin(1).optional(),
});

/** `biz.exec.next.response` payload (`biz/exec.next.response.schema.json`). */
export const ExecNextResponsePayloadSchema = z.strictObject({
  requestId: nonEmpty,
  runId: nonEmpty,
  nodeId: nonEmpty,
  middlewareId: nonEmpty,
  result: jsonObject.optional(),
  error: jsonObject.optional(),
  trace: jsonObject.optional(),
});

/** `biz.pkg.install` payload (`biz/pkg.install.schema.json`). */
export const PkgInstallPayloadSchema = z.strictObject({
  name: nonEmpty,
  version: nonEmpty,
  url: uri.optional(),
  sha256: nonEmpty.optional(),
});

/** `biz.pkg.uninstall` payload (`biz/pkg.uninstall.schema.json`); no version means every version. */
export const PkgUninstallPayloadSchema = z.strictObject({
  name: nonEmpty,
  version: z.string().nullable().optional(),
});

/** `biz.pkg.event` statuses; `uninstalled` is our (ext) addition. */
export const PkgEventStatusSchema = z.enum(['installed', 'failed', 'uninstalled']);

/** `biz.pkg.event` payload (`biz/pkg.event.schema.json` + status `uninstalled` (ext)). */
export const PkgEventPayloadSchema = z.strictObject({
  name: nonEmpty,
  version: nonEmpty,
  status: PkgEventStatusSchema,
  log_url: z.string().optional(),
  details: jsonObject.optional(),
});

export type ResourceRef = z.infer<typeof ResourceRefSchema>;
export type ExecDispatchPayload = z.infer<typeof ExecDispatchPayloadSchema>;
export type Artifact = z.infer<typeof ArtifactSchema>;
export type TaskStatus = z.infer<typeof TaskStatusSchema>;
export type ExecResultPayload = z.infer<typeof ExecResultPayloadSchema>;
export type ExecErrorPayload = z.infer<typeof ExecErrorPayloadSchema>;
export type FeedbackChunk = z.infer<typeof FeedbackChunkSchema>;
export type ExecFeedbackPayload = z.infer<typeof ExecFeedbackPayloadSchema>;
export type ExecNextRequestPayload = z.infer<typeof ExecNextRequestPayloadSchema>;
export type ExecNextResponsePayload = z.infer<typeof ExecNextResponsePayloadSchema>;
export type PkgInstallPayload = z.infer<typeof PkgInstallPayloadSchema>;
export type PkgUninstallPayload = z.infer<typeof PkgUninstallPayloadSchema>;
export type PkgEventStatus = z.infer<typeof PkgEventStatusSchema>;
export type PkgEventPayload = z.infer<typeof PkgEventPayloadSchema>;
