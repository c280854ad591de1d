/** The playground's HTML: a static skeleton that app.ts fills in, with the bundled CSS inline. */
export function pageHtml(css: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>diffusion playground</title>
<style>${css.replace(/<\/style/gi, '<\\/style')}</style>
</head>
<body>
<header>
  <h1>Masked-diffusion playground</h1>
  <p class="meta"><span id="checkpoint"></span> · backend <b id="backend">loading…</b> · <span id="status">loading the checkpoint…</span></p>
</header>
<section id="prompt-box">
  <div id="grid-editor" hidden></div>
  <div class="prompt-controls">
    <label>prompt <input id="prompt-text" size="40" spellcheck="false"></label>
    <span id="examples" hidden><button type="button" id="prev-example">◀</button> example <output id="example-index"></output> <button type="button" id="next-example">▶</button> <button type="button" id="clear-grid">clear</button></span>
    <label>gen length <input id="gen-length" type="number" min="1" step="1"></label>
    <label>animation <input id="speed" type="range" min="30" max="800" step="10" value="250"> <output id="speed-out">250 ms/step</output></label>
    <button type="button" id="run" disabled>Run both samplers</button>
  </div>
</section>
<div id="panels"></div>
<script src="app.js"></script>
</body>
</html>
`;
}
