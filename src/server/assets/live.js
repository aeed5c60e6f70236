// @ts-check
// The dashboard's one script (every page works without JavaScript), for its two live views.
// The approval queue listens to /live/queue, whose `queue` events carry the server-rendered list
// of pending approvals, and adds the cards that are new and removes the ones that are gone,
// leaving the cards already shown (and whatever an approver is typing in them) untouched. An
// unfinished run's page follows /live/runs/:id/events (the run stream API's events): the model's
// text as it arrives, one line per other event; a dropped connection resumes by itself, where it
// left off (EventSource sends Last-Event-ID).
const list = document.getElementById('approval-queue');
const liveStatus = document.getElementById('live-status');
const counter = document.getElementById('pending-count');

if (list && typeof EventSource === 'function') {
  const source = new EventSource('/live/queue');
  source.addEventListener('open', () => {
    if (liveStatus) {
      liveStatus.dataset.live = 'on';
      liveStatus.textContent = ' Live: new approvals appear here.';
    }
  });
  source.addEventListener('error', () => {
    if (liveStatus) {
      liveStatus.dataset.live = 'off';
      liveStatus.textContent = ' Reconnecting…';
    }
  });
  source.addEventListener('queue', (event) => {
    merge(/** @type {MessageEvent<string>} */ (event).data);
  });
}

/** @param {string} fragment */
function merge(fragment) {
  if (!list) return;
  // The fragment is the server's own rendering (every value escaped there), parsed inert.
  const template = document.createElement('template');
  template.innerHTML = fragment;
  const incoming = template.content.querySelector('#approval-queue');
  if (!incoming) return;
  const cards = [...incoming.querySelectorAll('[data-approval-id]')];
  const wanted = new Set(cards.map((card) => card.getAttribute('data-approval-id')));
  for (const card of [...list.querySelectorAll('[data-approval-id]')]) {
    if (!wanted.has(card.getAttribute('data-approval-id'))) card.remove();
  }
  let previous = null;
  for (const card of cards) {
    const id = card.getAttribute('data-approval-id');
    const existing = [...list.querySelectorAll('[data-approval-id]')].find(
      (shown) => shown.getAttribute('data-approval-id') === id,
    );
    const node = existing ?? document.importNode(card, true);
    if (previous) previous.after(node);
    else list.prepend(node);
    previous = node;
  }
  const empty = list.querySelector('[data-empty]');
  if (cards.length > 0 && empty) empty.remove();
  if (cards.length === 0 && !empty) {
    const placeholder = incoming.querySelector('[data-empty]');
    if (placeholder) list.append(document.importNode(placeholder, true));
  }
  if (counter) counter.textContent = String(cards.length);
}

const runLive = document.getElementById('run-live');
if (runLive && typeof EventSource === 'function') followRun(runLive);

/** @param {HTMLElement} section */
function followRun(section) {
  const runId = section.dataset.runId ?? '';
  const text = document.getElementById('run-live-text');
  const events = document.getElementById('run-live-events');
  const status = document.getElementById('run-live-status');
  /** Each step's reply text, from its deltas (a catch-up or a new attempt replaces it). */
  /** @type {Map<number, { attempt: number, text: string }>} */
  const replies = new Map();
  const show = () => {
    if (text) text.textContent = [...replies.values()].map((reply) => reply.text).join('\n\n');
  };
  /** @param {string} line */
  const note = (line) => {
    if (!events) return;
    const item = document.createElement('li');
    item.textContent = line;
    events.append(item);
  };
  /** @param {string} value */
  const setStatus = (value) => {
    if (status) status.textContent = value;
  };
  const source = new EventSource(`/live/runs/${encodeURIComponent(runId)}/events`);
  source.addEventListener('open', () => setStatus(' following the run'));
  source.addEventListener('error', () => setStatus(' reconnecting…'));
  /** @param {string} type @param {(event: any) => void} handle */
  const on = (type, handle) =>
    source.addEventListener(type, (message) => {
      handle(JSON.parse(/** @type {MessageEvent<string>} */ (message).data));
    });
  on('text_delta', (event) => {
    const held = replies.get(event.step);
    if (event.catchUp || !held || held.attempt !== event.attempt)
      replies.set(event.step, { attempt: event.attempt, text: event.text });
    else held.text += event.text;
    show();
  });
  on('text_completed', (event) => {
    replies.set(event.step, { attempt: replies.get(event.step)?.attempt ?? 1, text: event.text });
    show();
  });
  on('step_started', (event) => note(`step ${event.step}`));
  on('tool_call', (event) => note(`${event.toolName} ${JSON.stringify(event.input)}`));
  on('tool_result', (event) => note(`${event.toolName} → ${event.outcome}`));
  on('approval_requested', (event) =>
    note(`waiting for approval ${event.approvalId} (group ${event.group})`),
  );
  on('approval_decided', (event) => note(`approval ${event.approvalId} ${event.decision}`));
  on('limit_hit', (event) => note(`limit ${event.limit} reached`));
  on('run_finished', (event) => {
    note(`${event.result.status}`);
    setStatus(' finished: reload for the full trace');
    source.close();
  });
}
