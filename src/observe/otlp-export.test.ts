import { execFile } from 'node:child_process';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DEMO_TASKS, createSupportDeskAgents } from '../../examples/support-desk/agents.js';
import { SupportBackend } from '../../examples/support-desk/backend.js';
import { createRuntime } from '../engine/index.js';
import { makeTestCertificates } from './__tests__/test-certificates.js';
import { openStore, type Store } from '../store/index.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../testing/index.js';
import {
  ATTR,
  GEN_AI_SEMCONV_VERSION,
  otlpExporter,
  otlpExporterFromEnv,
  spanIdOf,
  spansFromJournal,
  traceExport,
  traceIdOf,
  type TraceSpan,
} from './index.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const certificates = makeTestCertificates();
afterAll(() => {
  certificates.cleanup();
});

async function demoRuntime(observers: Parameters<typeof createRuntime>[0]['observers']) {
  const store: Store = await openStore('sqlite::memory:');
  const backend = new SupportBackend();
  const runtime = createRuntime({ store, agents: createSupportDeskAgents(backend), observers });
  cleanups.push(() => store.close());
  return { store, runtime, backend };
}

/** Spans to send again: rebuilt from what a receiver decoded (ids and names are enough). */
function spansOf(receiver: OtlpReceiver): TraceSpan[] {
  return receiver.spans.map((span) => ({
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId === '' ? undefined : span.parentSpanId,
    name: span.name,
    kind: span.kind === 3 ? 'client' : 'internal',
    startMs: Number(span.startTimeUnixNano / 1_000_000n),
    endMs: Number(span.endTimeUnixNano / 1_000_000n),
    attributes: {},
    events: [],
    links: [],
    status: { code: 'unset' },
  }));
}

function usageOf(event: Record<string, unknown>): Record<string, number> {
  return event.usage as Record<string, number>;
}

