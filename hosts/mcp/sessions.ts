import { randomUUID } from 'node:crypto';
import { WebStandardStreamableHTTPServerTransport, type McpServer } from '@modelcontextprotocol/server';

/** 2025-era Streamable HTTP sessions: one server per session, as its requests, notifications and cancels must meet. */
export interface LegacySessions {
  /** Serves one 2025-era request (POST, GET or DELETE), by its `Mcp-Session-Id`. */
  fetch(request: Request): Promise<Response>;
  /** Closes every session. */
  close(): Promise<void>;
}

/** Sessions kept at once; the oldest is closed to make room (clients that never send DELETE). */
const MAX_SESSIONS = 256;

/**
 * Serves 2025-era clients (most clients today) with sessions: the SDK's stateless fallback
 * builds a fresh server per request, so a client's `notifications/cancelled` reached a server
 * that never saw the call, and the prediction ran on (tested). In a session the call's
 * AbortSignal fires and the prediction is canceled.
 */
export function legacySessions(factory: () => McpServer, maxRequestBodySize: number): LegacySessions {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  return {
    async fetch(request) {
      const id = request.headers.get('mcp-session-id');
      if (id !== null) {
        const transport = sessions.get(id);
        if (transport) return transport.handleRequest(request);
        return Response.json(
          {
            jsonrpc: '2.0',
            error: { code: -32001, message: 'Session not found: start a new one with initialize' },
            id: null,
          },
          { status: 404 },
        );
      }
      // No session yet: the transport answers anything but initialize with 400.
      const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        maxRequestBodySize,
        onsessioninitialized: (sessionId) => {
          if (sessions.size >= MAX_SESSIONS) void sessions.values().next().value?.close();
          sessions.set(sessionId, transport);
        },
        onsessionclosed: (sessionId) => void sessions.delete(sessionId),
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await factory().connect(transport);
      return transport.handleRequest(request);
    },
    async close() {
      await Promise.all([...sessions.values()].map((transport) => transport.close()));
      sessions.clear();
    },
  };
}
