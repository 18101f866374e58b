import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const sample = new URL('../../traces/deep-nesting.legacy.batch.log', import.meta.url).pathname;
const ANSI = /\x1b\[[0-9;]*m/;

describe('colour and debugging switches', () => {
  it('NO_COLOR wins, FORCE_COLOR forces colour on a pipe, --no-color turns it off', async () => {
    expect((await runCli(['analyze', sample], { env: { NO_COLOR: '1' } })).stdout).not.toMatch(ANSI);
    expect((await runCli(['analyze', sample], { env: { NO_COLOR: '', FORCE_COLOR: '1' } })).stdout).toMatch(ANSI);
    expect((await runCli(['analyze', '--no-color', sample], { env: { NO_COLOR: '', FORCE_COLOR: '1' } })).stdout).not.toMatch(ANSI);
    expect((await runCli(['dump', sample], { env: { NO_COLOR: '', FORCE_COLOR: '0' } })).stdout).not.toMatch(ANSI);
  });

  it('--json output is never coloured', async () => {
    const r = await runCli(['analyze', '--json', sample], { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(r.stdout).not.toMatch(ANSI);
    expect(() => JSON.parse(r.stdout)).not.toThrow();
  });

  it('--debug is accepted after the command too', async () => {
    const r = await runCli(['dump', sample, '--debug']);
    expect(r.code).toBe(0);
  });
});
