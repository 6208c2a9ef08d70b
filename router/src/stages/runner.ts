import { SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';

/**
 * One stage of the request path: a named step that reads and writes the
 * state flowing through the path. Stages run in order, each entered once.
 */
export interface Stage<S> {
  /** Its span is `router.<name>`. */
  readonly name: string;
  /** Runs even when an earlier stage answered (settle and respond): everything else is skipped from then on. */
  readonly always?: boolean;
  run(state: S): Promise<void> | void;
}

/** What every state carries: whether a stage has answered, so the stages after it (but `always` ones) are skipped. */
export interface StageState {
  answered: boolean;
}

const tracer = trace.getTracer('memegraph-router');

/** Span names by stage, made once rather than per request. */
const spanNames = new WeakMap<object, string>();
const spanNameOf = (stage: Stage<unknown>): string => {
  let name = spanNames.get(stage);
  if (name === undefined) spanNames.set(stage, (name = `router.${stage.name}`));
  return name;
};

/**
 * Runs `stages` in order over `state`, each in an OpenTelemetry span
 * (`router.<stage>`). A span that records is made the active one while its
 * stage runs, so what the stage does (subgraph fetches, Redis) nests under
 * it; one that does not (no SDK registered, or not sampled) costs a no-op
 * object and nothing more. A stage that throws ends the run: its span
 * records the error.
 */
export async function runStages<S extends StageState>(stages: readonly Stage<S>[], state: S): Promise<void> {
  for (const stage of stages) {
    if (state.answered && !stage.always) continue;
    const span = tracer.startSpan(spanNameOf(stage as Stage<unknown>));
    if (!span.isRecording()) {
      span.end();
      const running = stage.run(state);
      if (running) await running;
      continue;
    }
    await context.with(trace.setSpan(context.active(), span), () => inSpan(span, stage, state));
  }
}

async function inSpan<S>(span: Span, stage: Stage<S>, state: S): Promise<void> {
  try {
    await stage.run(state);
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
