// A stand-in for a site that embeds <meganet-widget>: a static HTTP server
// on its own port, reached as http://localhost:<port>, so the node at
// http://127.0.0.1:<port> is another site (another origin and another
// storage partition), as for a real embedding.
import { createServer } from 'node:http';

const PAGE = (body, head = '') => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>The Allotment Gazette</title>
  <style>
    body { margin: 0; font: 1rem/1.5 Georgia, serif; color: #222; background: #faf7f0; }
    header { padding: 1rem; background: #2f4a2f; color: #fff; }
    header h1 { margin: 0; font-size: 1.4rem; }
    main { max-width: 60rem; margin: 0 auto; padding: 1rem; display: flex; flex-wrap: wrap; gap: 1.5rem; }
    article { flex: 1 1 24rem; min-width: 0; }
    aside { flex: 0 1 20rem; min-width: 0; display: grid; gap: 1rem; align-content: start; }
    meganet-widget::part(card) { border-color: #2f4a2f; }
  </style>
  ${head}
</head>
<body>
  <header><h1>The Allotment Gazette</h1></header>
  <main>
    <article>
      <h2>Sharing seed catalogues</h2>
      <p>Members swap scanned seed catalogues and planting plans every spring. The files are large, and
         our little server struggles in March.</p>
      <p>This year, visitors can help: the box on this page lets your browser hold encrypted pieces of the
         shared files while you read.</p>
    </article>
    <aside>${body}</aside>
  </main>
</body>
</html>`;

/**
 * Serves the host pages: `/` (one widget), `/twice` (the script included
 * twice and two elements), `/private` (a widget whose peer runs in private
 * mode), `/framed` (the node's app page in a frame, which the node
 * forbids). Resolves to `{url, stop()}`.
 */
export async function startHost(nodeUrl) {
  const src = new URL('/widget.js', nodeUrl).href;
  const tag = `<script src="${src}" async></script>`;
  const pages = {
    '/': PAGE('<meganet-widget></meganet-widget>', tag),
    '/twice': PAGE('<meganet-widget id="first"></meganet-widget><meganet-widget id="second"></meganet-widget>', tag + tag),
    '/private': PAGE('<meganet-widget private></meganet-widget>', tag),
    '/framed': PAGE(`<iframe id="app" title="meganet" src="${new URL('/', nodeUrl).href}"></iframe>`),
  };
  const server = createServer((req, res) => {
    const page = pages[new URL(req.url, 'http://x').pathname];
    res.writeHead(page ? 200 : 404, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(page || 'not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://localhost:${server.address().port}/`,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}
