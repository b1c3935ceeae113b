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

// How this peer reaches other browsers (status.paths).
const PATHS_TEXT = {
  direct: 'directly (WebRTC) where a path exists, through a node\'s relay otherwise',
  'no-webrtc': 'Direct connections are not available in this browser (it has no WebRTC): other browsers are reached through a node\'s relay.',
  private: 'Private mode: other browsers are reached only through a node\'s relay, so none of them learns your address.',
};

export function render(status) {
  $('peer-id').textContent = status.peerId;
  const paths = $('peer-paths');
  paths.textContent = PATHS_TEXT[status.paths] || '…';
  paths.dataset.paths = status.paths || '';
  const node = status.node;
  const pill = $('node-state');
  pill.dataset.state = node.state;
  pill.textContent = node.state;
  $('node-detail').textContent = describeNode(node);
  const list = $('connections');
  const peers = byPeer(status.connections);
  list.replaceChildren(...peers.map((p) => connectionItem(p, node.peerId)));
  $('conn-empty').hidden = peers.length > 0;
}

/** One entry per peer, its connections kept in order (a node may have two). */
function byPeer(connections) {
  const peers = new Map();
  for (const c of connections) {
    if (!peers.has(c.peerId)) peers.set(c.peerId, []);
    peers.get(c.peerId).push(c);
  }
  return [...peers].map(([peerId, list]) => ({ peerId, list }));
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

// What a connection is, in words, never its address (the page shows no
// IP address): browsers reach nodes over WebSocket, and other browsers
// directly over WebRTC or relayed through a node.
function connectionKind({ transport, path }, isOwnNode) {
  if (transport === 'websocket' || transport === 'tcp') return isOwnNode ? 'your node' : 'node';
  return path === 'relayed' ? 'browser · relayed through a node' : 'browser · direct';
}

function connectionItem({ peerId, list }, ownNode) {
  const li = document.createElement('li');
  const kind = document.createElement('span');
  kind.className = 'kind';
  const kinds = [...new Set(list.map((c) => connectionKind(c, peerId === ownNode)))];
  kind.textContent = kinds.join(', ');
  const who = document.createElement('div');
  const code = document.createElement('code');
  code.textContent = short(peerId);
  code.title = peerId;
  who.append(code);
  li.append(kind, who);
  li.dataset.peer = peerId;
  return li;
}

function short(id) {
  return id && id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id;
}
