import { randomInt } from 'node:crypto';
import type { ModelSpec } from 'replicate-flux-blocks/shared/flux/catalog.js';
import { TERMINAL_STATUSES, type PredictionStatus } from 'replicate-flux-blocks/shared/replicate/types.js';
import { outputFileUrl, originOf } from './files.js';
import { newId } from './ids.js';
import { outputSize, type ImageFormat, type ImageSpec, type Size } from './image.js';

/** A prediction's status (Replicate API: `schemas_prediction_response.status`). */
export type Status = PredictionStatus;

/**
 * How one emulated prediction behaves; every field is optional. Tests use it to script
 * failures, slow runs and partial output.
 */
export interface PredictionPlan {
  /** Time in `starting`, in ms. */
  readonly startingMs?: number;
  /** Time in `processing`, in ms. */
  readonly processingMs?: number;
  /** How it ends when nobody cancels it. Default `succeeded`. */
  readonly outcome?: 'succeeded' | 'failed' | 'canceled' | 'aborted';
  /** Replicate's `error` text for a `failed` outcome; `null` for a failure Replicate gives no reason for. Default `Prediction failed`. */
  readonly error?: string | null;
  /**
   * Show outputs while still `processing`: `true` the first, as models that stream outputs do;
   * `'all'` every one, as image models may before they reach `succeeded`.
   */
  readonly partialOutput?: boolean | 'all';
  /** Replaces the final `output` (e.g. `null` for a success that returned nothing). */
  readonly output?: unknown;
  /**
   * What each of its output files serves instead of a rendered image, with the output format's
   * content type: e.g. a truncated or corrupt PNG, for hosts that must keep the result when the
   * image cannot be decoded.
   */
  readonly outputBytes?: Uint8Array;
  /** Time after it ends until its output is deleted, in ms (`data_removed`, file URLs 404). */
  readonly retentionMs?: number;
  /**
   * Time from creation to the deadline a `Cancel-After` header set, in ms, instead of the
   * header's own duration: lets tests pass a deadline shorter than Replicate's 5 s minimum.
   * No effect without the header.
   */
  readonly deadlineMs?: number;
}

