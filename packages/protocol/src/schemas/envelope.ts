import { z } from 'zod';
import { dateTime, intMin, jsonObject, nonEmpty } from './common.js';

/** `sender` of the envelope. */
export const SenderSchema = z.strictObject({
  role: z.enum(['scheduler', 'worker']),
  id: nonEmpty,
});

/** The envelope every frame travels in (`session/envelope.schema.json`). */
export const EnvelopeSchema = z.strictObject({
  type: nonEmpty,
  id: nonEmpty,
  ts: dateTime,
  corr: z.string().nullable().optional(),
  seq: intMin(0).nullable().optional(),
  session_seq: intMin(0).nullable().optional(),
  tenant: nonEmpty,
  sender: SenderSchema,
  ack: z
    .strictObject({
      for: z.string().nullable().optional(),
      request: z.boolean().nullable().optional(),
    })
    .optional(),
  flags: z.array(nonEmpty).optional(),
  payload: jsonObject,
});

export type Sender = z.infer<typeof SenderSchema>;
export type Envelope = z.infer<typeof EnvelopeSchema>;
