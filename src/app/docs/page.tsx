import type { Metadata } from 'next';
import { headers } from 'next/headers';
import { ApiReference } from './ApiReference';

export const metadata: Metadata = { title: 'API reference · Presence' };

/**
 * `/docs`: the REST API for people, rendered in the browser from
 * `/openapi.json` (src/server/http/openapi.ts) by the bundled Scalar renderer.
 */
export default async function DocsPage() {
  // The renderer adds <style> elements of its own; they carry this page's nonce (src/server/http/securityHeaders.ts).
  const policy = (await headers()).get('content-security-policy') ?? '';
  const nonce = /'nonce-([^']+)'/.exec(policy)?.[1] ?? '';
  return <ApiReference specUrl="/openapi.json" nonce={nonce} />;
}
