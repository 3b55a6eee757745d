import { Ajv, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';
import type { Frame, FrameHeader } from './codec.js';
import { WireError } from './errors.js';
import type { MessageDefinition } from './message.js';

/** A JSON Schema (draft-07) for a message header. */
export type JSONSchemaObject = Record<string, unknown>;

/** Whether a message type carries a binary body. */
export type BodyRule = 'none' | 'optional' | 'required';

export interface MessageOptions {
  /** Default 'none': most messages are control messages without a body. */
  body?: BodyRule;
  /** Largest accepted body in bytes; default: only the frame limit applies. */
  maxBody?: number;
}

interface MessageSpec {
  validate: ValidateFunction;
  body: BodyRule;
  maxBody: number;
}

export interface MessageRegistryOptions {
  /** An ajv instance to compile with (e.g. with formats added); default a draft-07 one. */
  ajv?: Ajv;
}

/**
 * The message types a channel accepts, each with its header schema compiled once by ajv and
 * its body rule. Frames of unregistered types are rejected.
 */
export class MessageRegistry {
  private readonly ajv: Ajv;
  private readonly specs = new Map<string, MessageSpec>();

  constructor(options: MessageRegistryOptions = {}) {
    this.ajv = options.ajv ?? new Ajv({ allErrors: false, removeAdditional: false, useDefaults: false });
  }

  /** Registers a message type; its schema gets `type: { const: <type> }` added and required. */
  register(type: string, schema: JSONSchemaObject, options: MessageOptions = {}): void {
    if (typeof type !== 'string' || type.length === 0) {
      throw new TypeError('message type must be a non-empty string');
    }
    if (this.specs.has(type)) throw new Error(`message type ${type} is already registered`);
    const body = options.body ?? 'none';
    if (body !== 'none' && body !== 'optional' && body !== 'required') {
      throw new TypeError(`${type}: body rule must be 'none', 'optional' or 'required', got ${String(body)}`);
    }
    const maxBody = options.maxBody ?? Number.POSITIVE_INFINITY;
    if (!(maxBody >= 0)) throw new RangeError(`${type}: maxBody must be a non-negative number`);
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(withTypeConst(type, schema));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`${type}: schema does not compile: ${reason}`, { cause: error });
    }
    this.specs.set(type, { validate, body, maxBody });
  }

  /** Registers message types declared with `defineMessage`. */
  add(...definitions: readonly MessageDefinition[]): void {
    for (const { type, schema, options } of definitions) this.register(type, schema, options);
  }

  has(type: string): boolean {
    return this.specs.has(type);
  }

  /** Registered types, in registration order. */
  types(): string[] {
    return [...this.specs.keys()];
  }

  /** Throws UNKNOWN_TYPE or INVALID_MESSAGE unless the frame's header and body are acceptable. */
  validate(frame: Frame): void {
    const spec = this.lookup(frame.header);
    const type = frame.header.type;
    if (!spec.validate(frame.header)) {
      throw new WireError('INVALID_MESSAGE', `${type}: ${describeError(spec.validate.errors)}`);
    }
    const size = frame.body.length;
    if (spec.body === 'none' && size > 0) {
      throw new WireError('INVALID_MESSAGE', `${type}: takes no body, got ${size} bytes`);
    }
    if (spec.body === 'required' && size === 0) {
      throw new WireError('INVALID_MESSAGE', `${type}: a body is required`);
    }
    if (size > spec.maxBody) {
      throw new WireError(
        'INVALID_MESSAGE',
        `${type}: body of ${size} bytes exceeds the ${spec.maxBody}-byte limit`,
      );
    }
  }

  private lookup(header: FrameHeader): MessageSpec {
    // Typed as a string, but validate() may be handed a header that was never checked.
    const type: unknown = header.type;
    const spec = typeof type === 'string' ? this.specs.get(type) : undefined;
    if (!spec) {
      throw new WireError('UNKNOWN_TYPE', `unknown message type ${JSON.stringify(type) ?? String(type)}`);
    }
    return spec;
  }
}

/** Adds the `type` const to a copy of the schema, keeping the author's other rules intact. */
function withTypeConst(type: string, schema: JSONSchemaObject): SchemaObject {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new TypeError(`${type}: schema must be a JSON Schema object`);
  }
  if (schema.type !== undefined && schema.type !== 'object') {
    throw new TypeError(
      `${type}: a header schema must have type "object", got ${JSON.stringify(schema.type)}`,
    );
  }
  const properties = isRecord(schema.properties) ? schema.properties : {};
  const typeConst = { const: type };
  const typeRule = properties.type === undefined ? typeConst : { allOf: [properties.type, typeConst] };
  const required = Array.isArray(schema.required) ? schema.required : [];
  return {
    ...schema,
    type: 'object',
    properties: { ...properties, type: typeRule },
    required: required.includes('type') ? required : ['type', ...required],
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "path rule", e.g. "/offset must be integer" or "(header) must NOT have additional property 'x'". */
function describeError(errors: ErrorObject[] | null | undefined): string {
  const error = errors?.[0];
  if (!error) return 'header is invalid';
  const path = error.instancePath === '' ? '(header)' : error.instancePath;
  const extra = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') {
    return `${path} must NOT have additional property '${String(extra.additionalProperty)}'`;
  }
  return `${path} ${error.message ?? `fails ${error.keyword}`}`;
}
