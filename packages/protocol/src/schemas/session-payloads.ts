import { z } from 'zod';
import { dateTime, intMin, jsonObject, nonEmpty } from './common.js';

/** `control.handshake` payload (`session/handshake.schema.json`). */
export const HandshakePayloadSchema = z.strictObject({
  protocol: intMin(1),
  auth: z.strictObject({
    mode: z.enum(['token', 'mtls']),
    token: z.string().nullable().optional(),
    fingerprint: z.string().nullable().optional(),
  }),
  worker: z.strictObject({
    worker_name: nonEmpty,
    worker_instance_id: nonEmpty.nullable().optional(),
    version: nonEmpty,
    hostname: nonEmpty,
  }),
});

/** `control.ack` payload (`session/ack.schema.json`). */
export const AckPayloadSchema = z.strictObject({
  ok: z.boolean().nullable().optional(),
  for: z.string().nullable().optional(),
  info: z.string().nullable().optional(),
  ack_seq: intMin(0).nullable().optional(),
  ack_bitmap: intMin(0).nullable().optional(),
  recv_window: intMin(1).nullable().optional(),
});

/** One entry of `control.register.packages`. */
export const PackageStatusSchema = z.strictObject({
  name: nonEmpty,
  version: nonEmpty,
  status: z.enum(['installed', 'missing', 'failed']),
});

/** One entry of `control.register.manifests`. */
export const ManifestEntrySchema = z.strictObject({
  name: nonEmpty,
  version: nonEmpty,
  manifest: jsonObject,
});

/** `control.register` payload (`session/register.schema.json`). */
export const RegisterPayloadSchema = z.strictObject({
  capabilities: z.strictObject({
    concurrency: z.strictObject({
      max_parallel: intMin(1),
      per_node_limits: z.record(z.string(), intMin(1)).optional(),
    }),
    runtimes: z.array(nonEmpty).min(1),
    features: z.array(nonEmpty),
  }),
  payload_types: z.array(nonEmpty).optional(),
  packages: z.array(PackageStatusSchema).optional(),
  channels: z.array(nonEmpty).optional(),
  manifests: z.array(ManifestEntrySchema).optional(),
});

/** `control.session.accept` payload (`session/session.accept.schema.json`). */
export const SessionAcceptPayloadSchema = z.strictObject({
  session_id: nonEmpty,
  session_token: nonEmpty,
  expires_at: dateTime.nullable().optional(),
  resumed: z.boolean().nullable().optional(),
  worker_instance_id: nonEmpty,
});

/** `control.resume` payload (`session/session.resume.schema.json`). */
export const ResumePayloadSchema = z.strictObject({
  session_id: nonEmpty,
  session_token: nonEmpty,
  last_seen_seq: intMin(0).nullable().optional(),
});

/** `control.heartbeat` payload (`session/heartbeat.schema.json`); extra metrics are allowed. */
export const HeartbeatPayloadSchema = z.strictObject({
  healthy: z.boolean(),
  metrics: z.looseObject({
    cpu_pct: z.number().min(0).optional(),
    mem_pct: z.number().min(0).optional(),
    disk_pct: z.number().min(0).optional(),
    inflight: intMin(0),
    latency_ms: intMin(0).optional(),
  }),
  packages: z.strictObject({ drift: z.boolean().optional() }).optional(),
});

/** `control.reset` payload (`session/session.reset.schema.json`). */
export const ResetPayloadSchema = z.strictObject({
  code: nonEmpty,
  reason: nonEmpty,
  retry_after_ms: intMin(0).nullable().optional(),
});

/** `control.drain` payload (`session/session.drain.schema.json`). */
export const DrainPayloadSchema = z.strictObject({
  reason: z.string().nullable().optional(),
  deadline_ms: intMin(0).nullable().optional(),
});

export type HandshakePayload = z.infer<typeof HandshakePayloadSchema>;
export type AckPayload = z.infer<typeof AckPayloadSchema>;
export type PackageStatus = z.infer<typeof PackageStatusSchema>;
export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;
export type RegisterPayload = z.infer<typeof RegisterPayloadSchema>;
export type SessionAcceptPayload = z.infer<typeof SessionAcceptPayloadSchema>;
export type ResumePayload = z.infer<typeof ResumePayloadSchema>;
export type HeartbeatPayload = z.infer<typeof HeartbeatPayloadSchema>;
export type ResetPayload = z.infer<typeof ResetPayloadSchema>;
export type DrainPayload = z.infer<typeof DrainPayloadSchema>;
