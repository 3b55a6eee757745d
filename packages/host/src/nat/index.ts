export { answerBinding, type BindingAnswerOptions } from './binding-answer.js';
export {
  type BindingOutcome,
  type BindingRequestOptions,
  BindingTransactions,
  type BindingTransactionsOptions,
} from './binding-transactions.js';
export { bytesToIp, canonicalIp, type Endpoint, ipToBytes, sameEndpoint, unmapIpv4 } from './ip.js';
export {
  type BindingProbe,
  classifyNat,
  discoverNatKind,
  type NatDiscovery,
  type NatKind,
} from './nat-kind.js';
export * from './relay-client.js';
export * from './relay-protocol.js';
export {
  BINDING,
  type DecodedStunMessage,
  decodeStun,
  encodeStun,
  isStunPacket,
  MAGIC_COOKIE,
  StunAttr,
  type StunAttribute,
  type StunClass,
  type StunDecodeFailure,
  type StunDecodeResult,
  type StunEncodeOptions,
  type StunMessage,
} from './stun.js';
export {
  errorCodeAttribute,
  findAttribute,
  readErrorCode,
  readMappedAddress,
  readSoftware,
  readUnknownAttributes,
  readUsername,
  readXorMappedAddress,
  type StunErrorCode,
  softwareAttribute,
  UNDERSTOOD_ATTRIBUTES,
  unknownAttributesAttribute,
  unknownRequiredAttributes,
  usernameAttribute,
  xorMappedAddressAttribute,
} from './stun-attributes.js';
export { verifyIntegrity } from './stun-integrity.js';
export * from './tick-corker.js';
