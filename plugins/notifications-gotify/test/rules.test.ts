import { describe, expect, it } from 'vitest';
import { DEFAULT_RULES, type NotificationRule } from '../src/config.js';
import { buildMessage, eventMatches, findRule } from '../src/rules.js';

describe('eventMatches', () => {
  it('matches exact names', () => {
    expect(eventMatches('transfer.completed', 'transfer.completed')).toBe(true);
    expect(eventMatches('transfer.completed', 'transfer.completedx')).toBe(false);
    expect(eventMatches('transfer.completed', 'transferXcompleted')).toBe(false);
  });

  it('expands * over any characters', () => {
    expect(eventMatches('transfer.*', 'transfer.failed')).toBe(true);
    expect(eventMatches('transfer.*', 'terminal.started')).toBe(false);
    expect(eventMatches('*', 'anything.at.all')).toBe(true);
    expect(eventMatches('*.failed', 'folder.zip.failed')).toBe(true);
    expect(eventMatches('a*c', 'abbbc')).toBe(true);
    expect(eventMatches('a*c', 'abbbd')).toBe(false);
  });

  it('keeps *.progress events out of wildcard rules unless the rule names them', () => {
    expect(eventMatches('*', 'transfer.progress')).toBe(false);
    expect(eventMatches('transfer.*', 'transfer.progress')).toBe(false);
    expect(eventMatches('transfer.progress', 'transfer.progress')).toBe(true);
    expect(eventMatches('*.progress', 'transfer.progress')).toBe(true);
    expect(eventMatches('*', 'transfer.progressed')).toBe(true);
  });

  it('treats regex characters in patterns literally', () => {
    expect(eventMatches('a+b.*', 'a+b.c')).toBe(true);
    expect(eventMatches('a+b.*', 'aab.c')).toBe(false);
  });
});

describe('findRule', () => {
  const rules: NotificationRule[] = [
    { event: 'transfer.failed', message: 'specific' },
    { event: 'transfer.*', message: 'family' },
    { event: '*', message: 'any' },
  ];
  it('takes the first matching rule', () => {
    expect(findRule(rules, 'transfer.failed')?.message).toBe('specific');
    expect(findRule(rules, 'transfer.completed')?.message).toBe('family');
    expect(findRule(rules, 'terminal.started')?.message).toBe('any');
    expect(findRule(rules, 'transfer.progress')).toBeUndefined();
    expect(findRule([], 'x')).toBeUndefined();
  });

  it('matches payload fields when a rule has `match`', () => {
    const matching: NotificationRule[] = [
      { event: 'transfer.*', match: { direction: 'receive' }, message: 'in' },
      { event: 'transfer.*', message: 'other' },
    ];
    expect(findRule(matching, 'transfer.completed', { direction: 'receive' })?.message).toBe('in');
    expect(findRule(matching, 'transfer.completed', { direction: 'send' })?.message).toBe('other');
    expect(findRule(matching, 'transfer.completed')?.message).toBe('other');
  });

  it('default rules notify received and failed incoming files and folders and control requests, nothing else', () => {
    const incoming = { direction: 'receive' };
    expect(findRule(DEFAULT_RULES, 'folder.completed', incoming)).toBeDefined();
    expect(findRule(DEFAULT_RULES, 'folder.failed', incoming)).toBeDefined();
    expect(findRule(DEFAULT_RULES, 'folder.completed', { direction: 'send' })).toBeUndefined();
    expect(findRule(DEFAULT_RULES, 'folder.started', incoming)).toBeUndefined();
    expect(findRule(DEFAULT_RULES, 'folder.progress', incoming)).toBeUndefined();
    expect(findRule(DEFAULT_RULES, 'transfer.completed', incoming)).toBeDefined();
    expect(findRule(DEFAULT_RULES, 'transfer.failed', incoming)).toBeDefined();
    expect(findRule(DEFAULT_RULES, 'transfer.completed', { direction: 'send' })).toBeUndefined();
    expect(findRule(DEFAULT_RULES, 'transfer.failed', { direction: 'send' })).toBeUndefined();
    expect(findRule(DEFAULT_RULES, 'terminal.control_requested')).toBeDefined();
    expect(findRule(DEFAULT_RULES, 'transfer.started')).toBeUndefined();
    expect(findRule(DEFAULT_RULES, 'transfer.progress')).toBeUndefined();
  });
});

describe('buildMessage', () => {
  const ctx = {
    event: 'transfer.completed',
    agentId: 'alice',
    payload: { name: 'a.txt', size: 5, event: 'spoofed' },
  };

  it('renders title and message with payload fields, event and agentId', () => {
    const rule: NotificationRule = {
      event: 'transfer.*',
      title: '{{agentId}}: {{event}}',
      message: '{{name}} ({{size}} bytes)',
    };
    expect(buildMessage(rule, ctx, 5)).toEqual({
      title: 'alice: transfer.completed',
      message: 'a.txt (5 bytes)',
      priority: 5,
    });
  });

  it('uses the rule priority, markdown and click URL extras', () => {
    const rule: NotificationRule = {
      event: '*',
      message: '**{{name}}**',
      priority: 9,
      markdown: true,
      clickUrl: 'https://files.example/{{name}}',
    };
    expect(buildMessage(rule, ctx, 5)).toEqual({
      title: 'transfer.completed',
      message: '**a.txt**',
      priority: 9,
      extras: {
        'client::display': { contentType: 'text/markdown' },
        'client::notification': { click: { url: 'https://files.example/a.txt' } },
      },
    });
  });

  it('never sends an empty message, and omits a click URL that renders empty', () => {
    const rule: NotificationRule = { event: '*', message: '{{nothing}}', clickUrl: '{{nothing}}' };
    const message = buildMessage(rule, ctx, 0);
    expect(message.message).toBe('transfer.completed');
    expect(message.extras).toBeUndefined();
  });
});
