/** `plugins.terminal` in the agent's config. */
export interface TerminalConfig {
  /** Output bytes queued for one viewer before it is resynchronised with a fresh snapshot. */
  viewerBufferBytes: number;
  /** Seconds a viewer may accept nothing before it is dropped. */
  viewerStallSeconds: number;
}

export const terminalConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    viewerBufferBytes: {
      type: 'integer',
      minimum: 64 * 1024,
      maximum: 1024 * 1024 * 1024,
      default: 8 * 1024 * 1024,
    },
    viewerStallSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
  },
} as const;

/** Under the name package.json#meshAgent.config promises. */
export { terminalConfigSchema as configSchema };
