import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { EVENT_TYPE_PATTERN, isCorePlane, RELAY_FIELDS, UUID_PATTERN } from './constants.js';
import type { Envelope, ErrorData, EventDirection } from './protocol.js';
import { CORE_EVENT_SCHEMAS, ENVELOPE_SCHEMA, RELAY_SCHEMAS } from './schemas.js';

/** A draft-07 JSON schema object. */
export type JsonSchema = Record<string, unknown>;

export interface EventSchemas {
  to_server?: JsonSchema;
  to_agent?: JsonSchema;
}

export type ValidationResult = { ok: true; envelope: Envelope } | { ok: false; error: ErrorData };

interface CompiledEvent {
  to_server?: ValidateFunction;
  to_agent?: ValidateFunction;
}

const TYPE_REGEX = new RegExp(EVENT_TYPE_PATTERN);
const UUID_REGEX = new RegExp(UUID_PATTERN);

/**
 * Every event type the agent or server knows, each with its compiled data schema. The core
 * catalogue (`system.*`, `room.*`, `p2p.*`) is built in; plugins add schemas for the events
 * of their own planes (`term.*` …). Plugin events without a schema are still accepted when
 * their routing fields are valid, since the server relays what it does not understand.
 */
export class EventRegistry {
  readonly #ajv = new Ajv({ strict: true, allErrors: false });
  readonly #envelope: ValidateFunction;
  readonly #relay: CompiledEvent;
  readonly #core = new Map<string, CompiledEvent>();
  readonly #plugin = new Map<string, ValidateFunction>();

  constructor() {
    this.#ajv.addFormat('ip', { type: 'string', validate: (value: string) => isIP(value) !== 0 });
    this.#envelope = this.#ajv.compile(ENVELOPE_SCHEMA);
    this.#relay = this.#compileBoth(RELAY_SCHEMAS);
    for (const [type, schemas] of Object.entries(CORE_EVENT_SCHEMAS)) {
      this.#core.set(type, this.#compileBoth(schemas));
    }
  }

  /**
   * Adds the data schema of a plugin event type. It applies in both directions and never sees
   * the routing fields (`to`, `to_conn`, `from`, `from_conn`).
   */
  register(type: string, dataSchema: JsonSchema): void {
    if (!TYPE_REGEX.test(type))
      throw new TypeError(`invalid event type "${type}": expected "<plane>.<name>"`);
    if (isCorePlane(type))
      throw new TypeError(`event type "${type}" belongs to a core plane; plugins cannot define it`);
    if (this.#plugin.has(type)) throw new TypeError(`event type "${type}" is already registered`);
    let validate: ValidateFunction;
    try {
      validate = this.#ajv.compile(dataSchema);
    } catch (error) {
      throw new TypeError(`invalid schema for event type "${type}": ${(error as Error).message}`);
    }
    this.#plugin.set(type, validate);
  }

  /** True for core event types and plugin types with a registered schema. */
  has(type: string): boolean {
    return this.#core.has(type) || this.#plugin.has(type);
  }

  /** Checks an already parsed message as an envelope travelling in `direction`. */
  validate(value: unknown, direction: EventDirection): ValidationResult {
    if (!this.#envelope(value)) {
      return fail(
        'invalid_envelope',
        `invalid envelope: ${this.#errors(this.#envelope.errors, 'envelope')}`,
        value,
      );
    }
    const envelope = value as Envelope;
    const validateData = isCorePlane(envelope.type)
      ? this.#core.get(envelope.type)?.[direction]
      : this.#relay[direction];
    if (!validateData) {
      const known = this.#core.has(envelope.type);
      const message = known
        ? `event type "${envelope.type}" is not sent ${direction === 'to_server' ? 'by agents' : 'by the server'}`
        : `unknown event type "${envelope.type}"`;
      return fail('unknown_event', message, envelope);
    }
    if (!validateData(envelope.data)) {
      return fail(
        'invalid_event',
        `invalid ${envelope.type}: ${this.#errors(validateData.errors, 'data')}`,
        envelope,
      );
    }
    const validatePlugin = this.#plugin.get(envelope.type);
    if (validatePlugin && !validatePlugin(withoutRelayFields(envelope.data))) {
      return fail(
        'invalid_event',
        `invalid ${envelope.type}: ${this.#errors(validatePlugin.errors, 'data')}`,
        envelope,
      );
    }
    return { ok: true, envelope };
  }

  /** Parses JSON text and validates it; never throws. */
  parse(text: string, direction: EventDirection): ValidationResult {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return fail('invalid_json', `message is not valid JSON: ${(error as Error).message}`, undefined);
    }
    return this.validate(value, direction);
  }

  #compileBoth(schemas: EventSchemas): CompiledEvent {
    const compiled: CompiledEvent = {};
    if (schemas.to_server) compiled.to_server = this.#ajv.compile(schemas.to_server);
    if (schemas.to_agent) compiled.to_agent = this.#ajv.compile(schemas.to_agent);
    return compiled;
  }

  #errors(errors: ErrorObject[] | null | undefined, dataVar: string): string {
    return this.#ajv.errorsText(errors, { dataVar });
  }
}

function withoutRelayFields(data: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...data };
  for (const field of RELAY_FIELDS) delete copy[field];
  return copy;
}

/** An error result; `ref_id` echoes the offending envelope's id when it has a usable one. */
function fail(code: ErrorData['code'], message: string, value: unknown): ValidationResult {
  const error: ErrorData = { code, message };
  const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
  if (typeof id === 'string' && UUID_REGEX.test(id)) error.ref_id = id;
  return { ok: false, error };
}

let defaultRegistry: EventRegistry | undefined;

function sharedRegistry(): EventRegistry {
  defaultRegistry ??= new EventRegistry();
  return defaultRegistry;
}

/** Validates against `registry`, or a shared registry holding the core catalogue only. */
export function validateEnvelope(
  value: unknown,
  direction: EventDirection,
  registry: EventRegistry = sharedRegistry(),
): ValidationResult {
  return registry.validate(value, direction);
}

/** Parses JSON text and validates it against `registry` (core catalogue by default). */
export function parseEnvelope(
  text: string,
  direction: EventDirection,
  registry: EventRegistry = sharedRegistry(),
): ValidationResult {
  return registry.parse(text, direction);
}

export function createEnvelope<D>(type: string, data: D, id: string = randomUUID()): Envelope<D> {
  return { type, id, data };
}
