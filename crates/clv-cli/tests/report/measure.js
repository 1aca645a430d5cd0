// Test only (the report itself has no script): injected into a copy of the report, it measures
// every SVG text element against its chart's box and the page against the window, and writes
// what leaves them into a pre element (id overflow) that `chromium --dump-dom` prints.
(function () {
  const bad = [];
  document.querySelectorAll('svg').forEach((svg, i) => {
    const b = svg.getBoundingClientRect();
    const name = svg.getAttribute('aria-label') || String(i);
    svg.querySelectorAll('text').forEach((t) => {
      const r = t.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return;
      const gaps = [r.left - b.left, b.right - r.right, r.top - b.top, b.bottom - r.bottom];
      if (gaps.some((g) => g < -0.5)) {
        bad.push(name + ': "' + t.textContent + '" leaves the chart by ' + gaps.map((g) => g.toFixed(1)).join(', '));
      }
    });
  });
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) {
    document.querySelectorAll('body *').forEach((e) => {
      const r = e.getBoundingClientRect();
      const parent = e.parentElement ? e.parentElement.getBoundingClientRect().right : 0;
      if (r.right > doc.clientWidth + 1 && parent <= doc.clientWidth + 1) {
        bad.push('page: ' + e.tagName + ' "' + (e.textContent || '').slice(0, 60) + '" ends at ' + r.right.toFixed(0) + ' px of ' + doc.clientWidth);
      }
    });
  }
  const out = document.createElement('pre');
  out.id = 'overflow';
  out.textContent = JSON.stringify({ texts: document.querySelectorAll('svg text').length, overflowing: bad });
  document.body.appendChild(out);
})();
