// A canvas node: the block's title and live status, one handle per input and output, its form, its images.
import { memo, useCallback, useContext } from 'react';
import { Handle, Position, useNodeConnections, useReactFlow, type NodeProps } from '@xyflow/react';
import type { JsonSchema } from '../protocol.js';
import { labelOf, portType, titleOf } from './form-schema.js';
import type { BlockNodeT } from './graph-file.js';
import { isAnyModel, modelRefOf, nodeInputOf } from './model-input.js';
import { ModelSearch } from './ModelSearch.js';
import { missingOf, NodeForm } from './NodeForm.js';
import { StudioContext } from './studio-context.js';
import { useModelForm } from './use-model-form.js';

export const BlockNode = memo(function BlockNode({ id, data, selected }: NodeProps<BlockNodeT>) {
  const { updateNodeData } = useReactFlow<BlockNodeT>();
  const { keys, problem } = useContext(StudioContext);
  const linked = useNodeConnections({ handleType: 'target' })
    .map((c) => c.targetHandle ?? '')
    .filter(Boolean);
  const onChange = useCallback(
    (values: Record<string, unknown>) => updateNodeData(id, { values }),
    [id, updateNodeData],
  );
  const inputs = Object.entries((data.block.inputSchema.properties ?? {}) as Record<string, JsonSchema>);
  const outputs = Object.entries((data.block.outputSchema.properties ?? {}) as Record<string, JsonSchema>);
  const status = data.status ?? 'idle';
  // The any-model node: its model's form in place of the JSON input, once loaded.
  const anyModel = isAnyModel(data.block);
  const modelNote = useModelForm(id, anyModel ? modelRefOf(data.values) : undefined, data.modelForm);
  const pick = useCallback(
    (model: string) =>
      updateNodeData(id, (node) => ({
        // Another model's input means nothing to this one: it starts empty.
        values: { ...node.data.values, model, ...(node.data.values.model !== model && { input: {} }) },
      })),
    [id, updateNodeData],
  );
  const { inputSchema, imageInputs } = nodeInputOf(data.block, data.values, data.modelForm, linked);
  const missing = missingOf(inputSchema, imageInputs, data.values, linked);
  // Empty fields first: the server's check of this node says the same, louder, until they are filled.
  const flagged = problem?.node === id && missing.length === 0;
  return (
    <div
      className={`block-node${selected ? ' selected' : ''}${flagged ? ' invalid' : ''}`}
      data-testid={`node-${id}`}
      data-status={status}
      title={data.block.description}
    >
      <header>
        <b>{titleOf(data.block)}</b>
        <span className="node-id">{id}</span>
        <span className={`status ${status}`} data-testid={`status-${id}`}>
          {status}
          {status === 'running' && data.percent !== undefined ? ` ${data.percent}%` : ''}
        </span>
        {status === 'running' && data.percent !== undefined && <progress max={100} value={data.percent} />}
      </header>
      <div className="ports">
        <ul className="inputs">
          {inputs.map(([name, property]) => (
            <li key={name} className="port">
              <Handle type="target" position={Position.Left} id={name} title={`${name}: ${portType(property)}`} />
              {labelOf(name, property)}
            </li>
          ))}
        </ul>
        <ul className="outputs">
          {outputs.map(([name, property]) => (
            <li key={name} className={`port${name === 'error' ? ' error-port' : ''}`}>
              {labelOf(name, property)}
              <Handle
                type="source"
                position={Position.Right}
                id={name}
                title={`${name}: ${portType(property)}`}
                className={name === 'error' ? 'error-handle' : undefined}
              />
            </li>
          ))}
        </ul>
      </div>
      {anyModel && <ModelSearch nodeId={id} onPick={pick} />}
      {modelNote && (
        <p className="model-note" data-testid={`model-note-${id}`}>
          {modelNote}
        </p>
      )}
      <NodeForm
        nodeId={id}
        inputSchema={inputSchema}
        images={imageInputs}
        values={data.values}
        linked={linked}
        keys={keys}
        onChange={onChange}
      />
      {/* Below the ports, so messages coming and going never move a handle. */}
      {data.message && <p className="node-message">{data.message}</p>}
      {missing.length > 0 && (
        <p className="node-hint" data-testid={`hint-${id}`}>
          To fill in: {missing.join(', ')}
        </p>
      )}
      {flagged && (
        <p className="node-problem" role="alert">
          {problem.error}
        </p>
      )}
      {data.previews && data.previews.length > 0 && (
        <div className="previews">
          {data.previews.map((src) => (
            <img key={src} src={src} alt={`${id} output`} className="preview" />
          ))}
        </div>
      )}
    </div>
  );
});
