/** A self-signed certificate for 127.0.0.1 / localhost, made with openssl at test time. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  cert: Buffer;
  key: Buffer;
}

let cached: TestCert | undefined;

export function testCert(): TestCert {
  if (cached !== undefined) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'wspp-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ], { stdio: 'ignore' });
    cached = { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
