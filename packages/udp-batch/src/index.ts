export { type AttachOptions, attach, ENV_SWITCH } from './attach.js';
export type {
  BatchUdp,
  Counters,
  DatagramHandler,
  OutgoingDatagram,
  ReceiveOptions,
  SendPath,
} from './types.js';
