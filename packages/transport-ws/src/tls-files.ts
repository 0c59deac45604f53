import { readFile } from 'node:fs/promises';
import { AstraError, ErrorCode, errorMessage } from '@astraflow/protocol';

/** Paths of PEM files for {@link readTlsFiles}; every one is optional. */
export interface TlsFilePaths {
  /** CA bundle that signs the scheduler's certificate (replaces the system roots). */
  caFile?: string;
  /** Client certificate for mTLS; needs `keyFile`. */
  certFile?: string;
  /** Private key of `certFile`; needs `certFile`. */
  keyFile?: string;
}

/** PEM contents as read by {@link readTlsFiles}; pass it as `WsTransportOptions.tls`. */
export interface TlsFileContents {
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * Reads the PEM files named in `paths`, for `WsTransportOptions.tls`.
 * Paths left out are left out of the result. Rejects with an `AstraError`
 * (`E.CONFIG.INVALID`) naming the file when one cannot be read or holds no
 * PEM block, or when only one of `certFile` / `keyFile` is given.
 *
 * @example
 * ```ts
 * const tls = await readTlsFiles({ caFile: '/etc/astraflow/ca.pem' });
 * const transport = createWsTransport({ url: 'wss://scheduler:8443/ws/worker', tls });
 * ```
 */
export async function readTlsFiles(paths: TlsFilePaths): Promise<TlsFileContents> {
  const { caFile, certFile, keyFile } = paths;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new AstraError(
      ErrorCode.CONFIG_INVALID,
      `TLS client certificate and key go together: ${certFile === undefined ? 'keyFile' : 'certFile'} is set but ${certFile === undefined ? 'certFile' : 'keyFile'} is not`,
      { details: { certFile: certFile ?? null, keyFile: keyFile ?? null } },
    );
  }
  const [ca, cert, key] = await Promise.all([
    readPem(caFile, 'caFile'),
    readPem(certFile, 'certFile'),
    readPem(keyFile, 'keyFile'),
  ]);
  const out: TlsFileContents = {};
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  return out;
}

async function readPem(path: string | undefined, field: keyof TlsFilePaths): Promise<string | undefined> {
  if (path === undefined) return undefined;
  if (path.trim() === '') {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `TLS ${field} is an empty path`, { details: { field } });
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = errorMessage(err);
    throw new AstraError(ErrorCode.CONFIG_INVALID, `cannot read TLS ${field} ${path}: ${reason}`, {
      cause: err,
      details: { field, path },
    });
  }
  // A DER file or a typo'd path to some other file would otherwise fail later, inside the TLS handshake, with a vague message.
  if (!text.includes('-----BEGIN ')) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `TLS ${field} ${path} holds no PEM block (expected "-----BEGIN ...")`, {
      details: { field, path },
    });
  }
  return text;
}