describe('OTLP export of a demo run', () => {
  let receiver: OtlpReceiver;

  it('delivers the span tree with GenAI attributes, parent links and journal usage', async () => {
    receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const exporter = otlpExporter({ url: receiver.url, scheduleDelayMs: 10 });
    const { runtime, store } = await demoRuntime([traceExport({ exporter })]);
    const result = await runtime.run('refunds', DEMO_TASKS.refund);
    expect(result.status).toBe('succeeded');
    await runtime.close();

    const events = (await store.readEvents(result.id)).map((entry) => entry.event);
    const modelCalls = events.filter((event) => event.type === 'model_called');
    const toolCalls = events.filter((event) => event.type === 'tool_requested');
    const spans = receiver.spans.filter((span) => span.traceId === traceIdOf(result.id));
    expect(spans).toHaveLength(1 + modelCalls.length + toolCalls.length);

    const [root, ...others] = spans.filter((span) => span.parentSpanId === '');
    expect(others).toEqual([]);
    expect(root).toMatchObject({
      name: 'invoke_agent refunds',
      kind: 1,
      spanId: spanIdOf(result.id, 'run'),
    });
    expect(root?.attributes).toMatchObject({
      [ATTR.operationName]: 'invoke_agent',
      [ATTR.providerName]: 'simulator',
      [ATTR.agentName]: 'refunds',
      [ATTR.requestModel]: 'support-desk-script',
      [ATTR.runStatus]: 'succeeded',
    });
    expect(root?.resource[ATTR.semconvVersion]).toBe(GEN_AI_SEMCONV_VERSION);
    expect(root?.resource[ATTR.serviceName]).toBe('keel');

    const children = spans.filter((span) => span.parentSpanId === root?.spanId);
    expect(children).toHaveLength(spans.length - 1);
    const chats = children.filter((span) => span.attributes[ATTR.operationName] === 'chat');
    const tools = children.filter((span) => span.attributes[ATTR.operationName] === 'execute_tool');

    // One chat span per model call, in step order, with the journal's usage and ids.
    const byStep = (span: ReceivedSpan) => span.attributes[ATTR.step] as number;
    chats.sort((a, b) => byStep(a) - byStep(b));
    expect(chats.map((span) => [span.name, span.kind])).toEqual(
      modelCalls.map(() => ['chat support-desk-script', 3]),
    );
    chats.forEach((span, index) => {
      const call = modelCalls[index] as Record<string, unknown>;
      expect(span.attributes).toMatchObject({
        [ATTR.providerName]: 'simulator',
        [ATTR.requestModel]: 'support-desk-script',
        [ATTR.responseId]: call.responseId,
        [ATTR.responseModel]: call.responseModel,
        [ATTR.usageInputTokens]: usageOf(call).inputTokens,
        [ATTR.usageOutputTokens]: usageOf(call).outputTokens,
        [ATTR.costUsd]: call.costUsd,
      });
      expect(span.attributes[ATTR.responseFinishReasons]).toEqual([
        call.finishReason === 'tool_calls' ? 'tool_call' : call.finishReason,
      ]);
      expect(span.endTimeUnixNano).toBeGreaterThanOrEqual(span.startTimeUnixNano);
    });

    expect(tools.map((span) => span.attributes[ATTR.toolCallId]).sort()).toEqual(
      toolCalls.map((event) => event.callId).sort(),
    );
    for (const span of tools) {
      expect(span.kind).toBe(1);
      expect(span.name).toBe(`execute_tool ${String(span.attributes[ATTR.toolName])}`);
      expect(span.attributes[ATTR.toolType]).toBe('function');
    }
    expect(tools.map((span) => span.attributes[ATTR.toolName])).toContain('issue_refund');

    // Totals on the root equal the journal's, and the sum of its chat spans.
    const finished = events.find((event) => event.type === 'run_finished') as Record<
      string,
      unknown
    >;
    const sum = (key: string) =>
      chats.reduce((total, span) => total + (span.attributes[key] as number), 0);
    expect(root?.attributes[ATTR.usageInputTokens]).toBe(usageOf(finished).inputTokens);
    expect(root?.attributes[ATTR.usageOutputTokens]).toBe(usageOf(finished).outputTokens);
    expect(sum(ATTR.usageInputTokens)).toBe(usageOf(finished).inputTokens);
    expect(sum(ATTR.usageOutputTokens)).toBe(usageOf(finished).outputTokens);
    // Content capture is off by default.
    expect(spans.some((span) => ATTR.inputMessages in span.attributes)).toBe(false);
    expect(tools.some((span) => ATTR.toolCallArguments in span.attributes)).toBe(false);
  });

  it('exports the spans closed so far at pause points, and every span once', async () => {
    receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const exporter = otlpExporter({ url: receiver.url, scheduleDelayMs: 1 });
    // Each model reply stands in for a pause (a release, a wait for someone).
    const observer = traceExport({ exporter, partialExportOn: ['model_called'] });
    const { runtime, store } = await demoRuntime([observer]);
    const result = await runtime.run('refunds', DEMO_TASKS.refund);
    await runtime.close();
    const events = (await store.readEvents(result.id)).map((entry) => entry.event);
    const expected =
      1 +
      events.filter((event) => event.type === 'model_called').length +
      events.filter((event) => event.type === 'tool_requested').length;
    const ids = receiver.spans.map((span) => span.spanId);
    expect(ids).toHaveLength(expected);
    expect(new Set(ids).size).toBe(expected);
    // The root went out once, closed, with the run's outcome; children went out before it.
    const root = receiver.spans.filter((span) => span.name === 'invoke_agent refunds');
    expect(root.map((span) => span.attributes[ATTR.runStatus])).toEqual(['succeeded']);
    expect(receiver.spans.indexOf(root[0] as ReceivedSpan)).toBeGreaterThan(0);
    expect(receiver.requests).toBeGreaterThan(1);
  });

  it('is configured by the standard OTel environment variables', async () => {
    receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const exporter = otlpExporterFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-team=support%20desk',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_SERVICE_NAME: 'support',
      OTEL_BSP_SCHEDULE_DELAY: '10',
    });
    expect(exporter).toBeDefined();
    if (!exporter) return;
    const { runtime } = await demoRuntime([traceExport({ exporter })]);
    const result = await runtime.run('payments', DEMO_TASKS.declinedPayment);
    await runtime.close();
    const root = receiver.spans.find((span) => span.spanId === spanIdOf(result.id, 'run'));
    expect(root?.resource[ATTR.serviceName]).toBe('support');
    expect(exporter.stats()).toMatchObject({ failed: 0, dropped: 0 });
  });

  it('is off without an endpoint, and refuses a setting it cannot honour', () => {
    expect(otlpExporterFromEnv({})).toBeUndefined();
    expect(
      otlpExporterFromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318',
        OTEL_SDK_DISABLED: 'true',
      }),
    ).toBeUndefined();
    const refused = (env: Record<string, string>): unknown => {
      try {
        otlpExporterFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318', ...env });
        return 'accepted';
      } catch (error) {
        return { code: (error as { code?: unknown }).code, message: (error as Error).message };
      }
    };
    expect(refused({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/thrift' })).toEqual({
      code: 'invalid_config',
      message:
        'OTEL_EXPORTER_OTLP_PROTOCOL "http/thrift" is not one of http/protobuf, http/json, grpc',
    });
    expect(refused({ OTEL_BSP_MAX_QUEUE_SIZE: 'lots' })).toMatchObject({ code: 'invalid_config' });
    expect(refused({ OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: '/nonexistent/ca.pem' })).toEqual({
      code: 'invalid_config',
      message: 'OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: cannot read "/nonexistent/ca.pem" (ENOENT)',
    });
    expect(refused({ OTEL_EXPORTER_OTLP_CLIENT_KEY: certificates.files.clientKey })).toMatchObject({
      code: 'invalid_config',
    });
    for (const protocol of ['http/protobuf', 'http/json', 'grpc']) {
      expect(refused({ OTEL_EXPORTER_OTLP_PROTOCOL: protocol })).toBe('accepted');
    }
  });
});

