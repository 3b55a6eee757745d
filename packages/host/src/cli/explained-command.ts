import { Command } from '@oclif/core';
import { asksForJson, reportFailure } from './report-failure.js';

/**
 * A command whose failures read in words (see reportFailure), as text or, with --json, as JSON.
 * MeshCommand builds on it; so do the commands that run no agent (`server`, `relay`, `version`).
 */
export abstract class ExplainedCommand extends Command {
  protected override async catch(error: Error): Promise<unknown> {
    throw await explainFailure(this, error);
  }
}

/**
 * What ExplainedCommand's catch does, for commands that extend another class (the plugins
 * commands extend plugin-plugins' ones): reports the failure and returns the error to throw.
 */
export function explainFailure(command: Command, error: Error) {
  return reportFailure(error, {
    json: command.jsonEnabled() || asksForJson(command.argv),
    command: command.id,
  });
}
