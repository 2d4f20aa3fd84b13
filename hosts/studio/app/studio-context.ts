// What every canvas node reads besides its own data: the server's keys and its graph check.
import { createContext } from 'react';
import type { CredentialsChoice, GraphProblem } from '../protocol.js';

export interface StudioState {
  readonly keys: readonly CredentialsChoice[];
  /** The server's last graph check, when it refused the graph. */
  readonly problem?: GraphProblem;
}

export const StudioContext = createContext<StudioState>({ keys: [] });