describe.each([
  { protocol: 'http/protobuf', transport: 'http', encoding: 'protobuf' },
  { protocol: 'http/json', transport: 'http', encoding: 'json' },
  { protocol: 'grpc', transport: 'grpc', encoding: 'protobuf' },
] as const)('OTLP export over $protocol', ({ protocol, transport, encoding }) => {
  /** The standard variables for `receiver`, plus `extra`. */
  const envFor = (receiver: OtlpReceiver, extra: Record<string, string> = {}) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_EXPORTER_OTLP_HEADERS: 'x-team=support%20desk',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    OTEL_SERVICE_NAME: 'support',
    OTEL_BSP_SCHEDULE_DELAY: '10',
    ...extra,
  });

  it('delivers every span of a run, ids kept, configured by the standard variables', async () => {
    const receiver = await startOtlpReceiver({ transport });
    cleanups.push(() => receiver.close());
    // The traces-only endpoint wins and is used as is: HTTP's full URL; for gRPC a bare
    // host:port, plaintext only because INSECURE says so.
    const exporter = otlpExporterFromEnv(
      envFor(receiver, {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:
          transport === 'grpc' ? receiver.endpoint.replace('http://', '') : receiver.url,
        ...(transport === 'grpc' ? { OTEL_EXPORTER_OTLP_TRACES_INSECURE: 'true' } : {}),
      }),
    );
    if (!exporter) throw new Error('no exporter');
    const { runtime, store } = await demoRuntime([traceExport({ exporter })]);
    const result = await runtime.run('refunds', DEMO_TASKS.refund);
    await runtime.close();
    const derived = spansFromJournal(result.id, await store.readEvents(result.id));
    expect(exporter.stats()).toEqual({
      exported: derived.length,
      dropped: 0,
      failed: 0,
      queued: 0,
    });
    expect(
      receiver.spans.map((span) => [span.traceId, span.spanId, span.parentSpanId, span.name]),
    ).toEqual(
      derived.map((span) => [span.traceId, span.spanId, span.parentSpanId ?? '', span.name]),
    );
    const root = receiver.spans.find((span) => span.spanId === spanIdOf(result.id, 'run'));
    expect(root?.resource[ATTR.serviceName]).toBe('support');
    expect(root?.attributes[ATTR.runStatus]).toBe('succeeded');
    // HTTP bodies arrive gzipped; gRPC compresses inside its frames, which grpc-js unpacks.
    expect(
      receiver.received.map((request) => [
        request.encoding,
        request.headers['x-team'],
        request.headers['content-encoding'],
      ]),
    ).toEqual(
      receiver.received.map(() => [
        encoding,
        'support desk',
        transport === 'http' ? 'gzip' : undefined,
      ]),
    );
  });

  it('sends over TLS with a client certificate when the endpoint demands one', async () => {
    const receiver = await startOtlpReceiver({
      transport,
      tls: {
        key: certificates.pem.serverKey,
        cert: certificates.pem.serverCert,
        ca: certificates.pem.ca,
      },
    });
    cleanups.push(() => receiver.close());
    const { files } = certificates;
    const withCertificate = otlpExporterFromEnv(
      envFor(receiver, {
        OTEL_EXPORTER_OTLP_CERTIFICATE: files.ca,
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: files.clientCert,
        OTEL_EXPORTER_OTLP_CLIENT_KEY: files.clientKey,
      }),
    );
    // Trusting the server, but with no certificate of its own to show: refused.
    const without = otlpExporterFromEnv(
      envFor(receiver, {
        OTEL_EXPORTER_OTLP_CERTIFICATE: files.ca,
        OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      }),
    );
    // Not trusting the server's authority: refused by the exporter itself.
    const untrusting = otlpExporterFromEnv(
      envFor(receiver, {
        OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: files.otherCa,
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: files.clientCert,
        OTEL_EXPORTER_OTLP_CLIENT_KEY: files.clientKey,
        OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      }),
    );
    if (!withCertificate || !without || !untrusting) throw new Error('no exporter');
    const { runtime, store } = await demoRuntime([traceExport({ exporter: withCertificate })]);
    const result = await runtime.run('refunds', DEMO_TASKS.refund);
    await runtime.close();
    const derived = spansFromJournal(result.id, await store.readEvents(result.id));
    for (const refused of [without, untrusting]) {
      refused.export(derived);
      await refused.shutdown();
    }
    expect({
      sent: withCertificate.stats(),
      spans: receiver.spans.length,
      clients: [...new Set(receiver.received.map((request) => request.clientCertificate))],
      without: without.stats(),
      untrusting: untrusting.stats(),
    }).toEqual({
      sent: { exported: derived.length, dropped: 0, failed: 0, queued: 0 },
      spans: derived.length,
      clients: [certificates.clientName],
      without: { exported: 0, dropped: 0, failed: derived.length, queued: 0 },
      untrusting: { exported: 0, dropped: 0, failed: derived.length, queued: 0 },
    });
  });
});

