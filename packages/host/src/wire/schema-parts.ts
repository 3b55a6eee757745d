import type { JSONSchemaObject } from './registry.js';

/**
 * A header schema that lists every field it allows: unknown fields are rejected, so a peer
 * cannot smuggle data past validation. `type` is added by the registry.
 */
export function strictHeader(required: string[], properties: Record<string, unknown>): JSONSchemaObject {
  return { type: 'object', additionalProperties: false, required, properties };
}

/** A byte count or offset: a non-negative integer JavaScript represents exactly. */
export const UINT53 = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

/** A SHA-256 or BLAKE3 digest as lowercase hex. */
export const HEX_256 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

/**
 * The header of a refusal or failure: a `code` from `codes`, for tools to branch on, and a
 * `reason` for people (bounded: it is printed and logged).
 */
export function failureHeader(codes: readonly string[]): JSONSchemaObject {
  return strictHeader(['code', 'reason'], {
    code: { enum: [...codes] },
    reason: { type: 'string', maxLength: 1024 },
  });
}
