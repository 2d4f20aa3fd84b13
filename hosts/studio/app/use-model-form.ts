// Loads the input form of the model an any-model node names, a moment after its name last changed.
import { useEffect, useState } from 'react';
import { useReactFlow } from '@xyflow/react';
import type { ModelForm } from '../protocol.js';
import { getModelForm } from './api.js';
import type { BlockNodeT } from './graph-file.js';

/** Wait after the model's name last changed (typing) before asking for its form, in ms. */
const LOOKUP_DELAY_MS = 300;

/**
 * Keeps the node's `modelForm` to the model `model` names (`owner/name`; undefined for none or a
 * pinned version): asks the server for it and stores it in the node's data. Returns what the
 * node should say meanwhile: looking it up, or why there is no form (unknown model, no schema).
 */
export function useModelForm(id: string, model: string | undefined, loaded: ModelForm | undefined): string | undefined {
  const { updateNodeData } = useReactFlow<BlockNodeT>();
  const [note, setNote] = useState<string>();
  const have = loaded?.model === model;
  useEffect(() => {
    if (!model || have) return setNote(undefined);
    let current = true;
    setNote(`Looking up ${model}...`);
    const timer = setTimeout(() => {
      void getModelForm(model).then((answer) => {
        if (!current) return;
        if ('error' in answer) return setNote(answer.error);
        setNote(answer.note);
        updateNodeData(id, { modelForm: answer });
      });
    }, LOOKUP_DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [id, model, have, updateNodeData]);
  return have ? loaded?.note : note;
}
