export { BodyPool } from './body-pool.js';
export { FrameChannel, type FrameChannelOptions } from './channel.js';
export {
  assertFrameHeader,
  DEFAULT_MAX_FRAME,
  EMPTY_BODY,
  encodeFrame,
  encodeFrameParts,
  type Frame,
  type FrameHeader,
  MAX_HEADER,
  MAX_U32,
  PREFIX_BYTES,
} from './codec.js';
export { FrameDecoder, type FrameDecoderOptions, parseHeader } from './decoder.js';
export { isWireError, WireError, type WireErrorCode } from './errors.js';
export {
  defineMessage,
  type HeaderOf,
  type HeaderSchema,
  type MessageDefinition,
  oneOf,
  type TypedFrame,
} from './message.js';
export {
  type BodyRule,
  type JSONSchemaObject,
  type MessageOptions,
  MessageRegistry,
  type MessageRegistryOptions,
} from './registry.js';
export { failureHeader, HEX_256, strictHeader, UINT53 } from './schema-parts.js';
