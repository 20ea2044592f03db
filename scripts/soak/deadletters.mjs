// Queue mode's dead letters through the admin API: listing them, watching
// during the load that each stays listed until the event moves on, and
// retrying them at the end as an operator would.
import { call } from './client.mjs';
import { ADMIN_TOKEN } from './shared.mjs';

export async function admin(lane, path, method = 'GET') {
  return call(lane.gate.url, { method, path: `/_hookgate${path}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
}

/** Every dead letter the admin API lists, page by page; null if it failed. */
export async function deadLetters(lane) {
  const letters = [];
  let cursor = null;
  do {
    const listed = await admin(lane, `/deliveries?outcome=dead&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (listed.status !== 200) {
      lane.violation(`admin: GET /deliveries?outcome=dead answered ${listed.status} ${listed.reason}`);
      return null;
    }
    letters.push(...listed.json.deliveries);
    cursor = listed.json.cursor;
  } while (cursor);
  return letters;
}

/**
 * During the load: a dead letter, once listed, must stay listed until the
 * event moves on (queued again, retried, delivered), or the operator who
 * looks for dead letters there never finds it.
 */
export async function watchDeadLetters(lane) {
  const letters = await deadLetters(lane);
  if (!letters) return;
  const listed = new Set(letters.map((letter) => `${letter.route} ${letter.key}`));
  for (const letter of letters) {
    lane.deadSeen.set(`${letter.route} ${letter.key}`, letter);
    lane.deadEver.add(`${letter.route} ${letter.key}`);
  }
  for (const [id, letter] of lane.deadSeen) {
    if (listed.has(id)) continue;
    lane.deadSeen.delete(id);
    const record = (await admin(lane, `/deliveries/${encodeURIComponent(letter.key)}?route=${encodeURIComponent(letter.route)}`)).json;
    if (record?.dead_letter && !['queued', 'retrying', 'delivered', 'dead'].includes(record.outcome)) {
      lane.violation(`a dead letter left the listing of dead letters while still kept: ${letter.route} ${letter.key} now shows outcome ${record.outcome}`);
    }
  }
}

export async function retryDeadLetters(lane) {
  const letters = await deadLetters(lane);
  for (const letter of letters ?? []) {
    const answer = await admin(lane, `/deliveries/${encodeURIComponent(letter.key)}/retry?route=${encodeURIComponent(letter.route)}`, 'POST');
    if (answer.status === 202) lane.operatorRetries += 1;
    else if (answer.status !== 409) lane.violation(`admin retry of ${letter.key}: ${answer.status} ${answer.reason}`);
  }
}
