import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { countReport, countReportFile } from '../../scripts/ci-count.ts';

/** The counting of `.ci/run`, fed real vitest reports (how they were captured: the fixtures' README). */

const FIXTURES = path.resolve('test/fixtures/vitest-reports');
const fixture = (name: string) => path.join(FIXTURES, `${name}.json`);
const report = (name: string) => JSON.parse(readFileSync(fixture(name), 'utf8')) as Parameters<typeof countReport>[0];

describe('ci-count', () => {
  it('counts the tests of a passing file', () => {
    expect(countReport(report('passing'))).toEqual({ passed: 2, failed: 0, skipped: 0 });
  });

  it('counts skipped, skipIf and todo tests as skipped', () => {
    expect(countReport(report('skipped'))).toEqual({ passed: 1, failed: 0, skipped: 3 });
  });

  it('counts a failing test once and the passing one beside it as passed', () => {
    expect(countReport(report('failing'), 1)).toEqual({ passed: 1, failed: 1, skipped: 0 });
  });

  it('counts every test of a file whose beforeAll threw as failed, not skipped', () => {
    expect(countReport(report('before-all'), 1)).toEqual({ passed: 0, failed: 3, skipped: 0 });
  });

  it('counts every test of a file whose afterAll threw as failed, not passed', () => {
    expect(countReport(report('after-all'), 1)).toEqual({ passed: 0, failed: 2, skipped: 0 });
  });

  it('counts a file that crashed while loading or collecting as a failure', () => {
    expect(countReport(report('load-crash'), 1)).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(countReport(report('top-level-throw'), 1)).toEqual({ passed: 0, failed: 1, skipped: 0 });
  });

  it('adds the files of one run up', () => {
    // passing 2, skipped 1 + 3, failing 1 + 1, before-all 3, after-all 2, load-crash 1, top-level-throw 1.
    expect(countReport(report('all'), 1)).toEqual({ passed: 4, failed: 8, skipped: 3 });
  });

  it('counts a non-zero exit with a clean report (an unhandled error) as one failure', () => {
    expect(countReport(report('unhandled'), 0)).toEqual({ passed: 1, failed: 0, skipped: 0 });
    expect(countReport(report('unhandled'), 1)).toEqual({ passed: 1, failed: 1, skipped: 0 });
  });

  it('counts a missing or unreadable report as one failure', () => {
    expect(countReportFile(path.join(FIXTURES, 'no-such-report.json'), 1)).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(countReportFile(path.join(FIXTURES, 'README.md'), 0)).toEqual({ passed: 0, failed: 1, skipped: 0 });
  });

  it('prints "passed failed skipped" when run as .ci/run runs it', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/ci-count.ts', fixture('all'), '1']);
    expect(stdout).toBe('4 8 3\n');
  });
});
