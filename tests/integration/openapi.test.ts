/**
 * GET /openapi.json through a real node: the document passes a real OpenAPI
 * 3.1 validator, and every example request in it, sent to the node with a
 * real app and UID, gets the documented status, headers and body, and that
 * body fits the documented response schema.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { AppError, Errno } from '../../src/server/domain/errors.ts';
import { validateBatch } from '../../src/server/domain/notifications/validate.ts';
import { EXAMPLE_PENDING_TAG, EXAMPLE_UID, notificationBatchSchema } from '../../src/server/http/openapi.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { makeRecipient } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

type Document = Record<string, any>;

async function fetchDocument(): Promise<{ response: Response; document: Document }> {
  const response = await fetch(`${node.url}/openapi.json`);
  return { response, document: (await response.json()) as Document };
}

/** A validator for the document's own component schemas, referenced as the document references them. */
function schemaValidator(document: Document) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'https://presence.invalid/openapi.json', components: document.components }, 'openapi');
  return (schemaRef: string, value: unknown) => {
    const validate = ajv.getSchema(`openapi${schemaRef}`);
    if (!validate) throw new Error(`no schema at ${schemaRef}`);
    return validate(value) ? [] : (validate.errors ?? []);
  };
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document that a real validator accepts, served as cacheable JSON', async () => {
    const { response, document } = await fetchDocument();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toMatch(/max-age=\d+/);
    expect(document.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(document) as never);
    expect(document.components.securitySchemes.appKey).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    const post = document.paths['/{appid}/notification'].post;
    expect(post.security).toEqual([{ appKey: [] }]);
    expect(post.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['Idempotency-Key', 'X-Request-Id']));
    expect(post.responses['429'].headers['Retry-After']).toBeDefined();
    expect(post.responses['503'].headers['Retry-After']).toBeDefined();
    expect(post.responses['200'].headers['X-Request-Id']).toBeDefined();
    // The errno table of src/shared/errnos.ts, every row of it.
    for (const errno of [100, 101, 102, 103, 104, 105, 106, 107, 108, 110, 111, 120, 129, 150, 199])
      expect(document.info.description).toContain(`| ${errno} |`);
  });

  it.each([
    ['/{appid}/notification', 'notification'],
    ['/{appid}/retract', 'retract'],
  ])('every example request of %s gets its documented status, headers and body, which fits the documented schema', async (path, route) => {
    const { document } = await fetchDocument();
    const check = schemaValidator(document);
    const post = document.paths[path].post;
    const requests = Object.entries(post.requestBody.content['application/json'].examples as Record<string, { value: unknown; 'x-credentials'?: string }>);
    expect(requests.length).toBeGreaterThanOrEqual(4);
    for (const [name, request] of requests) {
      // Each example gets a fresh queue, so the documented sizes hold; a retraction finds one tagged item pending.
      const recipient = await makeRecipient(db, { schemes: ['demo'] });
      if (route === 'retract') {
        const pushed = await postNotifications(node.url, recipient.appid, recipient.key, {
          UID: recipient.uid,
          message: 'Call',
          action: 'https://x.example/',
          tag: EXAMPLE_PENDING_TAG,
        });
        expect(pushed.status).toBe(200);
      }
      const real = <T>(value: T): T => JSON.parse(JSON.stringify(value).replaceAll(EXAMPLE_UID, recipient.uid)) as T;
      const documented = Object.entries(post.responses as Record<string, Document>).find(([, r]) => r.content?.['application/json']?.examples?.[name]);
      expect(documented, `a response documents the example ${name}`).toBeDefined();
      const [status, responseDoc] = documented as [string, Document];
      const credentials = request['x-credentials'];
      const answer = await fetch(`${node.url}/${recipient.appid}/${route}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Request-Id': `example-${name}`,
          ...(credentials === 'none' ? {} : { Authorization: `Bearer ${credentials === 'wrong-key' ? 'prs_app_wrong' : recipient.key}` }),
        },
        body: JSON.stringify(real(request.value)),
      });
      const body = await answer.json();
      expect({ name, status: answer.status }).toEqual({ name, status: Number(status) });
      expect(body, name).toEqual(real(responseDoc.content['application/json'].examples[name].value));
      expect(check(responseDoc.content['application/json'].schema.$ref, body), name).toEqual([]);
      for (const header of Object.keys(responseDoc.headers ?? {})) {
        if (header !== 'Retry-After') expect(answer.headers.get(header), `${name}: ${header}`).not.toBeNull();
      }
      expect(answer.headers.get('x-request-id')).toBe(`example-${name}`);
    }
  });

  it('the health and pairing examples get their documented status, and bodies that fit the documented schema', async () => {
    const { document } = await fetchDocument();
    const check = schemaValidator(document);
    const health = await fetch(`${node.url}/healthz`);
    const healthDoc = document.paths['/healthz'].get.responses[String(health.status)];
    expect(health.status).toBe(200);
    const healthBody = await health.json();
    expect(healthBody).toEqual(healthDoc.content['application/json'].example);
    expect(check(healthDoc.content['application/json'].schema.$ref, healthBody)).toEqual([]);

    const pairDoc = document.paths['/pair'].post;
    const pair = await fetch(`${node.url}/pair`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(pairDoc.requestBody.content['application/json'].example),
    });
    expect(pair.status).toBe(404);
    const pairBody = await pair.json();
    expect(pairBody).toEqual(expect.objectContaining({ result: 'KO', errno: 140 }));
    expect(check(pairDoc.responses['404'].content['application/json'].schema.$ref, pairBody)).toEqual([]);
  });

  it('the documented item schema accepts exactly the example items whose fields the route accepts', async () => {
    const { document } = await fetchDocument();
    const examples = document.paths['/{appid}/notification'].post.requestBody.content['application/json'].examples as Record<string, { value: unknown }>;
    for (const [name, { value }] of Object.entries(examples)) {
      let routeAccepts = true;
      try {
        validateBatch(value, ['demo']);
      } catch (error) {
        // Which deep-link schemes pass depends on the app, not on the schema.
        routeAccepts = error instanceof AppError && error.errno === Errno.ActionNotAllowed;
      }
      expect({ name, documentedAccepts: notificationBatchSchema.safeParse(value).success }).toEqual({ name, documentedAccepts: routeAccepts });
    }
  });
});
