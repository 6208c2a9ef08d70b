import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';

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

/**
 * Runs `stages` in order over `state`, each in an OpenTelemetry span
 * (`router.<stage>`; with no SDK registered the spans are no-ops). A stage
 * that throws ends the run: its span records the error.
 */
export async function runStages<S extends StageState>(stages: readonly Stage<S>[], state: S): Promise<void> {
  for (const stage of stages) {
    if (state.answered && !stage.always) continue;
    await tracer.startActiveSpan(`router.${stage.name}`, (span) => inSpan(span, stage, state));
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
