// The upload card: thin wiring over peer.put. (The fetch card: fetch-card.js.)

import { rememberUpload, renderUploads } from './uploads.js';
import { wireCopyButton } from './clipboard.js';
import { qrSvg } from './qr.js';

const $ = (id) => document.getElementById(id);

export function formatBytes(n) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function rateText(done, started) {
  const secs = (performance.now() - started) / 1000;
  return secs > 0.2 ? ` · ${formatBytes(done / secs)}/s` : '';
}

function showProgress(bar, detail, verb, started) {
  return (p) => {
    bar.hidden = false;
    bar.max = Math.max(p.total, 1);
    bar.value = p.done;
    const total = p.total ? ` of ${formatBytes(p.total)}` : '';
    detail.textContent = p.stage === 'done'
      ? `${verb} ${formatBytes(p.total)}.`
      : `${verb} ${formatBytes(p.done)}${total}${rateText(p.done, started)}…`;
  };
}

export function setUpUpload(peer) {
  renderUploads(undefined, formatBytes);
  const input = $('file');
  const drop = $('drop');
  const upload = async (file) => {
    $('put-error').hidden = true;
    $('put-result').hidden = true;
    const onProgress = showProgress($('put-progress'), $('put-detail'), 'Encrypted and stored', performance.now());
    try {
      const link = await peer.put(file, { onProgress });
      $('put-link').value = link;
      $('put-qr').replaceChildren(qrSvg(link, `QR code of the link to ${file.name}`));
      $('put-result').hidden = false;
      $('put-detail').textContent = `${file.name} (${formatBytes(file.size)}) is stored.`;
      rememberUpload({ name: file.name, size: file.size, link, at: Date.now() });
      renderUploads(undefined, formatBytes);
    } catch (e) {
      $('put-error').textContent = `Could not share ${file.name}: ${e.message || e}`;
      $('put-error').hidden = false;
    }
  };
  input.addEventListener('change', () => { if (input.files[0]) upload(input.files[0]); });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
  });
  wireCopyButton($('put-copy'), () => $('put-link').value, {
    status: $('put-copy-status'),
    select: () => $('put-link').select(),
  });
}
