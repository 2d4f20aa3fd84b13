// A node's input form: rjsf 6 from the block's input JSON Schema, validated as you type.
import { memo, useMemo, useState } from 'react';
import Form from '@rjsf/core';
import type {
  FieldProps,
  ObjectFieldTemplateProps,
  RegistryFieldsType,
  RegistryWidgetsType,
  RJSFValidationError,
  UiSchema,
  WidgetProps,
} from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import type { CredentialsChoice, ImageInputs, JsonSchema } from '../protocol.js';
import { toForm, withLinked } from './form-schema.js';
import { ImageWidget } from './ImageWidget.js';

/** What every form of the page shares: the keys the server knows, by name. */
export interface FormContext {
  readonly keys: readonly CredentialsChoice[];
}

const isAdvanced = (uiSchema: UiSchema | undefined, name: string) =>
  (uiSchema?.[name] as UiSchema | undefined)?.['ui:options']?.advanced === true;

/** Fields marked `advanced` folded under "Advanced", as the AutoGPT builder shows them. */
function FoldAdvanced({ properties, uiSchema, description, title, fieldPathId }: ObjectFieldTemplateProps) {
  const basic = properties.filter((p) => !isAdvanced(uiSchema, p.name));
  const advanced = properties.filter((p) => isAdvanced(uiSchema, p.name));
  // A nested object (a model's input form) is named; the node's header names the whole form.
  const nested = fieldPathId.path.length > 0;
  return (
    <div className={nested ? 'fields nested' : 'fields'}>
      {nested && title && <b className="control-label">{title}</b>}
      {description}
      {basic.map((p) => p.content)}
      {advanced.length > 0 && (
        <details className="advanced">
          <summary>Advanced ({advanced.length})</summary>
          {advanced.map((p) => p.content)}
        </details>
      )}
    </div>
  );
}

