// @ts-check
// The approval queue, live: the one script of the dashboard (every other page works without
// JavaScript). It listens to /live/queue, whose `queue` events carry the server-rendered list of
// pending approvals, and adds the cards that are new and removes the ones that are gone, leaving
// the cards already shown (and whatever an approver is typing in them) untouched.
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
