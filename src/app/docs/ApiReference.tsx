'use client';

import '@scalar/api-reference/style.css';
import { useEffect, useRef } from 'react';
import { z } from 'zod';
import styles from './docs.module.css';

/**
 * While mounted, every <style> element the page creates carries the page's
 * nonce: Scalar injects its styles at run time, which the nonce-based policy
 * would otherwise refuse.
 */
function nonceNewStyles(nonce: string): () => void {
  const create = document.createElement;
  document.createElement = function (this: Document, tagName: string, options?: ElementCreationOptions) {
    const element = create.call(this, tagName, options);
    if (nonce && tagName.toLowerCase() === 'style') element.setAttribute('nonce', nonce);
    return element;
  } as typeof document.createElement;
  return () => {
    document.createElement = create;
  };
}

/** The Scalar API reference of the document at `specUrl`, loaded from this origin only (no fonts, no telemetry, no proxy). */
export function ApiReference({ specUrl, nonce }: { specUrl: string; nonce: string }) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const restore = nonceNewStyles(nonce);
    // The renderer validates its settings with zod, whose probe for eval the policy would report as a violation.
    z.config({ jitless: true });
    let cancelled = false;
    let app: { destroy: () => void } | undefined;
    void import('@scalar/api-reference').then(({ createApiReference }) => {
      if (cancelled || !container.current) return;
      app = createApiReference(container.current, {
        url: specUrl,
        withDefaultFonts: false,
        telemetry: false,
        hideClientButton: true,
        showDeveloperTools: 'never',
        documentDownloadType: 'json',
        // Its AI chat talks to a service elsewhere: off, like everything that leaves this origin.
        agent: { disabled: true },
      });
    });
    return () => {
      cancelled = true;
      app?.destroy();
      restore();
    };
  }, [specUrl, nonce]);
  return <div ref={container} className={styles.reference} />;
}
