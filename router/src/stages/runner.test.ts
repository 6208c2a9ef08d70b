import { trace, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { runStages, type Stage, type StageState } from './runner';

interface State extends StageState {
  seen: string[];
}

const stage = (name: string, run: (state: State) => void | Promise<void>, always = false): Stage<State> => ({
  name,
  always,
  run,
});

/** A tracer that records the spans it starts, as an SDK would: recording, ended, with their errors. */
function recordingTracer() {
  const spans: { name: string; ended: boolean; error?: string }[] = [];
  const tracer = {
    startSpan(name: string) {
      const record: (typeof spans)[number] = { name, ended: false };
      spans.push(record);
      const span = {
        isRecording: () => true,
        end: () => void (record.ended = true),
        recordException: (error: Error) => void (record.error = error.message),
        setStatus: () => span,
        spanContext: () => ({ traceId: '1'.repeat(32), spanId: '1'.repeat(16), traceFlags: 1 }),
      };
      return span as unknown as Span;
    },
  } as unknown as Tracer;
  const provider: TracerProvider = { getTracer: () => tracer };
  return { spans, provider };
}

// The global provider is set once, by the last test (the runner's tracer keeps the proxy it was given).
afterAll(() => trace.disable());

describe('runStages', () => {
  it('runs each stage once, in order; once one answers, only the stages that always run do', async () => {
    const state: State = { answered: false, seen: [] };
    await runStages(
      [
        stage('a', (s) => void s.seen.push('a')),
        stage('b', async (s) => {
          s.seen.push('b');
          s.answered = true;
        }),
        stage('c', (s) => void s.seen.push('c')),
        stage('settle', (s) => void s.seen.push('settle'), true),
        stage('respond', (s) => void s.seen.push('respond'), true),
      ],
      state,
    );
    expect(state.seen).toEqual(['a', 'b', 'settle', 'respond']);
  });

  it('without an SDK the stages still run, through no-op spans', async () => {
    const state: State = { answered: false, seen: [] };
    await runStages([stage('a', async (s) => void s.seen.push('a')), stage('b', (s) => void s.seen.push('b'))], state);
    expect(state.seen).toEqual(['a', 'b']);
  });
  it('wraps every stage that runs in a span router.<stage>, and records the error of one that throws', async () => {
    const { spans, provider } = recordingTracer();
    trace.setGlobalTracerProvider(provider);
    const state: State = { answered: false, seen: [] };
    const run = runStages(
      [
        stage('identify', () => undefined),
        stage('admission', () => {
          throw new Error('refused');
        }),
        stage('never', (s) => void s.seen.push('never')),
      ],
      state,
    );
    await expect(run).rejects.toThrow('refused');
    expect(state.seen).toEqual([]);
    expect(spans).toEqual([
      { name: 'router.identify', ended: true },
      { name: 'router.admission', ended: true, error: 'refused' },
    ]);
  });
});
