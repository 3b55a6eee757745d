import type { Endpoint } from './ip.js';
import { BINDING, encodeStun, type StunAttribute, type StunMessage } from './stun.js';
import {
  errorCodeAttribute,
  softwareAttribute,
  UNDERSTOOD_ATTRIBUTES,
  unknownAttributesAttribute,
  unknownRequiredAttributes,
  xorMappedAddressAttribute,
} from './stun-attributes.js';

export interface BindingAnswerOptions {
  /** SOFTWARE to name in responses; none when empty or absent. */
  software?: string;
  /**
   * Signs the response with MESSAGE-INTEGRITY-SHA256, for answering an authenticated probe.
   * Checking the request's own integrity is the caller's job, before asking for an answer.
   */
  integrityKey?: Uint8Array;
  /** Comprehension-required attribute types to accept; default UNDERSTOOD_ATTRIBUTES. */
  understood?: ReadonlySet<number>;
}

/**
 * The datagram a STUN server sends back for `message`, received from `source` (RFC 8489 §6.3):
 * a Binding success response carrying the source as XOR-MAPPED-ADDRESS, or a 420 error listing
 * the comprehension-required attributes it did not understand. Undefined for anything but a
 * Binding request, which must go unanswered. Responses end in a FINGERPRINT.
 */
export function answerBinding(
  message: StunMessage,
  source: Endpoint,
  options: BindingAnswerOptions = {},
): Buffer | undefined {
  if (message.class !== 'request' || message.method !== BINDING) return undefined;
  const { transactionId } = message;
  const unknown = unknownRequiredAttributes(message, options.understood ?? UNDERSTOOD_ATTRIBUTES);
  const software: StunAttribute[] = options.software ? [softwareAttribute(options.software)] : [];
  const reply: StunMessage =
    unknown.length > 0
      ? {
          method: BINDING,
          class: 'error',
          transactionId,
          attributes: [
            errorCodeAttribute({ code: 420, reason: 'Unknown Attribute' }),
            unknownAttributesAttribute(unknown),
            ...software,
          ],
        }
      : {
          method: BINDING,
          class: 'success',
          transactionId,
          attributes: [xorMappedAddressAttribute(source, transactionId), ...software],
        };
  return encodeStun(reply, { integrityKey: options.integrityKey, fingerprint: true });
}
