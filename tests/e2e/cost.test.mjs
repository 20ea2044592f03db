// What a delivery costs, counted by the harness's meter (startGate's
// `meter`): in each mode, the mix of unique deliveries, the sender's
// retries and forgeries, every billable operation per unique delivery,
// printed, and held to the mode's budget (BUDGETS in ./cost.mjs). The
// numbers are printed before the budgets are checked, so a run that is over
// budget still shows what it measured.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BUDGETS, MEASURES, MIX, budgetText, costTable, fixed, measureMode, measureSweep, perDelivery, runSummary, within } from './cost.mjs';

describe('what a delivery costs', () => {
  const runs = {};

  for (const mode of Object.keys(BUDGETS)) {
    test(`${mode}: the mix is answered as a sender expects, and the meter saw it all`, async () => {
      const run = await measureMode(mode);
      runs[mode] = run;
      console.log(runSummary(run));
      assert.ok(run.settled, 'the log and queue settled');
      const accepted = mode === 'queue' ? '202 queued' : '200 delivered';
      assert.deepEqual(run.answers, { [accepted]: MIX.unique, '200 duplicate': MIX.duplicates, '401 bad-signature': MIX.forgeries });
      assert.deepEqual(run.atOrigin, { events: MIX.unique, forwards: MIX.unique }, 'each event forwarded once');
      const { unreported } = perDelivery(run);
      assert.equal(unreported, 0, 'every object request reported its rows');
      // The meter against the stores' own account: every log request here
      // is a command the log counted, all writes but the one read of the
      // paused routes the isolate makes a minute (with ADMIN_TOKEN, as
      // deployed; the run takes less than one), and each event left one
      // replay key in its store (queue mode: the forward's; the sender's
      // side hands the event off in the location's cache).
      assert.equal(run.metered.objects.DELIVERY_LOG.requests, run.own.logRequests, 'log requests = commands the log took');
      assert.equal(run.own.logRequests - run.own.logWrites, 1, 'one read of the paused routes, the rest writes');
      assert.equal(run.own.storedKeys, MIX.unique, 'replay keys stored');
      if (mode === 'queue') {
        const { queue } = run.metered;
        assert.equal(queue.messages, MIX.unique, 'one message per event');
        assert.deepEqual(queue.attempts, { delivered: MIX.unique }, 'each message consumed once');
      }
    });
  }

  test('the table, per unique delivery, against the budgets', () => {
    const measured = Object.keys(BUDGETS).filter((mode) => runs[mode]);
    assert.equal(measured.length, Object.keys(BUDGETS).length, 'every mode was measured');
    const table = costTable(measured.map((mode) => runs[mode]));
    console.log(table);
    const over = [];
    for (const mode of measured) {
      const { per } = perDelivery(runs[mode]);
      for (const [name, budget] of Object.entries(BUDGETS[mode])) {
        if (!within(per[name], budget)) over.push(`${mode}: ${MEASURES[name]} ${per[name].toFixed(3)}, budget ${budgetText(budget)}`);
      }
    }
    assert.deepEqual(over, [], `over budget:\n${over.join('\n')}`);
  });
});

describe('the meter sees what the replay shards’ alarms write', () => {
  // Marks live in one table per day, dropped whole once its last mark has
  // expired: a DROP TABLE writes no row, where deleting each mark wrote one.
  test('expired keys are swept by an alarm that writes no row', async () => {
    const sweep = await measureSweep();
    console.log(
      `sweep: ${sweep.alarms} alarms wrote ${sweep.written} rows for ${sweep.keys} keys ` +
        `(${fixed(sweep.written / sweep.keys)} rows written per key swept); the requests wrote ${sweep.requestsWritten}`,
    );
    assert.deepEqual(sweep.statuses, Array(sweep.keys).fill(200));
    assert.equal(sweep.storedBefore, sweep.keys);
    assert.equal(sweep.storedAfter, 0, 'the alarms swept every key');
    assert.ok(sweep.alarms >= 1, 'an alarm ran');
    assert.equal(sweep.written, 0, 'the sweep dropped whole tables');
  });
});
