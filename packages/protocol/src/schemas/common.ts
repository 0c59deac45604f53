import { z } from 'zod';

/** JSON Schema `{"type": "object"}`: a plain object (not an array, not null) with any members. */
export const jsonObject = z.record(z.string(), z.unknown());

/** JSON Schema `{"type": "integer", "minimum": n}`. */
export const intMin = (min: number) => z.int().min(min);

/** JSON Schema `{"type": "string", "format": "date-time"}` (RFC 3339: an offset or `Z` is required). */
export const dateTime = z.iso.datetime({ offset: true });

/** JSON Schema `{"type": "string", "minLength": 1}`. */
export const nonEmpty = z.string().min(1);
