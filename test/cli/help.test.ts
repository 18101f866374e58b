import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { VERSION } from '../../src/cli/version.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('help and README agree', () => {
  it('--version prints the package version', async () => {
    expect(VERSION).toBe(pkg.version);
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('every command in --help has a README section, and every option of it is documented', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}(\w+) \[options\]/gm)].map((m) => m[1]!);
    expect(commands.length).toBeGreaterThan(1);
    for (const command of commands) {
      expect(readme).toContain(`### \`bridge-trace ${command}`);
      const help = await runCli([command, '--help']);
      expect(help.code).toBe(0);
      const options = [...help.stdout.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!).filter((o) => o !== '--help');
      for (const option of options) expect(readme, `${command} ${option}`).toContain(option);
    }
  });
});

describe('the README example is what analyze prints', () => {
  it('the excerpt under "Try it" appears line for line; --symbols names level2 as the README says', async () => {
    const at = readme.indexOf('installs the tool and analyzes a checked-in sample trace');
    const block = /```\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
    const r = await runCli(['analyze', 'traces/deep-nesting.legacy.batch.log']);
    expect(r.code).toBe(1);
    const printed = r.stdout.split('\n');
    for (const line of block.split('\n').filter((l) => l !== '' && l !== '…')) expect(printed).toContain(line);
    expect(r.stdout).toContain('fn 22(#127, #136)');
    expect(r.stdout).toContain('cast(callback 2v1)');
    const symbols = /`(\{"functions": [^`]*\})`/.exec(readme.slice(at))![1]!;
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'btrace-readme-')), 'symbols.json');
    writeFileSync(file, symbols);
    const named = await runCli(['analyze', 'traces/deep-nesting.legacy.batch.log', '--symbols', file]);
    expect(named.stdout).toContain('level2(#127, #136)');
  });
});
