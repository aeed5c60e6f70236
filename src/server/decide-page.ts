/**
 * The page a notification's decide link opens in a browser: it holds no data of its own. The
 * approver pastes their token; the page reads the approval through the API with it, shows the
 * exact arguments and their hash, and posts the decision bound to that hash. Its inline script
 * and style run under the Content-Security-Policy only with the response's `nonce`.
 */
export function decidePage(approvalId: string, nonce?: string): string {
  const nonceAttribute =
    nonce === undefined ? '' : ` nonce="${nonce.replace(/[^A-Za-z0-9+/=]/g, '')}"`;
  const id = JSON.stringify(approvalId).replaceAll('<', '\\u003c');
  const title = approvalId.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Keel approval ${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style${nonceAttribute}>body{font:15px system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}
pre{background:#f4f4f4;padding:.75rem;overflow:auto}input,textarea{width:100%;box-sizing:border-box}
button{margin:.5rem .5rem 0 0;padding:.4rem 1rem}#out{font-weight:600}</style></head>
<body><h1>Approval <code>${title}</code></h1>
<label>Approver token <input id="token" type="password" autocomplete="off"></label>
<button id="load">Show the call</button>
<div id="call" hidden><pre id="details"></pre>
<label>Reason <textarea id="reason" rows="2"></textarea></label>
<button id="approve">Approve</button><button id="deny">Deny</button></div>
<p id="out"></p>
<script${nonceAttribute}>
const id = ${id};
const $ = (name) => document.getElementById(name);
let argsHash = null;
async function call(method, path, body) {
  const response = await fetch(path, { method, headers: { authorization: 'Bearer ' + $('token').value.trim(), 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  const json = await response.json();
  if (!response.ok) throw new Error(json.error ? json.error.code + ': ' + json.error.message : 'HTTP ' + response.status);
  return json;
}
$('load').onclick = async () => {
  try {
    const { approval } = await call('GET', './' + encodeURIComponent(id));
    argsHash = approval.argsHash;
    $('details').textContent = JSON.stringify({ tool: approval.toolName, arguments: approval.args, argsHash: approval.argsHash, why: approval.gateReason, group: approval.approverGroup, state: approval.state, expires: approval.expiresAt, run: approval.runId }, null, 2);
    $('call').hidden = false; $('out').textContent = '';
  } catch (error) { $('out').textContent = error.message; }
};
for (const decision of ['approve', 'deny']) {
  $(decision).onclick = async () => {
    try {
      const reason = $('reason').value.trim();
      const { approval } = await call('POST', './' + encodeURIComponent(id) + '/decision', { decision, argsHash, ...(reason ? { reason } : {}) });
      $('out').textContent = approval.state + ' by ' + approval.decidedBy;
    } catch (error) { $('out').textContent = error.message; }
  };
}
</script></body></html>`;
}