describe('OTLP export loading', () => {
  it('loads no OpenTelemetry exporter until the first export, then only its protocol', async () => {
    const script = fileURLToPath(new URL('./__tests__/lazy-export-process.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script]);
    expect(JSON.parse(stdout)).toEqual({
      afterImport: [],
      afterCreate: [],
      afterExport: ['exporter-trace-otlp-proto'],
      stats: { exported: 0, dropped: 0, failed: 1, queued: 0 },
    });
  }, 30_000);
});

describe('OTLP export to an endpoint that refuses for a while', () => {
  it('retries a 503 and delivers, but gives up on a 400', async () => {
    const flaky = await startOtlpReceiver({ failFirst: 2 });
    cleanups.push(() => flaky.close());
    const exporter = otlpExporter({ url: flaky.url, scheduleDelayMs: 1 });
    const { runtime } = await demoRuntime([traceExport({ exporter })]);
    await runtime.run('payments', DEMO_TASKS.declinedPayment);
    await runtime.close();
    expect(flaky.requests).toBe(3);
    expect(exporter.stats()).toMatchObject({ failed: 0, exported: flaky.spans.length });
    expect(flaky.spans.length).toBeGreaterThan(0);

    const refusing = await startOtlpReceiver({ failFirst: 100, failStatus: 400 });
    cleanups.push(() => refusing.close());
    const refused = otlpExporter({ url: refusing.url, scheduleDelayMs: 1 });
    refused.export(spansOf(flaky));
    await refused.flush();
    expect(refusing.requests).toBe(1);
    expect(refused.stats()).toMatchObject({ exported: 0, failed: flaky.spans.length });
  });
});

describe('OTLP export to an endpoint that does not answer', () => {
  it('never holds or fails a run when the endpoint hangs, and counts what is lost', async () => {
    // Accepts connections and never replies: the worst endpoint to be stuck on.
    const sockets = new Set<Socket>();
    const silent: Server = createTcpServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    cleanups.push(
      () =>
        new Promise((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(resolve);
        }),
    );
    const exporter = otlpExporter({
      url: `http://127.0.0.1:${port}/v1/traces`,
      timeoutMs: 60_000,
      scheduleDelayMs: 1,
      maxQueueSize: 4,
    });
    const { runtime, store } = await demoRuntime([traceExport({ exporter })]);
    const first = await runtime.run('refunds', DEMO_TASKS.refund);
    const second = await runtime.run('payments', DEMO_TASKS.declinedPayment);
    // Both runs ended while the first export request is still waiting on the endpoint.
    expect([first.status, second.status]).toEqual(['succeeded', 'succeeded']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sockets.size).toBeGreaterThan(0);
    const stats = exporter.stats();
    expect(stats.exported).toBe(0);
    // The queue is bounded: what did not fit was dropped and counted.
    expect(stats.queued).toBeLessThanOrEqual(4);
    expect(stats.dropped).toBeGreaterThan(0);
    // Closing the runtime waits for the exporter only as long as its flush bound.
    const startedAt = performance.now();
    await exporter.flush({ timeoutMs: 100 });
    expect(performance.now() - startedAt).toBeLessThan(5_000);
    expect((await store.getRun(second.id))?.status).toBe('succeeded');
  });

  it('counts failed requests when nothing listens, and runs go on', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise((resolve) => closed.close(resolve));
    const exporter = otlpExporter({
      url: `http://127.0.0.1:${port}/v1/traces`,
      scheduleDelayMs: 1,
      // OTLP retries a refused connection; past this, the export is counted lost.
      timeoutMs: 500,
    });
    const { runtime } = await demoRuntime([traceExport({ exporter })]);
    const result = await runtime.run('refunds', DEMO_TASKS.refund);
    expect(result.status).toBe('succeeded');
    await runtime.close();
    expect(exporter.stats().failed).toBeGreaterThan(0);
    expect(exporter.stats().exported).toBe(0);
  });
});