/** One prediction inside the emulator: its clock-driven status, logs, output and images. */
export class EmulatedPrediction {
  readonly id = newId();
  readonly createdAt = new Date();
  status: Status = 'starting';
  private startedAt: Date | undefined;
  private completedAt: Date | undefined;
  private error: string | null = null;
  private readonly seed: number;
  private readonly size: Size;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly model: string,
    readonly version: string,
    readonly input: Readonly<Record<string, unknown>>,
    private readonly spec: ModelSpec,
    private readonly plan: PredictionPlan & { startingMs: number; processingMs: number; retentionMs: number },
    private readonly baseUrl: string,
    readonly deadline?: Date,
    /** Size of the first input image (`input_image`, `image`, `input_images[0]`), when given. */
    source?: Size,
  ) {
    this.size = outputSize((name) => this.param(name), source);
    // A real model picks a seed when none is given and logs it.
    this.seed = typeof input.seed === 'number' ? input.seed : randomInt(2 ** 32);
    this.later(plan.startingMs, () => {
      // `aborted` means it ended before it ever ran.
      if (plan.outcome === 'aborted') return this.finish('aborted');
      this.status = 'processing';
      this.startedAt = new Date();
      this.later(plan.processingMs, () =>
        this.finish(plan.outcome ?? 'succeeded', plan.error === undefined ? 'Prediction failed' : plan.error),
      );
    });
    if (deadline) {
      // Replicate's Cancel-After: aborted if still queued, canceled if running.
      this.later(deadline.getTime() - Date.now(), () =>
        this.finish(this.status === 'starting' ? 'aborted' : 'canceled'),
      );
    }
  }

  get terminal(): boolean {
    return (TERMINAL_STATUSES as readonly Status[]).includes(this.status);
  }

  /** Cancels it unless it already ended (Replicate API: POST /v1/predictions/{id}/cancel). */
  cancel(): void {
    this.finish('canceled');
  }

  /** Resolves when it reaches a terminal status, after `ms`, or when `signal` aborts. */
  settled(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.terminal || signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Stops its timers; it stays as it is. */
  dispose(): void {
    this.timers.forEach(clearTimeout);
    [...this.waiters].forEach((wake) => wake());
  }

  /** True once its output is deleted: `retentionMs` after it ended. */
  get dataRemoved(): boolean {
    return this.completedAt !== undefined && Date.now() - this.completedAt.getTime() >= this.plan.retentionMs;
  }

  /** The spec of output image `index` while that output is visible, else undefined. */
  image(index: number): ImageSpec | undefined {
    if (index >= this.visibleOutputs() || this.dataRemoved) return undefined;
    return {
      format: this.format(),
      ...this.size,
      quality: Number(this.param('output_quality') ?? 80),
      key: `${this.seed}:${index}:${String(this.input.prompt)}`,
    };
  }

  /** The bytes its plan says each output file serves instead of a rendered image, if any. */
  get outputBytes(): Uint8Array | undefined {
    return this.plan.outputBytes;
  }

  /** The prediction object Replicate would return now (`schemas_prediction_response`). */
  toJSON(): Record<string, unknown> {
    const removed = this.dataRemoved;
    const urls = Array.from({ length: this.visibleOutputs() }, (_, i) =>
      outputFileUrl(this.baseUrl, this.id, i, this.format()),
    );
    let output: unknown = urls.length ? (this.spec.output === 'list' ? urls : urls[0]) : null;
    if (this.status === 'succeeded' && this.plan.output !== undefined) output = this.plan.output;
    if (removed) output = null;
    const seconds = (from: Date | undefined) =>
      from && this.completedAt ? (this.completedAt.getTime() - from.getTime()) / 1000 : undefined;
    return {
      id: this.id,
      model: this.model,
      version: this.version,
      // Replicate's data removal clears the input and logs as well as the output.
      input: removed ? {} : this.input,
      logs: removed ? '' : this.logs(),
      output,
      data_removed: removed,
      error: this.error,
      status: this.status,
      source: 'api',
      created_at: this.createdAt.toISOString(),
      ...(this.startedAt && { started_at: this.startedAt.toISOString() }),
      ...(this.completedAt && { completed_at: this.completedAt.toISOString() }),
      ...(this.deadline && { deadline: this.deadline.toISOString() }),
      ...(this.completedAt && {
        metrics: { predict_time: seconds(this.startedAt) ?? 0, total_time: seconds(this.createdAt) },
      }),
      urls: {
        web: `${originOf(this.baseUrl)}/p/${this.id}`,
        get: `${this.baseUrl}/predictions/${this.id}`,
        cancel: `${this.baseUrl}/predictions/${this.id}/cancel`,
        stream: `${originOf(this.baseUrl)}/stream/${this.id}`,
      },
    };
  }

  private later(ms: number, action: () => void): void {
    this.timers.push(setTimeout(action, Math.max(0, ms)));
  }

  private finish(status: Status, error: string | null = 'Prediction failed'): void {
    if (this.terminal) return;
    this.status = status;
    this.completedAt = new Date();
    if (status === 'failed') this.error = error;
    this.timers.forEach(clearTimeout);
    [...this.waiters].forEach((wake) => wake());
  }

  /** The value a model input has, given or defaulted. */
  private param(name: string): unknown {
    return this.input[name] ?? this.spec.inputs[name]?.default;
  }

  private format(): ImageFormat {
    return (this.param('output_format') as ImageFormat | undefined) ?? 'webp';
  }

  private outputCount(): number {
    return this.spec.output === 'list' ? Number(this.param('num_outputs') ?? 1) : 1;
  }

  private visibleOutputs(): number {
    if (this.status === 'succeeded') return this.outputCount();
    if (this.status !== 'processing' || !this.plan.partialOutput) return 0;
    return this.plan.partialOutput === 'all' ? this.outputCount() : 1;
  }

  /** `Using seed: N`, then a tqdm progress bar line per denoising step done so far. */
  private logs(): string {
    if (!this.startedAt) return '';
    const steps = Number(this.param('num_inference_steps') ?? this.param('steps') ?? 28);
    const fraction =
      this.status === 'succeeded'
        ? 1
        : Math.min(1, (Date.now() - this.startedAt.getTime()) / Math.max(1, this.plan.processingMs));
    const lines = [`Using seed: ${this.seed}`];
    for (let step = 0; step <= Math.floor(fraction * steps); step++) {
      const percent = Math.round((step / steps) * 100);
      const bar = '█'.repeat(Math.round(percent / 10)).padEnd(10);
      lines.push(`${String(percent).padStart(3)}%|${bar}| ${step}/${steps}`);
    }
    if (this.status === 'succeeded') lines.push(`Generated ${this.outputCount()} image(s)`);
    return `${lines.join('\n')}\n`;
  }
}
