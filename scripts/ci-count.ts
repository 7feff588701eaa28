/**
 * Counts a vitest JSON report for `.ci/run`: `node --import tsx scripts/ci-count.ts <report> <exit status>`
 * prints "passed failed skipped".
 *
 * What the report says (vitest 4, see test/fixtures/vitest-reports/): a file whose beforeAll threw
 * lists its tests as "skipped", one whose afterAll threw lists them as "passed", and one that could
 * not load lists none; each of them has the file status "failed" and no failed test. Such a file
 * counts all its tests (at least one) as failed. An error outside every file (an unhandled
 * rejection, say) leaves the report clean but makes vitest exit non-zero: that counts as one failure.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface Counts {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

interface Report {
  readonly testResults: readonly {
    readonly status: string;
    readonly assertionResults: readonly { readonly status: string }[];
  }[];
}

/** Tests that did not run: skipped (`.skip`, `skipIf`), todo, and pending. */
const NOT_RUN = new Set(['skipped', 'pending', 'todo', 'disabled']);

export function countReport(report: Report, exitStatus = 0): Counts {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const file of report.testResults) {
    const tests = file.assertionResults;
    const brokenOutsideTests = file.status === 'failed' && !tests.some((test) => test.status === 'failed');
    if (brokenOutsideTests) {
      failed += Math.max(1, tests.length);
      continue;
    }
    for (const test of tests) {
      if (test.status === 'passed') passed++;
      else if (test.status === 'failed') failed++;
      else if (NOT_RUN.has(test.status)) skipped++;
      // A status this script does not know is not a pass.
      else failed++;
    }
  }
  if (exitStatus !== 0 && failed === 0) failed = 1;
  return { passed, failed, skipped };
}

/** Counts the report at `file`; a missing or unreadable report is one failure. */
export function countReportFile(file: string, exitStatus: number): Counts {
  let report: Report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as Report;
    if (!Array.isArray(report.testResults)) throw new Error('no testResults');
  } catch {
    return { passed: 0, failed: 1, skipped: 0 };
  }
  return countReport(report, exitStatus);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file = '', exitStatus = '0'] = process.argv.slice(2);
  const { passed, failed, skipped } = countReportFile(file, Number(exitStatus));
  console.log(`${passed} ${failed} ${skipped}`);
}
