// Private mode: the peer never connects to another browser directly, so
// no other browser learns this one's network address; transfers between
// browsers go through nodes' relays. The choice is kept in localStorage
// and taken when the peer starts (Peer.start's `private`), so changing it
// reloads the page.

const KEY = 'meganet-private';

/** Whether private mode is on (off where storage is blocked). */
export function privateMode() {
  try {
    return localStorage.getItem(KEY) === '1';
  } catch {
    return false;
  }
}

function save(on) {
  try {
    if (on) localStorage.setItem(KEY, '1');
    else localStorage.removeItem(KEY);
    return true;
  } catch {
    return false;
  }
}

/** Wires the page's switch: shows the choice, and on a change keeps it and reloads. */
export function wirePrivateSwitch(input, note) {
  if (!input) return;
  input.checked = privateMode();
  input.addEventListener('change', () => {
    if (!save(input.checked)) {
      input.checked = !input.checked;
      note.textContent = 'This browser does not let the page keep the choice here.';
      note.hidden = false;
      return;
    }
    note.textContent = 'Restarting the peer…';
    note.hidden = false;
    location.reload();
  });
}
