() => Reveal.getSlides().map((slide) => {
  const notes = slide.querySelector('aside.notes');
  const text = [];
  for (const e of slide.querySelectorAll('p, li, td')) {
    if (e.closest('aside.notes, pre, object') || e.querySelector('p, li')) continue;
    // A link's text is printed apart from the text around it.
    const bare = e.cloneNode(true);
    bare.querySelectorAll('a').forEach((a) => { text.push(a.textContent); a.remove(); });
    text.push(bare.textContent);
  }
  const lines = [];
  for (const pre of slide.querySelectorAll('pre')) {
    const code = pre.querySelector('code');
    const rows = code.querySelectorAll('tr');
    lines.push(...(rows.length ? [...rows].map((tr) => tr.querySelector('.hljs-ln-code').textContent)
                               : code.textContent.split('\n')));
  }
  return {
    title: (slide.querySelector('h1, h2, h3') || {}).textContent || '',
    text: text,
    lines: lines,
    notes: notes ? notes.textContent : '',
  };
})
