// The studio server's API. The session rides in an HttpOnly cookie, so requests carry no token.
import type {
  BlockInfo,
  CostEstimate,
  Example,
  GraphProblem,
  ModelForm,
  ModelHits,
  RunEvent,
  StudioInfo,
  Upload,
} from '../protocol.js';
import type { GraphFile } from './graph-file.js';

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, { ...init, headers: { 'Content-Type': 'application/json', ...init?.headers } });
  if (!response.ok && response.status !== 422)
    throw new Error(`${init?.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const post = <T>(path: string, body?: unknown) =>
  call<T>(path, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });

export const getInfo = () => call<StudioInfo>('/api/info');
export const getBlocks = () => call<BlockInfo[]>('/api/blocks');
export const getExamples = () => call<Example[]>('/api/examples');

/** The server's graph check: undefined when the graph can run, else the problem. */
export async function checkGraph(graph: GraphFile): Promise<GraphProblem | undefined> {
  const answer = await post<{ ok: true } | ({ ok: false } & GraphProblem)>('/api/check', graph);
  return answer.ok ? undefined : answer;
}

/** The graph's worst-case cost (`POST /api/estimate`), or the problem that keeps it from running. */
export async function estimateCost(graph: GraphFile): Promise<CostEstimate | GraphProblem> {
  const answer = await post<{ ok: true; estimate: CostEstimate } | ({ ok: false } & GraphProblem)>(
    '/api/estimate',
    graph,
  );
  return answer.ok ? answer.estimate : answer;
}

/** Starts a run: its id, or the problem the server's check found. */
export const startRun = (graph: GraphFile) => post<{ id: string } | GraphProblem>('/api/runs', graph);

/** Sends an image file to the studio, which keeps it for runs: where it is, or the server's reason (too large, no image). */
export async function uploadImage(file: File): Promise<Upload | { error: string }> {
  const response = await fetch('/api/uploads', { method: 'POST', body: file, headers: { 'Content-Type': file.type } });
  const answer = (await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }))) as
    Upload | { error: string };
  return answer;
}

export const cancelRun = (id: string) => post<{ canceled: boolean }>(`/api/runs/${encodeURIComponent(id)}/cancel`);

/**
 * Follows a run's events (Server-Sent Events; EventSource resumes after a dropped connection
 * by itself). Stops after `done`. Returns a function that stops listening.
 */
export function watchRun(id: string, onEvent: (event: RunEvent) => void): () => void {
  const source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
  const listener = (message: MessageEvent<string>) => {
    const event = JSON.parse(message.data) as RunEvent;
    if (event.type === 'done') source.close();
    onEvent(event);
  };
  for (const type of ['node', 'output', 'done']) source.addEventListener(type, listener as EventListener);
  return () => source.close();
}

/** Replicate's models for `query` (the server searches with its token): the hits, or the server's reason. */
export async function searchModels(query: string): Promise<ModelHits | { error: string }> {
  const response = await fetch(`/api/models?${new URLSearchParams({ query })}`);
  return (await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }))) as
    ModelHits | { error: string };
}

/** Model forms asked for, by `owner/name`: several nodes of one model ask once; failures are asked again. */
const forms = new Map<string, Promise<ModelForm | { error: string }>>();
const KEPT_FORMS = 32;

/** A model's latest version and its input form (`GET /api/models/{owner}/{name}`), or the server's reason. */
export function getModelForm(model: string): Promise<ModelForm | { error: string }> {
  const known = forms.get(model);
  if (known) return known;
  const asked = fetch(`/api/models/${model.split('/').map(encodeURIComponent).join('/')}`).then(
    async (response) => {
      const answer = (await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }))) as
        ModelForm | { error: string };
      if ('error' in answer) forms.delete(model);
      return answer;
    },
    (error: Error) => {
      forms.delete(model);
      return { error: error.message };
    },
  );
  forms.set(model, asked);
  if (forms.size > KEPT_FORMS) forms.delete(forms.keys().next().value!);
  return asked;
}
