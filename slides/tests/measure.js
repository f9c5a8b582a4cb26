() => {
  Reveal.configure({transition: 'none', backgroundTransition: 'none'});
  const rgba = (css) => {
    const m = css.match(/rgba?\(([^)]+)\)/);
    if (!m) return [0, 0, 0, 0];
    const v = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
  };
  const luminance = ([r, g, b]) => {
    const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a));
  };
  // The colour behind an element: its own background, or its nearest ancestor's.
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] === 1) break; }
    }
    let colour = [255, 255, 255];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const contrast = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const visible = (r) => r.width > 0 && r.height > 0;
  const intersects = (a, b) =>
    visible(a) && visible(b) && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

  const results = [];
  const slidesEl = document.querySelector('.reveal .slides');
  for (const slide of Reveal.getSlides()) {
    const {h, v} = Reveal.getIndices(slide);
    Reveal.slide(h, v);
    Reveal.layout();
    const frame = slidesEl.getBoundingClientRect();
    const scale = frame.height / slidesEl.offsetHeight;
    const title = (slide.querySelector('h1, h2, h3') || {}).textContent || '';
    const out = {number: results.length + 1, title: title.trim(), problems: [], listings: []};
    // Words of prose on the slide: a paragraph of a hundred belongs in the notes.
    const prose = slide.cloneNode(true);
    prose.querySelectorAll('aside, pre, .code-block-caption, h1, h2, h3, object, svg')
      .forEach((e) => e.remove());
    out.words = prose.textContent.split(/\s+/).filter(Boolean).length;
    for (const el of slide.querySelectorAll('*')) {
      if (el.closest('aside.notes')) continue;
      const r = el.getBoundingClientRect();
      if (!visible(r)) continue;
      if (r.bottom > frame.bottom + 1 || r.right > frame.right + 1) {
        out.problems.push(`<${el.tagName.toLowerCase()}> "${el.textContent.trim().slice(0, 40)}" ` +
          `goes past the slide by ${Math.round(Math.max(r.bottom - frame.bottom, r.right - frame.right))} px`);
        break;
      }
    }
    const badges = [...document.querySelectorAll('.reveal .slide-number, .reveal .controls button')]
      .filter((e) => getComputedStyle(e).display !== 'none' && getComputedStyle(e).visibility !== 'hidden');
    for (const pre of slide.querySelectorAll('pre')) {
      const code = pre.querySelector('code');
      const caption = pre.parentElement.querySelector('.code-block-caption');
      const rows = code.querySelectorAll('tr');
      const lines = rows.length ? [...rows].map((tr) => tr.querySelector('.hljs-ln-code').textContent)
                                : code.textContent.replace(/\n$/, '').split('\n');
      const listing = {
        caption: caption ? caption.textContent.trim() : '',
        lines: lines.length,
        columns: Math.max(...lines.map((l) => l.replace(/\s+$/, '').length)),
        text: lines,
        codePx: parseFloat(getComputedStyle(code).fontSize) * scale,
        captionPx: caption ? parseFloat(getComputedStyle(caption.querySelector('.caption-text') || caption).fontSize) * scale : null,
        worstContrast: Infinity,
        worstToken: '',
      };
      for (const box of [pre, ...pre.querySelectorAll('code')]) {
        if (box.scrollHeight > box.clientHeight + 1 || box.scrollWidth > box.clientWidth + 1)
          out.problems.push(`${listing.caption}: code box cut or scrolled ` +
            `(${box.scrollWidth}x${box.scrollHeight} in ${box.clientWidth}x${box.clientHeight})`);
      }
      for (const badge of badges) {
        if (intersects(badge.getBoundingClientRect(), pre.getBoundingClientRect()))
          out.problems.push(`${listing.caption}: ${badge.className || badge.tagName} over the code`);
      }
      const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
      for (let t = walker.nextNode(); t; t = walker.nextNode()) {
        if (!t.textContent.trim()) continue;
        const el = t.parentElement;
        const px = parseFloat(getComputedStyle(el).fontSize) * scale;
        listing.codePx = Math.min(listing.codePx, px);
        const ratio = contrast(over(rgba(getComputedStyle(el).color), background(el)), background(el));
        if (ratio < listing.worstContrast) {
          listing.worstContrast = ratio;
          listing.worstToken = `${el.className || el.tagName.toLowerCase()} "${t.textContent.trim().slice(0, 20)}" ` +
            `${getComputedStyle(el).color} on ${getComputedStyle(code).backgroundColor}`;
        }
      }
      out.listings.push(listing);
    }
    results.push(out);
  }
  return results;
}
