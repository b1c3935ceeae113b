// Renders a peer status snapshot (see crate/src/peer/status.rs) into the page.

const $ = (id) => document.getElementById(id);

export function showError(message) {
  const el = $('error');
  el.textContent = message;
  el.hidden = false;
}

/** A calm, non-blocking note at the top of the page. */
export function showNotice(message) {
  const el = $('notice');
  el.textContent = message;
  el.hidden = false;
}

const ROLE_TEXT = {
  host: 'This tab runs this browser\'s meganet peer; other meganet tabs work through it. It keeps its identity in this browser.',
  client: 'Connected through another meganet tab, which runs this browser\'s peer. If that tab closes, this one takes over.',
  starting: 'The tab that ran the peer closed: starting the peer in this tab…',
  alone: 'This tab is a peer of the meganet network. It keeps its identity in this browser.',
};

/** Says which tab runs the peer (see peer-host.js for the roles). */
export function renderRole(role) {
  $('peer-role').textContent = ROLE_TEXT[role] || ROLE_TEXT.alone;
  const via = $('peer-via');
  via.hidden = role !== 'client' && role !== 'starting';
  via.textContent = role === 'starting' ? 'taking over…' : 'via another tab';
  document.documentElement.dataset.peerRole = role;
}

export function render(status) {
  $('peer-id').textContent = status.peerId;
  const node = status.node;
  const pill = $('node-state');
  pill.dataset.state = node.state;
  pill.textContent = node.state;
  $('node-detail').textContent = describeNode(node);
  const list = $('connections');
  list.replaceChildren(...status.connections.map(connectionItem));
  $('conn-empty').hidden = status.connections.length > 0;
}

function describeNode(node) {
  switch (node.state) {
    case 'connected':
      return `connected over ${node.transport} to ${short(node.peerId)}`;
    case 'unreachable': {
      const retry = node.retryInMs != null ? `; retrying in ${Math.ceil(node.retryInMs / 1000)} s` : '';
      return `cannot reach the node (${node.error || 'unknown error'})${retry}`;
    }
    default:
      return 'connecting…';
  }
}

function connectionItem(c) {
  const li = document.createElement('li');
  const kind = document.createElement('span');
  kind.className = 'kind';
  kind.textContent = `${c.transport} · ${c.path}`;
  const who = document.createElement('div');
  const code = document.createElement('code');
  code.textContent = c.peerId;
  who.append(code);
  const addr = document.createElement('div');
  addr.className = 'muted';
  addr.textContent = c.addr;
  li.append(kind, who, addr);
  li.dataset.peer = c.peerId;
  return li;
}

function short(id) {
  return id && id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id;
}
