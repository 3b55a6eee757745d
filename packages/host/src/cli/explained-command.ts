import { Command } from '@oclif/core';
import { asksForJson, reportFailure } from './report-failure.js';

/**
 * A command whose failures read in words (see reportFailure), as text or, with --json, as JSON.
 * MeshCommand builds on it; so do the commands that run no agent (`server`, `relay`, `version`).
 */
export abstract class ExplainedCommand extends Command {
  protected override async catch(error: Error): Promise<unknown> {
    throw await reportFailure(error, {
      json: this.jsonEnabled() || asksForJson(this.argv),
      command: this.id,
    });
  }
}
