export { type AttachOptions, attach, ENV_SWITCH } from './attach.js';
export type {
  BatchUdp,
  DatagramHandler,
  OutgoingDatagram,
  ReceiveOptions,
  SendCounters,
  SendPath,
} from './types.js';