/** The credentials field: a pick of the server's keys by name (never their values), not four text inputs. */
function CredentialsField({ formData, onChange, fieldPathId, registry, schema, required }: FieldProps) {
  const { keys } = registry.formContext as FormContext;
  const provider = ((schema.properties as Record<string, JsonSchema> | undefined)?.provider as JsonSchema | undefined)
    ?.const;
  const choices = keys.filter((key) => !provider || key.provider === provider);
  const chosen = (formData as { id?: string } | undefined)?.id ?? '';
  return (
    <div className="form-group field">
      <label htmlFor={fieldPathId.$id}>
        {schema.title ?? 'Credentials'}
        {required ? '*' : ''}
      </label>
      <select
        id={fieldPathId.$id}
        name="credentials"
        value={chosen}
        onChange={(e) =>
          onChange(
            choices.find((key) => key.id === e.target.value),
            fieldPathId.path,
          )
        }
      >
        <option value="">choose a {String(provider ?? '')} key</option>
        {choices.map((key) => (
          <option key={key.id} value={key.id}>
            {key.title}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * A free-form object field (the any-model node's input without its model's form) as JSON text;
 * invalid JSON is marked and not passed on. A field, not a widget: rjsf renders objects as their
 * properties and never through `ui:widget`.
 */
function JsonField({ formData, onChange, fieldPathId, schema, required, disabled, readonly, name }: FieldProps) {
  const [text, setText] = useState(() => JSON.stringify(formData ?? {}, null, 1));
  const [bad, setBad] = useState(false);
  return (
    <div className="form-group field">
      <label htmlFor={fieldPathId.$id}>
        {schema.title ?? name}
        {required ? '*' : ''}
      </label>
      {typeof schema.description === 'string' && <p className="field-description">{schema.description}</p>}
      <textarea
        id={fieldPathId.$id}
        className={bad ? 'bad' : ''}
        rows={3}
        value={text}
        disabled={disabled || readonly}
        onChange={(e) => {
          setText(e.target.value);
          try {
            onChange(JSON.parse(e.target.value || '{}'), fieldPathId.path);
            setBad(false);
          } catch {
            setBad(true);
          }
        }}
      />
    </div>
  );
}

const fields: RegistryFieldsType = { credentials: CredentialsField, json: JsonField };
/** A text area as tall as its text (a prompt), from three lines up. */
function TextareaWidget({ id, value, onChange, placeholder, disabled, readonly }: WidgetProps) {
  return (
    <textarea
      id={id}
      className="form-control grow"
      rows={3}
      value={typeof value === 'string' ? value : ''}
      placeholder={placeholder}
      disabled={disabled}
      readOnly={readonly}
      onChange={(e) => onChange(e.target.value === '' ? undefined : e.target.value)}
    />
  );
}

const widgets: RegistryWidgetsType = { image: ImageWidget, textarea: TextareaWidget };
const templates = { ObjectFieldTemplate: FoldAdvanced };

/** A node's form; linked inputs are disabled and not required, as their values come over links. */
export const NodeForm = memo(function NodeForm(props: {
  nodeId: string;
  inputSchema: JsonSchema;
  /** The block's image inputs: they get the image picker. */
  images: ImageInputs;
  values: Record<string, unknown>;
  linked: readonly string[];
  keys: readonly CredentialsChoice[];
  onChange: (values: Record<string, unknown>) => void;
}) {
  const { nodeId, inputSchema, images, values, linked, keys, onChange } = props;
  const linkedKey = linked.join(',');
  const { schema, uiSchema } = useMemo(() => {
    const form = toForm(inputSchema, images);
    // Only the block's own inputs: a link names them, and a graph file could name `__proto__`.
    const names = (linkedKey ? linkedKey.split(',') : []).filter((name) =>
      Object.hasOwn(form.schema.properties ?? {}, name),
    );
    const ui: UiSchema = { ...form.uiSchema };
    for (const name of names) ui[name] = { ...(ui[name] as UiSchema), 'ui:disabled': true, 'ui:help': 'linked' };
    return { schema: withLinked(form.schema, names), uiSchema: ui };
  }, [inputSchema, images, linkedKey]);
  const formContext = useMemo<FormContext>(() => ({ keys }), [keys]);
  return (
    // nodrag nowheel: typing, selecting and scrolling in the form must not drag the node or pan the canvas.
    <div className="node-form nodrag nowheel">
      <Form
        tagName="div"
        idPrefix={nodeId}
        schema={schema}
        uiSchema={uiSchema}
        formData={values}
        validator={validator}
        fields={fields}
        widgets={widgets}
        templates={templates}
        formContext={formContext}
        liveValidate="onChange"
        transformErrors={notRequired}
        showErrorList={false}
        noHtml5Validate
        onChange={(event) => onChange(event.formData as Record<string, unknown>)}
      />
    </div>
  );
});

/** A required field still empty is no error while one fills the form: the node names it quietly instead ({@link missingOf}). */
const notRequired = (errors: RJSFValidationError[]) => errors.filter((error) => error.name !== 'required');

/**
 * The titles of the required inputs still empty (linked inputs are not required); those of an
 * object's fields (a model's input form) as `Input: Prompt`.
 */
export function missingOf(
  inputSchema: JsonSchema,
  images: ImageInputs,
  values: Record<string, unknown>,
  linked: readonly string[],
): string[] {
  const { schema } = toForm(inputSchema, images);
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const nested = Object.entries(properties)
    .filter(([name, p]) => !linked.includes(name) && p.type === 'object' && p.properties)
    .flatMap(([name, p]) =>
      emptyOf(p, (values[name] ?? {}) as Record<string, unknown>).map(
        (field) => `${String(p.title ?? name)}: ${field}`,
      ),
    );
  return [...emptyOf(withLinked(schema, linked) as JsonSchema, values), ...nested];
}

/** The titles of an object schema's required fields that `values` leaves empty. */
function emptyOf(schema: JsonSchema, values: Record<string, unknown>): string[] {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  return ((schema.required ?? []) as string[])
    .filter((name) => !Object.hasOwn(values, name) || values[name] === undefined || values[name] === '')
    .map((name) => String(properties[name]?.title ?? name));
}

/** The problems a node's values have against its input schema (linked inputs not required), as rjsf words them. */
export function problemsOf(
  inputSchema: JsonSchema,
  images: ImageInputs,
  values: Record<string, unknown>,
  linked: readonly string[],
): string[] {
  const schema = withLinked(toForm(inputSchema, images).schema, linked);
  return [
    ...missingOf(inputSchema, images, values, linked).map((title) => `'${title}' is empty`),
    ...notRequired(validator.validateFormData(values, schema).errors).map((error) => error.stack),
  ];
}
