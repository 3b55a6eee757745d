import type { JSONSchemaType } from 'ajv';
import type { Frame, FrameHeader } from './codec.js';
import type { JSONSchemaObject, MessageOptions } from './registry.js';

/**
 * The schema of a header's fields besides `type` (the registry adds that one). ajv's
 * JSONSchemaType checks at compile time that the schema describes exactly the TypeScript type.
 */
export type HeaderSchema<H extends FrameHeader> = JSONSchemaType<Omit<H, 'type'>>;

/** A message type declared once: its name, header schema and body rule, and for TypeScript its header. */
export interface MessageDefinition<H extends FrameHeader = FrameHeader> {
  readonly type: H['type'];
  readonly schema: JSONSchemaObject;
  readonly options: MessageOptions;
  /** Never set: carries the header's type to the frames read with this definition. */
  readonly header?: H;
}

/** The header type of one or more message definitions. */
export type HeaderOf<D> = D extends MessageDefinition<infer H> ? H : never;

/** A frame whose header the registry validated as one of the expected message types. */
export interface TypedFrame<H extends FrameHeader> {
  header: H;
  body: Buffer;
}

/**
 * Declares a message type; register it with `MessageRegistry.add`, read its frames with
 * `FrameChannel.next([definition])` or `oneOf`, and their headers come typed.
 */
export function defineMessage<H extends FrameHeader>(
  type: H['type'],
  schema: HeaderSchema<H>,
  options: MessageOptions = {},
): MessageDefinition<H> {
  return Object.freeze({ type, schema: schema as JSONSchemaObject, options });
}

/** The frame, typed, when its type is one of `definitions`; undefined otherwise. */
export function oneOf<const D extends readonly MessageDefinition[]>(
  frame: Frame,
  definitions: D,
): TypedFrame<HeaderOf<D[number]>> | undefined {
  if (!definitions.some((definition) => definition.type === frame.header.type)) return undefined;
  // A true boundary: every frame a channel delivers passed the registry's validation against the
  // schema registered for its type, which is the schema these definitions declare.
  return frame as TypedFrame<HeaderOf<D[number]>>;
}
