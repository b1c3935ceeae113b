// Copy buttons: write a link to the clipboard and say so on the button and in
// a live region, so the confirmation is seen and heard.

/**
 * Copies `text`; resolves to whether it worked. Falls back to the old
 * selection command where the async clipboard is missing (plain http on a
 * LAN address) or refused; `select` puts the text in a selection for it.
 */
export async function copyText(text, select) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!select) return false;
    select();
    try { return document.execCommand('copy'); } catch { return false; }
  }
}

/**
 * Wires `button` to copy `getText()`. The button reads "Copied" for two
 * seconds; `status` (a live region) gets the sentence a screen reader says.
 * If nothing could be copied, the text is left selected (`select`) or shown
 * in a prompt, for a manual copy.
 */
export function wireCopyButton(button, getText, { status, select } = {}) {
  const label = button.textContent;
  let timer;
  button.addEventListener('click', async () => {
    const text = getText();
    const ok = await copyText(text, select);
    if (!ok && !select) prompt('Copy this link', text);
    clearTimeout(timer);
    button.textContent = ok ? 'Copied' : 'Copy failed';
    if (status) {
      status.textContent = ok
        ? 'Link copied to the clipboard.'
        : 'Could not copy automatically: copy the link with your keyboard or menu.';
    }
    timer = setTimeout(() => {
      button.textContent = label;
      if (status) status.textContent = '';
    }, 2000);
  });
}
