import { z } from 'zod';

/** JSON Schema `{"type": "object"}`: a plain object (not an array, not null) with any members. */
export const jsonObject = z.record(z.string(), z.unknown());

/**
 * JSON Schema `{"type": "integer", "minimum": n}`. JSON Schema counts every
 * whole number as an integer, so values past 2^53 are accepted too: a peer
 * with big integers (e.g. a wide `ack_bitmap`) must not get its frame
 * dropped; consumers decide whether they trust such a value.
 */
export const intMin = (min: number) =>
  z
    .number()
    .min(min)
    .refine((value) => Number.isInteger(value), { message: 'expected an integer' });

const DATE_PART = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_PART = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:z|([+-])(\d{2})(?::?(\d{2}))?)$/i;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/**
 * RFC 3339 `date-time`, read the way the JSON Schema validators of the
 * scheduler side read it (ajv-formats, full mode), so that we never drop a
 * frame they accept: `T`, `t` or a space between date and time, seconds
 * required, any fraction, a zone (`Z`, `z`, `±hh:mm`, `±hhmm` or `±hh`)
 * required, real calendar days, and a leap second only at 23:59:60 UTC.
 */
export function isDateTime(value: string): boolean {
  const halves = value.split(/t|\s/i);
  if (halves.length !== 2) return false;
  const date = DATE_PART.exec(halves[0]!);
  const time = TIME_PART.exec(halves[1]!);
  if (!date || !time) return false;
  const year = Number(date[1]);
  const month = Number(date[2]);
  const day = Number(date[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  if (day > (month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!)) return false;
  const hour = Number(time[1]);
  const minute = Number(time[2]);
  const second = Number(time[3]);
  const zoneSign = time[4] === '-' ? -1 : 1;
  const zoneHours = Number(time[5] ?? 0);
  const zoneMinutes = Number(time[6] ?? 0);
  if (zoneHours > 23 || zoneMinutes > 59 || hour > 23 || minute > 59 || second > 60) return false;
  if (second < 60) return true;
  const utcMinuteOfDay = (((hour * 60 + minute - zoneSign * (zoneHours * 60 + zoneMinutes)) % 1440) + 1440) % 1440;
  return utcMinuteOfDay === 23 * 60 + 59;
}

/** JSON Schema `{"type": "string", "format": "date-time"}`; see {@link isDateTime}. */
export const dateTime = z.string().refine(isDateTime, { message: 'expected an RFC 3339 date-time with a time zone' });

const UNRESERVED = 'A-Za-z0-9\\-._~';
const SUB_DELIMS = "!$&'()*+,;=";
const PCT = '%[0-9A-Fa-f]{2}';
const PCHAR = `(?:[${UNRESERVED}${SUB_DELIMS}:@]|${PCT})`;
const SEGMENT = `${PCHAR}*`;
const SEGMENT_NZ = `${PCHAR}+`;
const USERINFO = `(?:[${UNRESERVED}${SUB_DELIMS}:]|${PCT})*`;
const REG_NAME = `(?:[${UNRESERVED}${SUB_DELIMS}]|${PCT})*`;
const AUTHORITY = `(?:${USERINFO}@)?(?:\\[([^\\]]*)\\]|${REG_NAME})(?::[0-9]*)?`;
// RFC 3986 `hier-part`, read as ajv-formats reads it: no `path-empty` (a
// bare `scheme:` names nothing), and one slash may also open an authority,
// which lets `scheme://` be followed by any path characters.
const HIER_PART = `(?:/?/${AUTHORITY}(?:/${SEGMENT})*|/(?:${SEGMENT_NZ}(?:/${SEGMENT})*)?|${SEGMENT_NZ}(?:/${SEGMENT})*)`;
const QUERY = `(?:[${UNRESERVED}${SUB_DELIMS}:@/?]|${PCT})*`;
const URI = new RegExp(`^[A-Za-z][A-Za-z0-9+.\\-]*:${HIER_PART}(?:\\?${QUERY})?(?:#${QUERY})?$`);
const IP_FUTURE = new RegExp(`^[Vv][0-9A-Fa-f]+\\.[${UNRESERVED}${SUB_DELIMS}:]+$`);
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

function isIpv4(text: string): boolean {
  const octets = text.split('.');
  return octets.length === 4 && octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255);
}

function isIpv6(text: string): boolean {
  let body = text;
  if (body.includes('.')) {
    // A trailing dotted quad stands for the last two groups.
    const lastColon = body.lastIndexOf(':');
    if (lastColon < 0 || !isIpv4(body.slice(lastColon + 1))) return false;
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((half) => (half === '' ? [] : half.split(':')));
  if (!groups.every((group) => HEX_GROUP.test(group))) return false;
  return halves.length === 2 ? groups.length <= 7 : groups.length === 8;
}

/**
 * RFC 3986 absolute URI (fragment allowed), as JSON Schema's `uri` format
 * means it and as the scheduler side's validators (ajv-formats, full mode)
 * check it: percent-escapes must be well formed, spaces and other raw
 * characters outside the grammar are refused, `[...]` hosts must be IPv6 or
 * IPvFuture literals. Unlike WHATWG URL parsing, nothing is normalised; a
 * bad host or port may still pass as a path, and fails later, at download,
 * with an error the scheduler hears about.
 */
export function isUri(value: string): boolean {
  const match = URI.exec(value);
  if (!match) return false;
  const literal = match[1];
  return literal === undefined || isIpv6(literal) || IP_FUTURE.test(literal);
}

/** JSON Schema `{"type": "string", "format": "uri"}`; see {@link isUri}. */
export const uri = z.string().refine(isUri, { message: 'expected an absolute URI (RFC 3986)' });

/** JSON Schema `{"type": "string", "minLength": 1}`. */
export const nonEmpty = z.string().min(1);
